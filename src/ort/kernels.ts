/**
 * Which float types ONNX Runtime 1.29 can run an operator in, per execution provider and opset, and which float
 * types the operator's ONNX schema accepts at that opset. Passes ask `hasKernel` before they emit a node in a dtype:
 * a node without a kernel in its dtype does not fail on CUDA, it silently runs on the CPU (with copies both ways),
 * and a dtype the schema forbids makes ONNX Runtime refuse the model.
 *
 * Where the entries come from:
 * - CUDA: ORT's docs/OperatorKernels.md (the CUDAExecutionProvider table), corrected by what was run on an H100
 *   with CPU fallback disabled (/work/shared/ORT-FACTS.md, 2026-11-25): InstanceNormalization has no CUDA kernel
 *   at opset 22 in any dtype, ONNX GroupNormalization has none at all. ORT-FACTS also saw bf16 Sin/Cos run at
 *   opset 22 while OperatorKernels.md lists no bf16 Sin/Cos kernel; this table takes the kernel list's word (a
 *   float16 fallback always exists, so being wrong costs a Cast, not a CPU fallback).
 * - CPU: measured with onnxruntime-node 1.29.0 on this project's CI machine (x86-64), one single-op model per op,
 *   dtype and opset 17/22, 2026-11-25. A float16 node without a float16 CPU kernel still loads: ORT's
 *   InsertCastTransformer runs it in float32 between Casts it adds. Such ops are listed without float16 here, so
 *   that passes keep them in float32 themselves instead of paying for those Casts.
 * - Schemas: onnx 1.23's operator schemas (onnx.defs), the first opset whose version of the op accepts the dtype
 *   for its float inputs; com.microsoft schemas from ORT's contrib op definitions.
 */
import { DataType, dataTypeName } from '../onnx/dtype.js';

export type Provider = 'cuda' | 'cpu';
export type FloatName = 'float32' | 'float16' | 'bfloat16';

/** From an opset on, or within [from, to]. */
type Opsets = number | readonly [from: number, to: number];

interface KernelEntry {
  /** ONNX schema: the opset from which the op accepts each narrow type. Absent: never. float32 is always accepted. */
  schema: { float16?: number; bfloat16?: number };
  cuda: Partial<Record<FloatName, Opsets>>;
  cpu: Partial<Record<FloatName, Opsets>>;
}

const ALL = 1;
/** No kernel in any float type. */
const NONE: Partial<Record<FloatName, Opsets>> = {};

/** Schema since-opsets for the common case: float16 always, bfloat16 from `bf16`. */
const s = (bf16?: number, fp16 = ALL): KernelEntry['schema'] => (bf16 === undefined ? { float16: fp16 } : { float16: fp16, bfloat16: bf16 });

/** Kernels: float32 always (null: none), float16 from `fp16`, bfloat16 from `bf16` (undefined: none). */
const k = (fp16?: Opsets, bf16?: Opsets, fp32: Opsets | null = ALL): Partial<Record<FloatName, Opsets>> => {
  const out: Partial<Record<FloatName, Opsets>> = {};
  if (fp32 !== null) out.float32 = fp32;
  if (fp16 !== undefined) out.float16 = fp16;
  if (bf16 !== undefined) out.bfloat16 = bf16;
  return out;
};

/** Data movement: every float type, on both providers, from the opset the schema allows it. */
const movement = (bf16Schema = 13, fp16Schema = ALL): KernelEntry => ({
  schema: s(bf16Schema, fp16Schema),
  cuda: k(fp16Schema, bf16Schema),
  cpu: k(fp16Schema, bf16Schema),
});

/** Elementwise math with CUDA float16 everywhere and bfloat16 from `cudaBf16`; CPU float32 only. */
const math = (cudaBf16: number | undefined, schemaBf16: number | undefined = 13, fp16 = ALL): KernelEntry => ({
  schema: s(schemaBf16, fp16),
  cuda: k(fp16, cudaBf16),
  cpu: k(),
});

