/** `sdxl-opt bench <model...>`: median latency of each model, back to back in one process, with speed-up over the first. */
import { benchModels, describePlacement, DEFAULT_ITERS, DEFAULT_WARMUP, type BenchResult, type ProfileSummary } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { countArg, runtimeArgs, withRuntimeOptions } from '../runtime-options.js';
import { fixed, formatTable, percent } from '../table.js';

const TOP_ROWS = 15;

export const benchCommand: Command = {
  command: 'bench <models..>',
  describe: 'time models on ONNX Runtime (several: interleaved in one process, speed-up over the first)',
  builder: (y) =>
    withRuntimeOptions(y)
      .positional('models', { type: 'string', array: true, describe: 'models to time (.onnx); the first is the baseline' })
      .option('iters', { type: 'number', default: DEFAULT_ITERS, describe: 'timed runs per model' })
      .option('warmup', { type: 'number', default: DEFAULT_WARMUP, describe: 'untimed runs per model first' })
      .option('profile', { type: 'boolean', default: false, describe: "summarize ORT's profiler over the timed runs (adds overhead to the times)" })
      .option('interleave', { type: 'boolean', default: true, describe: 'hold all models at once and alternate them (--no-interleave: one at a time)' }),
  async run(args) {
    const options = runtimeArgs(args);
    if (options.providerNote && !options.json) process.stderr.write(`${options.providerNote}\n`);
    const results = await benchModels((args.models as unknown[]).map(String), {
      provider: options.provider,
      dims: options.dims,
      seed: options.seed,
      strict: options.strict,
      threads: options.threads,
      iters: countArg(args, 'iters', 1),
      warmup: countArg(args, 'warmup', 0),
      profile: Boolean(args.profile),
      interleave: Boolean(args.interleave),
    });
    process.stdout.write(options.json ? `${JSON.stringify(results, null, 2)}\n` : formatBench(results, Boolean(args.interleave)));
    return 0;
  },
};

export function formatBench(results: readonly BenchResult[], interleaved: boolean): string {
  const first = results[0]!;
  const dims = Object.entries(first.dims).map(([k, v]) => `${k}=${v}`).join(' ') || '(static)';
  const order = results.length > 1 ? (interleaved ? ', models interleaved' : ', one model at a time') : '';
  const rows = results.map((r) => [
    r.model,
    fixed(r.loadMs, 0),
    fixed(r.medianMs),
    fixed(r.minMs),
    fixed(r.maxMs),
    `${(first.medianMs / r.medianMs).toFixed(2)}×`,
  ]);
  const lines = [
    `provider: ${first.provider}; dims: ${dims}; ${first.iters} timed runs after ${first.warmup} warm-up${order}`,
    '',
    formatTable(['model', 'load ms', 'median ms', 'min ms', 'max ms', 'speed-up'], rows, ['left', 'right', 'right', 'right', 'right', 'right']),
    '',
  ];
  for (const r of results) {
    if (r.placement) lines.push(`placement, ${r.model}: ${describePlacement(r.placement)}`);
  }
  for (const r of results) if (r.profile) lines.push('', ...formatProfile(r.model, r.profile, r.provider));
  return `${lines.join('\n')}\n`;
}

function formatProfile(model: string, p: ProfileSummary, provider: string): string[] {
  const ops = p.byOpType
    .slice(0, TOP_ROWS)
    .map((o) => [o.opType, o.provider.replace('ExecutionProvider', ''), String(o.nodes), fixed(o.msPerRun, 3), percent(o.share)]);
  const nodes = p.byNode.slice(0, TOP_ROWS).map((n) => [n.node, n.opType, n.provider.replace('ExecutionProvider', ''), fixed(n.msPerRun, 3), percent(n.share)]);
  const out = [
    `profile of ${model}: ${p.runs} runs, ${fixed(p.runMs)} ms per run (profiled), ${fixed(p.kernelMs)} ms in kernels`,
    '',
    formatTable(['op type', 'provider', 'nodes', 'ms/run', 'share'], ops, ['left', 'left', 'right', 'right', 'right']),
    '',
    formatTable(['node', 'op type', 'provider', 'ms/run', 'share'], nodes, ['left', 'left', 'left', 'right', 'right']),
  ];
  if (provider === 'cuda') {
    out.push('', 'note: on CUDA, ORT times the host side of each kernel call (launches are asynchronous); compare medians for speed.');
  }
  return out;
}
