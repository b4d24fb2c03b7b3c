/**
 * Small tensors held in memory as typed arrays, for evaluating constant subgraphs (shape chains, scales, masks).
 * Only the element types such subgraphs use are supported; int64 stays BigInt64Array so values like INT64_MAX
 * (a Slice "to the end") survive exactly.
 */
import { byteSizeOf, DataType } from '../onnx/dtype.js';
import { InlineData, Tensor, typedView } from '../ir/tensor.js';

export type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface HostTensor {
  readonly dtype: DataType;
  readonly dims: readonly number[];
  readonly data: HostData;
}

/** Element types the evaluator computes in. */
export const EVAL_DTYPES: ReadonlySet<DataType> = new Set<DataType>([DataType.FLOAT, DataType.DOUBLE, DataType.INT32, DataType.INT64, DataType.BOOL]);

/**
 * Why a node cannot be evaluated (an unsupported dtype, an index out of range, a result over the size cap).
 * Internal control flow: `evaluateNode` turns it into a reason string, it never reaches a user.
 */
export class CannotEvaluate extends Error {
  override readonly name = 'CannotEvaluate';
}

export function refuse(reason: string): never {
  throw new CannotEvaluate(reason);
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function isInt(dtype: DataType): boolean {
  return dtype === DataType.INT32 || dtype === DataType.INT64;
}

export function isFloat(dtype: DataType): boolean {
  return dtype === DataType.FLOAT || dtype === DataType.DOUBLE;
}

export function allocate(dtype: DataType, count: number): HostData {
  switch (dtype) {
    case DataType.FLOAT:
      return new Float32Array(count);
    case DataType.DOUBLE:
      return new Float64Array(count);
    case DataType.INT32:
      return new Int32Array(count);
    case DataType.INT64:
      return new BigInt64Array(count);
    case DataType.BOOL:
      return new Uint8Array(count);
    default:
      return refuse(`element type ${dtype} is not evaluated`);
  }
}

/** A tensor over a fresh array; `dims` must match the data's length. */
export function host(dtype: DataType, dims: readonly number[], data: HostData): HostTensor {
  if (elementCount(dims) !== data.length) refuse(`internal: ${data.length} elements for shape [${dims.join(', ')}]`);
  return { dtype, dims: [...dims], data };
}

export function scalarInt64(v: bigint | number): HostTensor {
  return { dtype: DataType.INT64, dims: [], data: BigInt64Array.of(BigInt(v)) };
}

export function int64Vector(values: readonly (bigint | number)[]): HostTensor {
  return { dtype: DataType.INT64, dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

/** A copy of little-endian bytes as a HostTensor; undefined for element types the evaluator does not compute in. */
export function hostFromBytes(dtype: DataType, dims: readonly number[], bytes: Uint8Array): HostTensor | undefined {
  if (!EVAL_DTYPES.has(dtype)) return undefined;
  const view = typedView(dtype, bytes) as HostData;
  return host(dtype, dims, view.slice() as HostData);
}

/** The tensor's elements when its bytes are already in memory; never reads external data. */
export function hostFromTensor(t: Tensor): HostTensor | undefined {
  const bytes = t.data.inMemory;
  if (!bytes) return undefined;
  return hostFromBytes(t.dtype, t.dims, bytes);
}

export function hostToTensor(h: HostTensor): Tensor {
  const bytes = new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength);
  return new Tensor(h.dtype, h.dims, new InlineData(bytes));
}

export function byteSize(dtype: DataType, count: number): number {
  return byteSizeOf(dtype, count) ?? Infinity;
}

/** Element i as a number (int64 converted; values past 2^53 lose precision, so callers clamp first where it matters). */
export function numberAt(h: HostTensor, i: number): number {
  const v = h.data[i]!;
  return typeof v === 'bigint' ? Number(v) : v;
}

export function bigintAt(h: HostTensor, i: number): bigint {
  const v = h.data[i]!;
  if (typeof v === 'bigint') return v;
  if (!Number.isInteger(v)) refuse(`expected an integer, got ${v}`);
  return BigInt(v);
}

/** The elements of an int tensor as numbers, refusing values that are not exact (an axis or index list). */
export function intList(h: HostTensor, what: string): number[] {
  if (!isInt(h.dtype)) refuse(`${what} must be int32 or int64`);
  return Array.from({ length: h.data.length }, (_, i) => {
    const v = bigintAt(h, i);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) refuse(`${what} value ${v} is out of range`);
    return Number(v);
  });
}

/** Like intList, but clamps huge values (INT64_MAX as "to the end") to ±2^53, where slicing treats them the same. */
export function clampedIntList(h: HostTensor, what: string): number[] {
  if (!isInt(h.dtype)) refuse(`${what} must be int32 or int64`);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return Array.from({ length: h.data.length }, (_, i) => {
    const v = bigintAt(h, i);
    return Number(v > max ? max : v < -max ? -max : v);
  });
}

/** Strides of a row-major shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Normalizes a possibly negative axis against a rank, refusing one out of range. */
export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) refuse(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}
