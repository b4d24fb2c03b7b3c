/**
 * Timing models on ONNX Runtime. Several models are timed in one process, interleaved: every round runs each model
 * once, starting with a different model each round, so drift (clocks, heat, other load) falls on all of them
 * alike and a comparison is one command. Each session's first warm-up run is profiled for placement; with
 * `profile`, the profiler stays on through the timed runs and its trace is summarized.
 */
import { SdxlOptError } from '../errors.js';
import { DimResolver } from './dims.js';
import { DEFAULT_SEED } from './inputs.js';
import type { Provider } from './ort.js';
import { placementOf, type Placement } from './placement.js';
import { prepareModel, type PreparedModel } from './prepare.js';
import { summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { ModelSession } from './session.js';
import { kernelsByRun, type ProfileTrace } from './trace.js';

export interface BenchOptions {
  provider: Provider;
  dims?: Record<string, number>;
  /** Timed runs per model. Default 20. */
  iters?: number;
  /** Untimed runs per model before timing. Default 3. */
  warmup?: number;
  /** Keep ORT's profiler on through the timed runs and summarize where the time goes. */
  profile?: boolean;
  seed?: number;
  strict?: boolean;
  deviceId?: number;
  /** ORT's intra-op threads; default one per core. */
  threads?: number;
  /** Load every model at once and interleave rounds (default). False: one model at a time, for models too big to hold together. */
  interleave?: boolean;
}

export interface BenchReport {
  model: string;
  provider: Provider;
  dims: Record<string, number>;
  loadMs: number;
  warmup: number;
  iters: number;
  medianMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  timesMs: number[];
  /** From the first warm-up run (absent with warmup 0 and no profile). */
  placement?: Placement;
}

export type BenchResult = BenchReport & { profile?: ProfileSummary };

export const DEFAULT_ITERS = 20;
export const DEFAULT_WARMUP = 3;

export async function benchModel(model: string, opts: BenchOptions): Promise<BenchResult> {
  return (await benchModels([model], opts))[0]!;
}

export async function benchModels(models: readonly string[], opts: BenchOptions): Promise<BenchResult[]> {
  const iters = opts.iters ?? DEFAULT_ITERS;
  const warmup = opts.warmup ?? DEFAULT_WARMUP;
  if (!Number.isSafeInteger(iters) || iters < 1) throw new SdxlOptError('BAD_PARAM', `iters must be a positive integer, got ${iters}`);
  if (!Number.isSafeInteger(warmup) || warmup < 0) throw new SdxlOptError('BAD_PARAM', `warmup must be a non-negative integer, got ${warmup}`);
  if (models.length === 0) throw new SdxlOptError('BAD_PARAM', 'name at least one model to benchmark');

  const dims = new DimResolver(opts.dims);
  const prepared: PreparedModel[] = [];
  for (const m of models) prepared.push(await prepareModel(m, dims, opts.seed ?? DEFAULT_SEED));
  const unused = dims.unusedGiven();
  if (unused.length) {
    throw new SdxlOptError('BAD_PARAM', `--dims names ${unused.map((d) => `'${d}'`).join(', ')}, which no input of these models has`, {
      hint: `their dims are: ${Object.keys(dims.used).join(', ') || '(all static)'}`,
    });
  }
  const settings = { ...opts, iters, warmup };
  if (opts.interleave === false) {
    const results: BenchResult[] = [];
    for (const p of prepared) results.push(...(await benchGroup([p], settings, dims.used)));
    return results;
  }
  return benchGroup(prepared, settings, dims.used);
}

interface Timing {
  session: ModelSession;
  times: number[];
  placement?: Placement;
  trace?: ProfileTrace;
}

async function benchGroup(models: PreparedModel[], opts: BenchOptions & { iters: number; warmup: number }, dims: Record<string, number>): Promise<BenchResult[]> {
  const timings: Timing[] = [];
  try {
    for (const m of models) {
      const session = await ModelSession.open(m.file, { provider: opts.provider, strict: opts.strict, deviceId: opts.deviceId, threads: opts.threads, profile: true });
      timings.push({ session, times: [] });
    }
    // Without --profile only the first warm-up run is traced (placement); with warmup 0 nothing is.
    if (!opts.profile && opts.warmup === 0) for (const t of timings) await t.session.stopProfiling();
    for (let w = 0; w < opts.warmup; w++) {
      for (const [i, t] of timings.entries()) {
        await t.session.run(models[i]!.inputs);
        if (w === 0 && !opts.profile) t.placement = placementFrom(await t.session.stopProfiling(), opts.provider);
      }
    }
    for (let round = 0; round < opts.iters; round++) {
      for (let k = 0; k < timings.length; k++) {
        const i = (round + k) % timings.length;
        const t = timings[i]!;
        t.times.push((await t.session.run(models[i]!.inputs)).ms);
      }
    }
    if (opts.profile) for (const t of timings) t.trace = await t.session.stopProfiling();
    return timings.map((t, i) => report(models[i]!.file, t, opts, dims));
  } finally {
    for (const t of timings) await t.session.close();
  }
}

function placementFrom(trace: ProfileTrace | undefined, provider: Provider): Placement | undefined {
  const first = trace ? kernelsByRun(trace)[0] : undefined;
  return first ? placementOf(first, provider) : undefined;
}

function report(model: string, t: Timing, opts: BenchOptions & { iters: number; warmup: number }, dims: Record<string, number>): BenchResult {
  const sorted = [...t.times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const result: BenchResult = {
    model,
    provider: opts.provider,
    dims: { ...dims },
    loadMs: t.session.loadMs,
    warmup: opts.warmup,
    iters: opts.iters,
    medianMs: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2,
    meanMs: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    minMs: sorted[0]!,
    maxMs: sorted[sorted.length - 1]!,
    timesMs: t.times,
  };
  if (t.placement) result.placement = t.placement;
  if (t.trace) {
    const byRun = kernelsByRun(t.trace);
    const placement = byRun[0] ? placementOf(byRun[0], opts.provider) : undefined;
    if (placement) result.placement = placement;
    const timed = t.trace.runs.slice(opts.warmup);
    const runMs = timed.reduce((s, r) => s + r.dur, 0) / 1000 / Math.max(timed.length, 1);
    result.profile = summarizeProfile(byRun.slice(opts.warmup), runMs);
  }
  return result;
}
