/**
 * Parity of a candidate model against a reference: the same seeded inputs through both, one session at a time
 * (the full UNet is 10 GB: two at once may not fit), every output compared, and, on CUDA, a check that the
 * candidate does no real work on the CPU.
 */
import { SdxlOptError } from '../errors.js';
import { compareOutput, DEFAULT_TOLERANCE, type OutputComparison, type Tolerance } from './compare.js';
import { DimResolver } from './dims.js';
import { DEFAULT_SEED, type GeneratedInput } from './inputs.js';
import type { Provider } from './ort.js';
import { placementOf, type Placement } from './placement.js';
import { prepareModel, type PreparedModel } from './prepare.js';
import { ModelSession } from './session.js';
import { toComparable } from './tensor-data.js';
import { kernelsByRun } from './trace.js';

export interface ValidateOptions {
  provider: Provider;
  dims?: Record<string, number>;
  seed?: number;
  tolerance?: Tolerance;
  /** ORT's disable_cpu_ep_fallback: a candidate or reference with a node the provider cannot run fails to load. */
  strict?: boolean;
  deviceId?: number;
  /** ORT's intra-op threads; default one per core. */
  threads?: number;
}

export interface ValidationReport {
  passed: boolean;
  provider: Provider;
  reference: string;
  candidate: string;
  /** The named dims the inputs used, and their sizes. */
  dims: Record<string, number>;
  seed: number;
  tolerance: Tolerance;
  outputs: OutputComparison[];
  placement: { reference?: Placement; candidate: Placement };
  failures: string[];
  /** Wall time of the one (profiled, first) run of each model: a sanity figure, not a benchmark. */
  referenceMs?: number;
  candidateMs?: number;
}

interface SingleRun {
  outputs: Map<string, { dtype: string; dims: number[]; values: ArrayLike<number> }>;
  placement: Placement;
  ms: number;
}

export async function validateModels(reference: string, candidate: string, opts: ValidateOptions): Promise<ValidationReport> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const tolerance: Tolerance = { ...DEFAULT_TOLERANCE, ...opts.tolerance };
  const dims = new DimResolver(opts.dims);
  const ref = await prepareModel(reference, dims, seed);
  const cand = await prepareModel(candidate, dims, seed);
  checkSameInputs(ref, cand);
  const unused = dims.unusedGiven();
  if (unused.length) {
    throw new SdxlOptError('BAD_PARAM', `--dims names ${unused.map((d) => `'${d}'`).join(', ')}, which no input of either model has`, {
      hint: `the models' dims are: ${Object.keys(dims.used).join(', ') || '(all static)'}`,
    });
  }

  const refRun = await runOnce(ref, opts);
  const candRun = await runOnce(cand, opts);

  const failures: string[] = [];
  const outputs: OutputComparison[] = [];
  for (const name of ref.outputNames) {
    const r = refRun.outputs.get(name)!;
    const c = candRun.outputs.get(name);
    if (!c) {
      failures.push(`${name}: the candidate has no output of this name (its outputs: ${cand.outputNames.join(', ')})`);
      continue;
    }
    const comparison = compareOutput(name, r, c, tolerance);
    outputs.push(comparison);
    failures.push(...comparison.failures);
  }
  const cpuCompute = candRun.placement.cpuComputeNodes;
  if (opts.provider !== 'cpu' && cpuCompute.length) {
    const ops = Object.entries(candRun.placement.cpuComputeOps).map(([op, n]) => `${op} ×${n}`).join(', ');
    failures.push(`placement: ${cpuCompute.length} compute nodes of the candidate ran on the CPU (${ops}), e.g. ${cpuCompute.slice(0, 3).join(', ')}`);
  }
  return {
    passed: failures.length === 0,
    provider: opts.provider,
    reference,
    candidate,
    dims: { ...dims.used },
    seed,
    tolerance,
    outputs,
    placement: { reference: refRun.placement, candidate: candRun.placement },
    failures,
    referenceMs: refRun.ms,
    candidateMs: candRun.ms,
  };
}

/** The candidate must take the same inputs at the same sizes (their dtypes may differ: fp16 I/O is allowed). */
function checkSameInputs(ref: PreparedModel, cand: PreparedModel): void {
  const refByName = new Map(ref.inputs.map((i) => [i.name, i]));
  const candByName = new Map(cand.inputs.map((i) => [i.name, i]));
  for (const name of refByName.keys()) {
    if (!candByName.has(name)) {
      throw new SdxlOptError('BAD_MODEL', `the candidate has no input '${name}', which the reference takes`, { where: cand.file });
    }
  }
  for (const [name, c] of candByName) {
    const r: GeneratedInput | undefined = refByName.get(name);
    if (!r) throw new SdxlOptError('BAD_MODEL', `the candidate takes an input '${name}' that the reference does not`, { where: cand.file });
    if (r.dims.join(',') !== c.dims.join(',')) {
      throw new SdxlOptError('BAD_PARAM', `input '${name}' is [${c.dims.join(', ')}] in the candidate but [${r.dims.join(', ')}] in the reference`, {
        where: cand.file,
        hint: `one model has static sizes: pass ${dimsToMatch(ref, cand, name, r.dims, c.dims)}`,
      });
    }
  }
}

/** The --dims that give the symbolic side the other side's static sizes, e.g. "--dims height=16,width=16". */
function dimsToMatch(ref: PreparedModel, cand: PreparedModel, input: string, refDims: number[], candDims: number[]): string {
  const pairs: string[] = [];
  const refShape = ref.declared.get(input) ?? [];
  const candShape = cand.declared.get(input) ?? [];
  refDims.forEach((size, axis) => {
    if (size === candDims[axis]) return;
    const r = refShape[axis];
    const c = candShape[axis];
    if (typeof r === 'string' && typeof c === 'number') pairs.push(`${r}=${c}`);
    else if (typeof c === 'string' && typeof r === 'number') pairs.push(`${c}=${r}`);
  });
  return pairs.length ? `--dims ${pairs.join(',')}` : '--dims so that both get the same sizes';
}

async function runOnce(model: PreparedModel, opts: ValidateOptions): Promise<SingleRun> {
  const session = await ModelSession.open(model.file, { provider: opts.provider, strict: opts.strict, deviceId: opts.deviceId, threads: opts.threads, profile: true });
  try {
    const { outputs, ms } = await session.run(model.inputs);
    const trace = await session.stopProfiling();
    const kernels = trace ? (kernelsByRun(trace)[0] ?? []) : [];
    return {
      outputs: new Map(outputs.map((o) => [o.name, { dtype: o.type, dims: o.dims, values: toComparable(o.type, o.data) }])),
      placement: placementOf(kernels, opts.provider),
      ms,
    };
  } finally {
    await session.close();
  }
}
