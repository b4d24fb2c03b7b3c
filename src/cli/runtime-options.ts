/** Options shared by the commands that run models (validate, bench): provider, dims, seed, strict mode. */
import type { Argv } from 'yargs';
import { SdxlOptError } from '../errors.js';
import { defaultProvider, parseDims, SDXL_DEFAULT_DIMS, type Provider } from '../runtime/index.js';

export function withRuntimeOptions<T>(y: Argv<T>): Argv<T> {
  const defaults = Object.entries(SDXL_DEFAULT_DIMS)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return y
    .option('provider', { choices: ['cpu', 'cuda'] as const, describe: 'execution provider (default: cuda when it loads, else cpu)' })
    .option('dims', { type: 'string', describe: `sizes of named dims, k=v,... (defaults ${defaults}; h/w mean height/width)` })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the generated inputs' })
    .option('strict', { type: 'boolean', default: false, describe: 'CUDA only: fail to load when any node would run on the CPU' })
    .option('threads', { type: 'number', describe: "ONNX Runtime's intra-op threads for CPU kernels (default: one per core)" })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }) as unknown as Argv<T>;
}

export interface RuntimeArgs {
  provider: Provider;
  /** Why this provider, when the user did not choose it. */
  providerNote?: string;
  dims: Record<string, number>;
  seed: number;
  strict: boolean;
  threads?: number;
  json: boolean;
}

export function runtimeArgs(args: Record<string, unknown>): RuntimeArgs {
  const seed = args.seed as number;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new SdxlOptError('BAD_PARAM', `--seed must be a non-negative integer, got ${String(args.seed)}`);
  const dims = typeof args.dims === 'string' ? parseDims(args.dims) : {};
  const threads = args.threads === undefined ? undefined : countArg(args, 'threads', 1);
  const common = { dims, seed, strict: Boolean(args.strict), threads, json: Boolean(args.json) };
  if (args.provider === 'cpu' || args.provider === 'cuda') return { ...common, provider: args.provider };
  const chosen = defaultProvider();
  return { ...common, provider: chosen.provider, providerNote: `provider: ${chosen.provider} (default: ${chosen.reason})` };
}

/** A positive count option (--iters, --warmup). */
export function countArg(args: Record<string, unknown>, name: string, minimum: number): number {
  const v = args[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < minimum) {
    throw new SdxlOptError('BAD_PARAM', `--${name} must be an integer of at least ${minimum}, got ${String(v)}`);
  }
  return v;
}
