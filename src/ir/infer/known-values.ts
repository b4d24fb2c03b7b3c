/**
 * Contents of small tensors, known at inference time: constants, and shape computations whose elements are numbers
 * or symbolic dims (Shape → Gather → Unsqueeze → Concat → Reshape). Kept small: only what shapes need.
 */
import { int64ToNumber } from '../../onnx/codec.js';
import { DataType, isFloatType } from '../../onnx/dtype.js';
import type { TensorProto } from '../../onnx/types.js';
import type { Tensor } from '../tensor.js';
import { tensorFromProto } from '../tensor-proto.js';
import type { Dim } from '../value.js';
import type { KnownTensor } from './rule.js';

/** Larger tensors are never shape computations; their contents are not tracked. */
export const MAX_KNOWN_ELEMENTS = 64;

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** The elements of a tensor held in memory, when it is small; undefined for external or large ones. */
export function knownFromTensor(t: Tensor): KnownTensor | undefined {
  if (t.elementCount > MAX_KNOWN_ELEMENTS) return undefined;
  const bytes = t.data.inMemory;
  if (!bytes) return undefined;
  const data = decodeElements(t.dtype, bytes, t.elementCount);
  return data && { dims: [...t.dims], data };
}

export function knownFromProto(t: TensorProto, where: string): KnownTensor | undefined {
  const dims = (t.dims ?? []).map((d, i) => int64ToNumber(d, `dim ${i}`));
  if (elementCount(dims) > MAX_KNOWN_ELEMENTS) return undefined;
  return knownFromTensor(tensorFromProto(t, where));
}

/** Little-endian elements through a DataView: the bytes may sit at any offset (a Buffer slice of the file). */
function decodeElements(dtype: DataType, bytes: Uint8Array, count: number): Dim[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = ELEMENT_READERS[dtype];
  if (!read) return undefined;
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(read(view, i));
  return out;
}

const ELEMENT_READERS: Partial<Record<DataType, (view: DataView, i: number) => number>> = {
  [DataType.FLOAT]: (v, i) => v.getFloat32(4 * i, true),
  [DataType.DOUBLE]: (v, i) => v.getFloat64(8 * i, true),
  [DataType.FLOAT16]: (v, i) => fp16ToNumber(v.getUint16(2 * i, true)),
  [DataType.BFLOAT16]: (v, i) => bf16ToNumber(v.getUint16(2 * i, true)),
  [DataType.INT64]: (v, i) => Number(v.getBigInt64(8 * i, true)),
  [DataType.UINT64]: (v, i) => Number(v.getBigUint64(8 * i, true)),
  [DataType.INT32]: (v, i) => v.getInt32(4 * i, true),
  [DataType.UINT32]: (v, i) => v.getUint32(4 * i, true),
  [DataType.INT16]: (v, i) => v.getInt16(2 * i, true),
  [DataType.UINT16]: (v, i) => v.getUint16(2 * i, true),
  [DataType.INT8]: (v, i) => v.getInt8(i),
  [DataType.UINT8]: (v, i) => v.getUint8(i),
  [DataType.BOOL]: (v, i) => (v.getUint8(i) ? 1 : 0),
};

function fp16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function bf16ToNumber(h: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = h << 16;
  return f[0]!;
}

export function isIntegerType(dtype: DataType | undefined): boolean {
  return dtype !== undefined && !isFloatType(dtype) && dtype !== DataType.BOOL && dtype !== DataType.STRING;
}

/** Every element as a number, or undefined when one is symbolic or unknown. */
export function numbersOf(t: KnownTensor | undefined): number[] | undefined {
  if (!t) return undefined;
  return t.data.every((d): d is number => typeof d === 'number') ? (t.data as number[]) : undefined;
}

/**
 * Elementwise over broadcast inputs: each input's elements with its own dims, the output's dims given. The
 * function sees one element of each input.
 */
export function mapBroadcast(inputs: readonly KnownTensor[], outDims: readonly number[], f: (elems: Dim[]) => Dim): KnownTensor | undefined {
  const total = elementCount(outDims);
  if (total > MAX_KNOWN_ELEMENTS) return undefined;
  const rank = outDims.length;
  const strides = inputs.map((t) => {
    const s: number[] = new Array(rank).fill(0);
    let acc = 1;
    for (let i = t.dims.length - 1; i >= 0; i--) {
      const at = rank - t.dims.length + i;
      s[at] = t.dims[i] === 1 ? 0 : acc;
      acc *= t.dims[i]!;
    }
    return s;
  });
  const data: Dim[] = [];
  const index: number[] = new Array(rank).fill(0);
  for (let n = 0; n < total; n++) {
    data.push(f(inputs.map((t, k) => t.data[index.reduce((off, ix, axis) => off + ix * strides[k]![axis]!, 0)])));
    for (let axis = rank - 1; axis >= 0; axis--) {
      if (++index[axis]! < outDims[axis]!) break;
      index[axis] = 0;
    }
  }
  return { dims: [...outDims], data };
}
