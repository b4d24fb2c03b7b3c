/**
 * The progression table: several optimized forms of one model, each measured against the original in ONE process
 * on one machine, so every figure is a speed-up over the fp32 original measured in the same run (timings on shared
 * GPUs drift between runs and machines; ratios taken in one run do not).
 *
 * The original stays loaded for the whole run. Each candidate is built (recipe passes applied, or a recipe's passes
 * up to one step), written to a work folder, loaded, compared with the original's outputs on the same inputs, and
 * timed in rounds that alternate original and candidate; then it is unloaded and, unless asked to keep it, deleted
 * (the full UNet is 10 GB in fp32: a dozen forms would not fit on the disk at once).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SdxlOptError } from '../errors.js';
import type { ModelTimer } from '../engine/measure.js';
import { runPasses, type PassStep } from '../engine/runner.js';
import { readModel } from '../io/read.js';
import { writeModel } from '../io/write.js';
import type { Model } from '../ir/model.js';
import { compareOutput, DEFAULT_TOLERANCE, type OutputComparison, type Tolerance } from '../runtime/compare.js';
import { DimResolver, dimsInModelNames } from '../runtime/dims.js';
import { DEFAULT_SEED } from '../runtime/inputs.js';
import type { Provider } from '../runtime/ort.js';
import { placementOf, type Placement } from '../runtime/placement.js';
import { prepareModel, type PreparedModel } from '../runtime/prepare.js';
import { modelTimer } from '../runtime/model-timer.js';
import { ModelSession } from '../runtime/session.js';
import { toComparable } from '../runtime/tensor-data.js';
import { kernelsByRun } from '../runtime/trace.js';

/** One form of the model to measure: a name, and the steps that make it from the original. */
export interface Candidate {
  label: string;
  steps: readonly PassStep[];
  dims: Record<string, number>;
  target: 'cuda' | 'cpu';
}

export interface TableOptions {
  provider: Provider;
  dims?: Record<string, number>;
  iters: number;
  warmup: number;
  seed?: number;
  tolerance?: Tolerance;
  /** Where candidates are written; removed afterwards unless `keep`. */
  workDir: string;
  keep?: boolean;
  /** ONNX Runtime's intra-op threads for CPU kernels. */
  threads?: number;
  onProgress?: (message: string) => void;
}

export interface TableRow {
  label: string;
  /** Candidate timings, ms. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** The original's median over the rounds paired with this candidate. */
  originalMedianMs: number;
  /** originalMedianMs / medianMs. */
  speedup: number;
  outputs: OutputComparison[];
  placement?: Placement;
  loadMs: number;
  buildMs: number;
  nodes: number;
  bytes: number;
  passed: boolean;
  failures: string[];
  error?: string;
}

