/**
 * Element data as ORT's JavaScript API takes and returns it: each ONNX dtype it supports, its ORT type name and
 * typed array. bfloat16 is missing from ORT's JavaScript Tensor (and from onnxruntime-node's metadata: a session
 * whose inputs or outputs are bfloat16 cannot be created), so such models get a clear error instead.
 */
import { SdxlOptError } from '../errors.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { float16ToFloat32Array, float32ToFloat16Array } from './float16.js';

export type OrtElementData = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | BigUint64Array | Uint8Array | Int8Array | Int16Array | Uint32Array;

interface OrtType {
  name: string;
  /** Builds the typed array from values (numbers, already integral for integer types). */
  encode(values: ArrayLike<number>): OrtElementData;
}

const ORT_TYPES = new Map<number, OrtType>([
  [DataType.FLOAT, { name: 'float32', encode: (v) => Float32Array.from(v) }],
  [DataType.FLOAT16, { name: 'float16', encode: float32ToFloat16Array }],
  [DataType.DOUBLE, { name: 'float64', encode: (v) => Float64Array.from(v) }],
  [DataType.INT32, { name: 'int32', encode: (v) => Int32Array.from(v) }],
  [DataType.INT64, { name: 'int64', encode: (v) => BigInt64Array.from(Array.from(v, (x) => BigInt(x))) }],
  [DataType.UINT64, { name: 'uint64', encode: (v) => BigUint64Array.from(Array.from(v, (x) => BigInt(x))) }],
  [DataType.INT16, { name: 'int16', encode: (v) => Int16Array.from(v) }],
  [DataType.UINT16, { name: 'uint16', encode: (v) => Uint16Array.from(v) }],
  [DataType.UINT32, { name: 'uint32', encode: (v) => Uint32Array.from(v) }],
  [DataType.INT8, { name: 'int8', encode: (v) => Int8Array.from(v) }],
  [DataType.UINT8, { name: 'uint8', encode: (v) => Uint8Array.from(v) }],
  [DataType.BOOL, { name: 'bool', encode: (v) => Uint8Array.from(v, (x) => (x ? 1 : 0)) }],
]);

/** The ORT tensor type for an ONNX dtype, or an error saying why the JavaScript API cannot carry it. */
export function ortTypeOf(dtype: number, what: string, where: string): OrtType {
  const t = ORT_TYPES.get(dtype);
  if (t) return t;
  if (dtype === DataType.BFLOAT16) {
    throw new SdxlOptError('UNSUPPORTED', `${what} is bfloat16, which ONNX Runtime's JavaScript API cannot pass`, {
      where,
      hint: 'keep the model inputs and outputs float32 or float16 (cast to bfloat16 inside the graph)',
    });
  }
  throw new SdxlOptError('UNSUPPORTED', `${what} has type ${dataTypeName(dtype)}, which sdxl-opt cannot feed or read through ONNX Runtime`, { where });
}

/** Output values as doubles-compatible numbers for comparison; float16 bits are decoded, 64-bit ints converted. */
export function toComparable(type: string, data: unknown): Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint32Array {
  if (type === 'float16') {
    if (data instanceof Uint16Array) return float16ToFloat32Array(data);
    return Float32Array.from(data as ArrayLike<number>); // a runtime with Float16Array hands those out
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, (x) => Number(x));
  if (data instanceof Uint16Array) return Uint32Array.from(data);
  if (
    data instanceof Float32Array ||
    data instanceof Float64Array ||
    data instanceof Int32Array ||
    data instanceof Uint8Array ||
    data instanceof Int8Array ||
    data instanceof Int16Array ||
    data instanceof Uint32Array
  ) {
    return data;
  }
  throw new SdxlOptError('UNSUPPORTED', `cannot compare an output of type ${type}`);
}