const ONNX: Record<string, KernelEntry> = {
  // Binary arithmetic.
  Add: math(13),
  Sub: math(13),
  Mul: math(13),
  Div: math(13),
  Pow: math(15, 15), // the exponent may be bfloat16 only from Pow-15
  Max: { schema: s(13), cuda: k(ALL, 6), cpu: k(12) },
  Min: { schema: s(13), cuda: k(ALL, 6), cpu: k(12) },
  Sum: math(6),
  Mod: math(13, 13, 10),
  // Comparisons (bool out): no bfloat16 kernel.
  Equal: math(undefined, 13, 11),
  Less: math(undefined),
  Greater: math(undefined),
  LessOrEqual: math(undefined, 16, 12),
  GreaterOrEqual: math(undefined, 16, 12),
  // Unary math.
  Abs: math(13),
  Neg: math(13),
  Sqrt: math(13),
  Exp: math(13),
  Erf: math(13, 13, 9),
  Sigmoid: math(13),
  Tanh: math(13),
  Relu: math(13),
  Sign: math(13, 13, 9),
  Log: math(undefined),
  Reciprocal: math(undefined),
  Floor: math(undefined),
  Ceil: math(undefined),
  Round: { schema: s(22, 11), cuda: k(11), cpu: k(11) },
  Sin: math(undefined, 22, 7),
  Cos: math(undefined, 22, 7),
  Elu: math(undefined, 22),
  Selu: math(undefined, 22),
  Softplus: math(undefined, 22),
  Softsign: math(undefined, 22),
  LeakyRelu: math(undefined, 16),
  HardSigmoid: math(22, 22),
  HardSwish: math(22, 22, 14),
  Gelu: math(20, 20, 20),
  Clip: { schema: s(13), cuda: k(12), cpu: k(12) },
  Where: { schema: s(16, 9), cuda: k(9, 16), cpu: k() },
  Softmax: math(13),
  LogSoftmax: math(undefined),
  Dropout: math(13),
  // Reductions.
  ReduceSum: math(13),
  ReduceMean: math(undefined),
  ReduceMax: math(undefined),
  ReduceMin: math(undefined),
  ReduceProd: math(undefined),
  ReduceL1: math(undefined),
  ReduceL2: math(undefined),
  ReduceSumSquare: math(undefined),
  ReduceLogSumExp: math(undefined),
  ArgMax: math(undefined),
  ArgMin: math(undefined),
  CumSum: math(undefined, 14, 14),
  // Linear algebra and convolution.
  MatMul: { schema: s(13), cuda: k(ALL, 13), cpu: k(ALL) },
  Gemm: { schema: s(13), cuda: k(ALL, 13), cpu: k(ALL) },
  Einsum: { schema: s(undefined, 12), cuda: k(12), cpu: k() },
  Conv: math(22, 22),
  ConvTranspose: math(undefined, 22),
  AveragePool: math(22, 22),
  MaxPool: math(undefined, 22),
  GlobalAveragePool: math(undefined, 22),
  GlobalMaxPool: math(undefined, 22),
  // Normalizations.
  // ONNX's own LayerNormalization is opset 17; before it ORT registers its contrib LayerNormalization in the ONNX domain.
  LayerNormalization: { schema: s(ALL), cuda: k(ALL, ALL), cpu: k(ALL) },
  InstanceNormalization: { schema: s(22), cuda: k([6, 21], undefined, [6, 21]), cpu: k() },
  GroupNormalization: { schema: s(18, 18), cuda: NONE, cpu: k(21) },
  BatchNormalization: math(undefined, 14),
  // Resampling and padding: no bfloat16 on CUDA.
  Resize: math(undefined, 13, 10),
  Upsample: { schema: s(undefined), cuda: k(ALL), cpu: k() },
  Pad: math(undefined),
  // Data movement: every dtype on every provider.
  Identity: movement(),
  Reshape: movement(),
  Flatten: movement(),
  Squeeze: movement(),
  Unsqueeze: movement(),
  Transpose: movement(),
  Concat: movement(),
  Split: movement(),
  Slice: movement(),
  Gather: movement(),
  Shape: movement(),
  Size: movement(),
  Cast: movement(),
  GatherElements: { schema: s(13, 11), cuda: k(11, 13), cpu: k(11, 13) },
  GatherND: { schema: s(13, 11), cuda: k(11, 13), cpu: k(11, 13) },
  Expand: { schema: s(13, 8), cuda: k(8, 13), cpu: k(8) },
  Tile: { schema: s(13), cuda: k(ALL, 13), cpu: k() },
  DepthToSpace: math(undefined),
  SpaceToDepth: math(undefined),
  Trilu: movement(14, 14),
  // ConstantOfShape's dtype is its value attribute's; Range has no narrow float type at any opset.
  ConstantOfShape: movement(20, 9),
  Range: { schema: {}, cuda: k(), cpu: k() },
};

