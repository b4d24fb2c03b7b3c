/**
 * `npm run fuzz -- --count N --seed S [--timeout-ms 2000] [--target reader|all] [--out DIR] [--workers 2]`
 * `npm run fuzz -- --replay DIR/model.onnx [--target reader]`
 *
 * Feeds mutated models to the reader and checks that each one either reads or fails with an SdxlOptError. The last
 * line is `N inputs, C crashes, H hangs`; the exit status is 1 when C or H is not 0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { replay, runFuzz } from './pool.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '2000' },
    target: { type: 'string', default: 'reader' },
    out: { type: 'string' },
    workers: { type: 'string', default: '2' },
    'memory-mb': { type: 'string', default: '1024' },
    replay: { type: 'string' },
  },
  strict: true,
});

function int(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min}, got '${text}'`);
    process.exit(2);
  }
  return n;
}

const timeoutMs = int('timeout-ms', values['timeout-ms'], 1);
const memoryMb = int('memory-mb', values['memory-mb'], 16);

if (values.replay) {
  const r = await replay(values.replay, { target: values.target!, timeoutMs, memoryMb });
  console.log(`${r.kind} after ${Math.round(r.ms)} ms: ${r.text}`);
  process.exitCode = r.kind === 'crash' || r.kind === 'hang' ? 1 : 0;
} else {
  const count = int('count', values.count, 0);
  const out = values.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-fuzz-findings-'));
  // A default folder left empty (nothing found) is removed at exit rather than left in the temp dir.
  if (!values.out) process.on('exit', () => fs.readdirSync(out).length === 0 && fs.rmdirSync(out));
  const report = await runFuzz({
    count,
    seed: int('seed', values.seed, 0),
    timeoutMs,
    target: values.target!,
    out,
    workers: int('workers', values.workers, 1),
    memoryMb,
    log: (line) => console.log(line),
  });
  const outcomes = [...report.outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
  console.log(`outcomes: ${outcomes.join(', ')}`);
  if (report.unplaced.length) {
    console.log(`${report.unplaced.length} errors name no place, e.g. #${report.unplaced[0]!.index}: ${report.unplaced[0]!.line}`);
  }
  console.log(`slowest: ${report.slowest.map((s) => `#${s.index} ${Math.round(s.ms)} ms`).join(', ')}`);
  console.log(`wall time ${(report.wallMs / 1000).toFixed(1)} s`);
  console.log(`${report.inputs} inputs, ${report.crashes.length} crashes, ${report.hangs.length} hangs`);
  process.exitCode = report.crashes.length || report.hangs.length ? 1 : 0;
}
