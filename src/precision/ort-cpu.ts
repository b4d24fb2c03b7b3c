/**
 * The little of ONNX Runtime the cast pass needs: run a model file once on the CPU provider with seeded inputs and
 * read its outputs. A stand-in until the runtime layer (src/runtime: seeded SDXL inputs, sessions, comparisons)
 * lands on main; then the probe should call that instead.
 */
import type * as Ort from 'onnxruntime-node';
import { SdxlOptError } from '../errors.js';
import type { Dim } from '../ir/value.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';

export interface InputSpec {
  name: string;
  dtype: number;
  shape: Dim[] | undefined;
}

export interface CpuRunOutput {
  name: string;
  dims: number[];
  /** Float outputs as numbers; other types as ORT returned them. */
  data: Float32Array | ArrayLike<number | bigint>;
}

type OrtModule = (typeof Ort)['default'];

let ortLoading: Promise<OrtModule> | undefined;

function loadOrt(): Promise<OrtModule> {
  ortLoading ??= import('onnxruntime-node').then(
    (m) => m.default,
    (e: unknown) => {
      ortLoading = undefined;
      throw new SdxlOptError('RUNTIME', `cannot load onnxruntime-node: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
        hint: 'run `npm ci` in the sdxl-opt folder',
      });
    },
  );
  return ortLoading;
}

/** A small deterministic generator (xorshift32); N(0, 1) approximated by 12 uniforms (Irwin–Hall). */
class Seeded {
  private state: number;
  constructor(seed: number, name: string) {
    let h = (0x811c9dc5 ^ seed) >>> 0;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
    this.state = h || 1;
  }
  uniform(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 4294967296;
  }
  normal(): number {
    let s = 0;
    for (let i = 0; i < 12; i++) s += this.uniform();
    return s - 6;
  }
}

/** SDXL's micro-conditioning for a 1024² image: original size, crop origin, target size. */
const SDXL_TIME_IDS = [1024, 1024, 0, 0, 1024, 1024];

function concreteShape(spec: InputSpec, dims: Readonly<Record<string, number>>, fallback: (name: string) => number): number[] {
  if (!spec.shape) throw new SdxlOptError('BAD_MODEL', `input '${spec.name}' has no shape`, { hint: 'the model must declare its input shapes' });
  return spec.shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (typeof d === 'string') return dims[d] ?? fallback(d);
    throw new SdxlOptError('BAD_MODEL', `input '${spec.name}' dim ${i} has no size or name`);
  });
}

/**
 * Runs `file` once on the CPU provider and returns the outputs named in `outputs`. Inputs are seeded: float inputs
 * N(0, 1) (latents, embeddings), `timestep` uniform in [0, 1000), `time_ids` SDXL's 1024² conditioning, integer
 * inputs small non-negative ids.
 */
export async function runOnCpu(
  file: string,
  inputs: readonly InputSpec[],
  outputs: readonly string[],
  options: { dims: Readonly<Record<string, number>>; fallbackDim: (name: string) => number; seed?: number; provider?: 'cpu' | 'cuda' },
): Promise<CpuRunOutput[]> {
  const ort = await loadOrt();
  const provider = options.provider ?? 'cpu';
  const feeds: Record<string, InstanceType<OrtModule['Tensor']>> = {};
  for (const spec of inputs) {
    const shape = concreteShape(spec, options.dims, options.fallbackDim);
    const count = shape.reduce((a, b) => a * b, 1);
    const random = new Seeded(options.seed ?? 0, spec.name);
    const last = shape[shape.length - 1] ?? 1;
    const value = (i: number): number => {
      if (spec.name === 'timestep' || spec.name === 'timesteps') return Math.floor(random.uniform() * 1000);
      if (spec.name === 'time_ids') return SDXL_TIME_IDS[(i % last) % SDXL_TIME_IDS.length]!;
      return spec.dtype === DataType.FLOAT ? random.normal() : Math.floor(random.uniform() * 10);
    };
    if (spec.dtype === DataType.FLOAT) feeds[spec.name] = new ort.Tensor('float32', Float32Array.from({ length: count }, (_, i) => value(i)), shape);
    else if (spec.dtype === DataType.INT64) feeds[spec.name] = new ort.Tensor('int64', BigInt64Array.from({ length: count }, (_, i) => BigInt(value(i))), shape);
    else if (spec.dtype === DataType.INT32) feeds[spec.name] = new ort.Tensor('int32', Int32Array.from({ length: count }, (_, i) => value(i)), shape);
    else throw new SdxlOptError('UNSUPPORTED', `cannot generate a ${dataTypeName(spec.dtype)} value for input '${spec.name}'`);
  }
  let session: Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;
  try {
    session = await ort.InferenceSession.create(file, { executionProviders: [provider], graphOptimizationLevel: 'disabled' });
  } catch (e) {
    throw new SdxlOptError('RUNTIME', `ONNX Runtime cannot load the model on ${provider}: ${e instanceof Error ? e.message : String(e)}`, {
      where: file,
      cause: e,
      hint: provider === 'cuda' ? 'the CUDA provider must load here (sdxl-opt doctor says what is missing), or probe on cpu before CUDA-only rewrites' : undefined,
    });
  }
  try {
    const result = await session.run(feeds, [...outputs]);
    return outputs.map((name) => {
      const t = result[name]!;
      return { name, dims: [...t.dims], data: t.data as CpuRunOutput['data'] };
    });
  } catch (e) {
    throw new SdxlOptError('RUNTIME', `ONNX Runtime failed to run the model on ${provider}: ${e instanceof Error ? e.message : String(e)}`, { where: file, cause: e });
  } finally {
    await session.release();
  }
}
