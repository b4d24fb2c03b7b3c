/**
 * Apply benchmark (not a test): the fastest recipe, every pass, on the full-size SDXL UNet (10.27 GB of float32
 * weights, 13,741 nodes), without validation or benchmark, run as `sdxl-opt apply` in a child process. Prints wall
 * time, peak RSS, bytes read and written with their rates, and the per-pass table from the report.
 *
 *   npm run bench:apply [-- --dir /tmp/sdxl-opt-bench] [-- --keep] [-- --recipe recipes/sdxl-unet-fastest.yaml]
 *
 * The model is synthesized into <dir>/full when missing (as `npm run bench:io` does) and reused after. The recipe
 * is copied to <dir>/apply-bench.yaml with its model and output pointing into <dir> and its validate/bench removed.
 * The output (<dir>/apply-out) is removed at the end unless --keep is given. Where /usr/bin/time exists the child
 * runs under `/usr/bin/time -v`, whose figures (and disk blocks read: how much of the input came from the page
 * cache) are printed too.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import type { ApplyReport } from '../../src/apply/report.js';
import type { StepReport } from '../../src/engine/runner.js';
import { readModel } from '../../src/io/read.js';
import { synthesizeWeights, SYNTH_MODEL_NAME } from '../../src/synth.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const GB = 1e9;
const MiB = 2 ** 20;
const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/sdxl-opt-bench' },
    keep: { type: 'boolean', default: false },
    recipe: { type: 'string', default: path.join(ROOT, 'recipes/sdxl-unet-fastest.yaml') },
  },
});
const dir = path.resolve(values.dir!);
const modelDir = path.join(dir, 'full');
const modelFile = path.join(modelDir, SYNTH_MODEL_NAME);
const output = path.join(dir, 'apply-out');
const recipeCopy = path.join(dir, 'apply-bench.yaml');
const graphOnly = path.join(ROOT, 'fixtures/sdxl-unet-full-graph-only.onnx');
const line = (s: string) => process.stdout.write(`${s}\n`);

async function modelIsComplete(): Promise<boolean> {
  if (!fs.existsSync(modelFile) || !fs.readFileSync(modelFile).equals(fs.readFileSync(graphOnly))) return false;
  try {
    await readModel(modelFile, { requireData: true });
    return true;
  } catch {
    return false;
  }
}

line(`node ${process.version}, ${os.cpus().length} CPUs (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, folder ${dir}`);
if (await modelIsComplete()) {
  line(`model: reusing ${modelFile}`);
} else {
  fs.rmSync(modelDir, { recursive: true, force: true });
  const t0 = performance.now();
  const result = await synthesizeWeights(graphOnly, modelDir);
  line(`model: synthesized ${result.tensors} tensors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const recipe = parse(fs.readFileSync(values.recipe!, 'utf8')) as Record<string, unknown>;
delete recipe.validate;
delete recipe.bench;
recipe.model = modelFile;
recipe.output = output;
fs.writeFileSync(recipeCopy, `# Written by tests/bench/apply-bench.ts from ${values.recipe}\n${stringify(recipe)}`);

const cli = path.join(ROOT, 'dist/src/cli/main.js');
const timeTool = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const command = timeTool ? [timeTool, '-v', process.execPath, cli, 'apply', recipeCopy] : [process.execPath, cli, 'apply', recipeCopy];
line(`run: ${command.join(' ')}`);
const t0 = performance.now();
const child = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', maxBuffer: 64 * MiB });
const wallS = (performance.now() - t0) / 1000;
if (child.status !== 0) {
  process.stderr.write(child.stdout + child.stderr);
  throw new Error(`apply exited with ${child.status ?? child.signal}`);
}

const report = JSON.parse(fs.readFileSync(path.join(output, 'report.json'), 'utf8')) as ApplyReport;
const component = report.components[0]!;
const readBytes = component.input.bytes;
const writtenBytes = (component.output?.modelBytes ?? 0) + (component.output?.dataBytes ?? 0);
const time = timeTool ? timeFigures(child.stderr) : undefined;

line('');
line(`wall ${wallS.toFixed(1)} s (child process, start to exit); apply's own total ${(report.wallMs / 1000).toFixed(1)} s`);
line(`peak RSS ${(report.peakRssBytes / MiB).toFixed(0)} MiB (the child's process.resourceUsage().maxRSS)${time ? `; /usr/bin/time: ${(time.maxRssKb / 1024).toFixed(0)} MiB` : ''}`);
if (time) line(`CPU: user ${time.user} s, system ${time.system} s; disk blocks read ${time.blocksIn} (${((time.blocksIn * 512) / GB).toFixed(2)} GB from disk, the rest from the page cache), written ${time.blocksOut}`);
line(`read ${(readBytes / GB).toFixed(2)} GB, wrote ${(writtenBytes / GB).toFixed(2)} GB: ${((readBytes + writtenBytes) / GB / wallS).toFixed(2)} GB/s moved over the wall time`);
const t = component.timings;
line(`stages: read ${seconds(t.read)}, passes ${seconds(t.passes)}, write ${seconds(t.write)} (${(writtenBytes / GB / ((t.write ?? 1) / 1000)).toFixed(2)} GB/s written)`);
line('');
line(table(component.passes, component));
if (!values.keep) fs.rmSync(output, { recursive: true, force: true });

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`;
}

function timeFigures(stderr: string): { maxRssKb: number; user: string; system: string; blocksIn: number; blocksOut: number } {
  const field = (label: string) => new RegExp(`${label}: (\\S+)`).exec(stderr)?.[1] ?? '?';
  return {
    maxRssKb: Number(field('Maximum resident set size \\(kbytes\\)')),
    user: field('User time \\(seconds\\)'),
    system: field('System time \\(seconds\\)'),
    blocksIn: Number(field('File system inputs')),
    blocksOut: Number(field('File system outputs')),
  };
}

function table(steps: readonly StepReport[], c: ApplyReport['components'][number]): string {
  const rows: string[][] = [['#', 'pass', 'time', 'check', 'peak RSS', 'RSS after', 'nodes']];
  const mib = (b: number | undefined) => (b === undefined ? '' : `${(b / MiB).toFixed(0)} MiB`);
  const stage = (name: 'read' | 'write') => rows.push(['·', name, seconds(c.timings[name]), '', mib(c.memory?.[name]?.peakRssBytes), mib(c.memory?.[name]?.rssAfterBytes), '']);
  stage('read');
  const add = (s: StepReport, label: string) => {
    rows.push([label, s.pass, `${s.wallMs.toFixed(0)} ms`, `${s.checkMs.toFixed(0)} ms`, mib(s.peakRssBytes), mib(s.rssAfterBytes), `${s.nodes.before} → ${s.nodes.after}`]);
    s.steps?.forEach((sub, i) => add(sub, `${label}.${i + 1}`));
  };
  steps.forEach((s, i) => add(s, String(i + 1)));
  stage('write');
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 1 || i === 6 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}