/** com.microsoft operators: opset 1, schemas from ORT's contrib definitions. */
const CONTRIB: Record<string, KernelEntry> = {
  MultiHeadAttention: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  Attention: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  SkipLayerNormalization: { schema: s(1), cuda: k(ALL, ALL), cpu: k(ALL) },
  SkipSimplifiedLayerNormalization: { schema: s(1), cuda: k(ALL, ALL), cpu: k(ALL) },
  FastGelu: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  BiasGelu: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  Gelu: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  QuickGelu: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  FusedMatMul: { schema: s(1), cuda: k(ALL, ALL), cpu: k() },
  BiasSoftmax: { schema: s(undefined), cuda: k(ALL), cpu: k() },
  // The diffusion ops: float and float16 only (their schemas forbid bfloat16); CUDA only.
  GroupNorm: { schema: s(undefined), cuda: k(ALL), cpu: NONE },
  SkipGroupNorm: { schema: s(undefined), cuda: k(ALL), cpu: NONE },
  NhwcConv: { schema: s(undefined), cuda: k(ALL), cpu: NONE },
  BiasSplitGelu: { schema: s(undefined), cuda: k(ALL), cpu: NONE },
  BiasAdd: { schema: s(undefined), cuda: k(ALL), cpu: NONE },
};

export const FLOAT_NAMES: Partial<Record<number, FloatName>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.FLOAT16]: 'float16',
  [DataType.BFLOAT16]: 'bfloat16',
};

function entryOf(opType: string, domain: string): KernelEntry | undefined {
  const d = domain === 'ai.onnx' ? '' : domain;
  if (d === '') return ONNX[opType];
  if (d === 'com.microsoft') return CONTRIB[opType];
  return undefined;
}

function covers(range: Opsets | undefined, opset: number): boolean {
  if (range === undefined) return false;
  if (typeof range === 'number') return opset >= range;
  return opset >= range[0] && opset <= range[1];
}

function floatName(dtype: DataType): FloatName {
  const name = FLOAT_NAMES[dtype];
  if (!name) throw new RangeError(`kernel table: ${dataTypeName(dtype)} is not a float type it covers`);
  return name;
}

/** Whether the table has an entry for the operator (a missing one: nothing is known; keep what the model has). */
export function isKnownOp(opType: string, domain: string): boolean {
  return entryOf(opType, domain) !== undefined;
}

/** Does the operator's schema at `opset` (its domain's opset) accept `dtype` for its float data? */
export function schemaAllows(opType: string, domain: string, dtype: DataType, opset: number): boolean {
  const entry = entryOf(opType, domain);
  if (!entry) return dtype === DataType.FLOAT;
  const name = floatName(dtype);
  if (name === 'float32') return true;
  return covers(entry.schema[name], opset);
}

/**
 * Does ONNX Runtime 1.29's `provider` have a kernel for the operator in `dtype` at `opset`? False when the schema
 * forbids the dtype (the model would not load) and for operators the table does not know.
 */
export function hasKernel(opType: string, domain: string, dtype: DataType, opset: number, provider: Provider): boolean {
  const entry = entryOf(opType, domain);
  if (!entry || !schemaAllows(opType, domain, dtype, opset)) return false;
  return covers(entry[provider][floatName(dtype)], opset);
}

/** The float types an operator can run in, in the order asked for, keeping those with a kernel. */
export function runnableTypes(opType: string, domain: string, opset: number, provider: Provider, preference: readonly DataType[]): DataType[] {
  return preference.filter((d) => hasKernel(opType, domain, d, opset, provider));
}
