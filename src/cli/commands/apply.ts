/** `sdxl-opt apply <recipe>`: optimize, write, prove; print a summary (or the report as JSON). */
import type { Argv } from 'yargs';
import { applyRecipe, REPORT_MD, type ApplyEvent } from '../../apply/apply.js';
import { bytes, ms } from '../../apply/report-md.js';
import type { ApplyReport, ComponentReport } from '../../apply/report.js';
import type { Command } from '../command.js';
import { StatusLine } from '../progress.js';

export const applyCommand: Command = {
  command: 'apply <recipe>',
  describe: 'run a recipe: optimize the model(s), write them with report.json and report.md, validate and benchmark',
  builder: (y: Argv) =>
    y
      .positional('recipe', { type: 'string', describe: 'the recipe (YAML)', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON on stdout (no progress display)' })
      .option('verbose', { type: 'boolean', default: false, describe: "print each pass's notes on stderr" })
      .epilog('exit codes: 0 ok; 1 parity outside the tolerance; 2 bad input or a failed component'),
  async run(args) {
    const json = args.json === true;
    const verbose = args.verbose === true;
    const status = !json && process.stderr.isTTY ? new StatusLine(process.stderr) : undefined;
    const say = (line: string): void => (status ? status.print(line) : void process.stderr.write(`${line}\n`));
    const display: Display = { status, say, verbose, components: 0 };
    let result;
    try {
      result = await applyRecipe(String(args.recipe), { onEvent: (e) => onEvent(e, display) });
    } finally {
      status?.clear();
    }
    process.stdout.write(json ? `${JSON.stringify(result.report, null, 2)}\n` : summary(result.report, result.outputPath));
    return result.exitCode;
  },
};

interface Display {
  status: StatusLine | undefined;
  /** Components in the run: with more than one, each prints a line as it finishes. */
  components: number;
  say(line: string): void;
  verbose: boolean;
}

function onEvent(e: ApplyEvent, d: Display): void {
  switch (e.kind) {
    case 'warning':
      d.say(`warning: ${e.message}`);
      return;
    case 'component-start':
      d.components = e.total;
      d.status?.set(`[${e.component} ${e.index + 1}/${e.total}] starting`, true);
      return;
    case 'stage':
      d.status?.set(`[${e.component}] ${e.stage === 'read' ? 'reading' : e.stage === 'write' ? 'writing' : e.stage === 'validate' ? 'validating' : e.stage === 'bench' ? 'benchmarking' : 'running passes'}`, true);
      return;
    case 'written':
      d.status?.set(`[${e.component}] writing ${bytes(e.bytes)} of ${bytes(e.total)}`);
      return;
    case 'component-end':
      if (d.status && d.components > 1) {
        d.status.clear();
        d.say(componentLine(e.report));
      }
      return;
    case 'runner': {
      const r = e.event;
      if (r.kind === 'pass-start' && r.depth === 0) d.status?.set(`[${e.component}] pass ${r.index + 1}/${r.total}: ${r.pass}`, true);
      else if (r.kind === 'progress') d.status?.set(`[${e.component}] ${r.pass}: ${r.done}/${r.total} ${r.unit}`);
      else if (r.kind === 'log' && d.verbose) d.say(`[${e.component}] ${r.pass}: ${r.message}`);
      else if (r.kind === 'pass-end' && d.verbose) d.say(`[${e.component}] ${'  '.repeat(r.depth)}${r.report.pass}: ${r.report.summary} (${ms(r.report.wallMs)})`);
      return;
    }
  }
}

function componentLine(c: ComponentReport): string {
  if (c.error) return `${c.name}: failed while ${c.error.stage}: ${c.error.message}${c.error.where ? ` (${c.error.where})` : ''}`;
  const nodes = c.before && c.after ? `, ${c.before.nodes} → ${c.after.nodes} nodes` : '';
  const parity = c.validation ? `, parity ${c.validation.result.passed ? 'ok' : 'OUTSIDE TOLERANCE'}` : '';
  const speed = c.bench ? `, median ${ms(c.bench.before.medianMs)} → ${ms(c.bench.after.medianMs)} (${c.bench.speedup.toFixed(2)}×)` : '';
  return `${c.name}: ${c.passes.filter((p) => !p.skipped).length} passes${nodes}${parity}${speed}`;
}

function summary(r: ApplyReport, outputPath: string): string {
  const lines: string[] = [];
  for (const c of r.components) {
    lines.push(componentLine(c));
    for (const p of c.passes) lines.push(`  ${p.pass}: ${p.skipped ? 'skipped (disabled)' : `${p.summary} (${ms(p.wallMs)})`}`);
    for (const o of c.validation?.result.outputs ?? []) {
      lines.push(`  parity ${o.name}: cosine ${o.cosine.toFixed(6)}, rel L2 ${o.relL2.toExponential(2)}, max abs ${o.maxAbs.toExponential(2)}`);
    }
    for (const f of c.validation?.result.failures ?? []) lines.push(`  parity failure: ${f}`);
  }
  const verdict = r.status === 'ok' ? 'done' : r.status === 'validation-failed' ? 'written, but parity is outside the tolerance' : 'written, with failures';
  lines.push(`${verdict}: ${outputPath} (see ${REPORT_MD})`);
  return `${lines.join('\n')}\n`;
}