export interface TableReport {
  model: string;
  provider: Provider;
  dims: Record<string, number>;
  iters: number;
  warmup: number;
  /** The original alone, over every round of the run: how much it drifted. */
  original: { medianMs: number; minMs: number; maxMs: number; loadMs: number; placement?: Placement };
  rows: TableRow[];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function compareCandidates(modelFile: string, candidates: readonly Candidate[], opts: TableOptions): Promise<TableReport> {
  const say = opts.onProgress ?? (() => {});
  const seed = opts.seed ?? DEFAULT_SEED;
  const tolerance = { ...DEFAULT_TOLERANCE, ...opts.tolerance };
  const dimResolver = new DimResolver(opts.dims);
  const original = await prepareModel(modelFile, dimResolver, seed);
  await fsp.mkdir(opts.workDir, { recursive: true });

  say(`loading the original ${modelFile} on ${opts.provider}`);
  const ref = await ModelSession.open(modelFile, { provider: opts.provider, threads: opts.threads, profile: true });
  const allOriginalTimes: number[] = [];
  const rows: TableRow[] = [];
  let refPlacement: Placement | undefined;
  try {
    const first = await ref.run(original.inputs);
    refPlacement = placementFrom(await ref.stopProfiling(), opts.provider);
    const reference = new Map(first.outputs.map((o) => [o.name, { dims: o.dims, values: toComparable(o.type, o.data) }]));
    for (let w = 1; w < opts.warmup; w++) await ref.run(original.inputs);

    for (const candidate of candidates) {
      say(`building ${candidate.label}`);
      const dir = path.join(opts.workDir, slug(candidate.label));
      try {
        const built = await buildCandidate(modelFile, candidate, dir, modelTimer({ provider: opts.provider, threads: opts.threads }));
        say(`measuring ${candidate.label}`);
        const row = await measure(candidate.label, built, original, ref, reference, tolerance, opts, allOriginalTimes);
        rows.push(row);
        say(`${candidate.label}: ${row.medianMs.toFixed(1)} ms vs ${row.originalMedianMs.toFixed(1)} ms (${row.speedup.toFixed(2)}×)`);
      } catch (e) {
        const message = e instanceof SdxlOptError ? e.oneLine() : e instanceof Error ? e.message : String(e);
        say(`${candidate.label}: ${message}`);
        rows.push(failedRow(candidate.label, message));
      } finally {
        if (!opts.keep) await fsp.rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await ref.close();
  }
  const sorted = [...allOriginalTimes].sort((a, b) => a - b);
  return {
    model: modelFile,
    provider: opts.provider,
    dims: { ...dimResolver.used },
    iters: opts.iters,
    warmup: opts.warmup,
    original: {
      medianMs: sorted.length ? median(sorted) : NaN,
      minMs: sorted[0] ?? NaN,
      maxMs: sorted[sorted.length - 1] ?? NaN,
      loadMs: ref.loadMs,
      ...(refPlacement ? { placement: refPlacement } : {}),
    },
    rows,
  };
}

interface Built {
  file: string;
  buildMs: number;
  nodes: number;
  bytes: number;
}

async function buildCandidate(modelFile: string, candidate: Candidate, dir: string, measure: ModelTimer): Promise<Built> {
  const started = performance.now();
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  const model: Model = await readModel(modelFile, { requireData: true });
  // Passes that choose by timing (dynamic-int8's filter: auto) time on the provider the table measures on.
  const names = model.graph.inputs.flatMap((v) => (v.shape ?? []).filter((d): d is string => typeof d === 'string'));
  await runPasses(model, candidate.steps, { dims: dimsInModelNames(candidate.dims, names), target: candidate.target, measure });
  const file = path.join(dir, 'model.onnx');
  const written = await writeModel(model, file);
  return { file, buildMs: performance.now() - started, nodes: model.graph.nodeCount, bytes: written.modelBytes + written.dataBytes };
}

async function measure(
  label: string,
  built: Built,
  original: PreparedModel,
  ref: ModelSession,
  reference: Map<string, { dims: number[]; values: ArrayLike<number> }>,
  tolerance: Tolerance,
  opts: TableOptions,
  allOriginalTimes: number[],
): Promise<TableRow> {
  const candidate = await prepareModel(built.file, new DimResolver(opts.dims), opts.seed ?? DEFAULT_SEED);
  const session = await ModelSession.open(built.file, { provider: opts.provider, threads: opts.threads, profile: true });
  try {
    const first = await session.run(candidate.inputs);
    const placement = placementFrom(await session.stopProfiling(), opts.provider);
    const outputs: OutputComparison[] = [];
    const failures: string[] = [];
    for (const o of first.outputs) {
      const r = reference.get(o.name);
      if (!r) {
        failures.push(`${o.name}: not an output of the original`);
        continue;
      }
      const c = compareOutput(o.name, r, { dtype: o.type, dims: o.dims, values: toComparable(o.type, o.data) }, tolerance);
      outputs.push(c);
      failures.push(...c.failures);
    }
    if (opts.provider !== 'cpu' && placement?.cpuComputeNodes.length) {
      failures.push(`placement: ${placement.cpuComputeNodes.length} compute nodes ran on the CPU`);
    }
    for (let w = 1; w < opts.warmup; w++) await session.run(candidate.inputs);
    const times: number[] = [];
    const originalTimes: number[] = [];
    for (let round = 0; round < opts.iters; round++) {
      // Alternate which goes first, so neither always runs on a GPU just warmed (or just cooled) by the other.
      if (round % 2 === 0) {
        originalTimes.push((await ref.run(original.inputs)).ms);
        times.push((await session.run(candidate.inputs)).ms);
      } else {
        times.push((await session.run(candidate.inputs)).ms);
        originalTimes.push((await ref.run(original.inputs)).ms);
      }
    }
    allOriginalTimes.push(...originalTimes);
    const sorted = [...times].sort((a, b) => a - b);
    const medianMs = median(times);
    const originalMedianMs = median(originalTimes);
    return {
      label,
      medianMs,
      minMs: sorted[0]!,
      maxMs: sorted[sorted.length - 1]!,
      originalMedianMs,
      speedup: originalMedianMs / medianMs,
      outputs,
      ...(placement ? { placement } : {}),
      loadMs: session.loadMs,
      buildMs: built.buildMs,
      nodes: built.nodes,
      bytes: built.bytes,
      passed: failures.length === 0,
      failures,
    };
  } finally {
    await session.close();
  }
}

function placementFrom(trace: Awaited<ReturnType<ModelSession['stopProfiling']>>, provider: Provider): Placement | undefined {
  const run = trace ? kernelsByRun(trace)[0] : undefined;
  return run ? placementOf(run, provider) : undefined;
}

function failedRow(label: string, error: string): TableRow {
  return {
    label,
    medianMs: NaN,
    minMs: NaN,
    maxMs: NaN,
    originalMedianMs: NaN,
    speedup: NaN,
    outputs: [],
    loadMs: NaN,
    buildMs: NaN,
    nodes: 0,
    bytes: 0,
    passed: false,
    failures: [error],
    error,
  };
}

function slug(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'candidate';
}

/** Whether a work folder is safe to create and later delete: it must not exist yet, or be empty. */
export function checkWorkDir(dir: string): void {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    throw new SdxlOptError('UNSAFE_PATH', `work folder '${dir}' exists and is not empty`, {
      hint: 'name a new or empty folder with --work-dir; candidates written there are deleted afterwards',
    });
  }
}
