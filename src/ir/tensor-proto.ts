/** TensorProto ↔ Tensor for tensors held in the model file itself (raw_data or the typed fields). */
import Long from 'long';
import { SdxlOptError } from '../errors.js';
import { int64ToNumber } from '../onnx/codec.js';
import { byteSizeOf, DataType, dataTypeName, isKnownDataType } from '../onnx/dtype.js';
import type { TensorProto } from '../onnx/types.js';
import { InlineData, Tensor, type TensorData } from './tensor.js';

export const DATA_LOCATION_EXTERNAL = 1;

/** Dims of a TensorProto, checked: non-negative, exact, with an element count that fits in memory arithmetic. */
export function tensorDims(t: TensorProto, where: string): number[] {
  const dims = (t.dims ?? []).map((d, i) => int64ToNumber(d, `dim ${i}`, where));
  let count = 1;
  for (const [i, d] of dims.entries()) {
    if (d < 0) throw new SdxlOptError('BAD_TENSOR', `dim ${i} is negative (${d})`, { where });
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw new SdxlOptError('BAD_TENSOR', `shape [${dims.join(', ')}] has too many elements`, { where });
  }
  return dims;
}

export function tensorDataType(t: TensorProto, where: string): DataType {
  const code = t.data_type ?? 0;
  if (!isKnownDataType(code) || code === DataType.UNDEFINED) {
    throw new SdxlOptError('BAD_TENSOR', `unknown data_type ${code}`, { where, hint: 'the file is corrupt or from a newer ONNX' });
  }
  return code;
}

export function isExternal(t: TensorProto): boolean {
  return t.data_location === DATA_LOCATION_EXTERNAL;
}

/**
 * A Tensor over the bytes a TensorProto holds inline. `external` supplies the data of an external tensor
 * (the Node layer reads files; the core does not).
 */
export function tensorFromProto(t: TensorProto, where: string, external?: (t: TensorProto, byteLength: number) => TensorData): Tensor {
  const dtype = tensorDataType(t, where);
  const dims = tensorDims(t, where);
  const count = dims.reduce((a, b) => a * b, 1);
  if (dtype === DataType.STRING) {
    if ((t.string_data?.length ?? 0) !== count) {
      throw new SdxlOptError('BAD_TENSOR', `string tensor has ${t.string_data?.length ?? 0} strings for ${count} elements`, { where });
    }
    return new Tensor(dtype, dims, new InlineData(new Uint8Array()), t);
  }
  const byteLength = byteSizeOf(dtype, count)!;
  if (isExternal(t)) {
    if (!external) throw new SdxlOptError('EXTERNAL_DATA', 'tensor has external data, but no model directory is known', { where });
    return new Tensor(dtype, dims, external(t, byteLength), t);
  }
  const bytes = t.raw_data !== undefined && t.raw_data.byteLength > 0 ? t.raw_data : typedFieldBytes(t, dtype, count, where);
  if (bytes.byteLength !== byteLength) {
    throw new SdxlOptError('BAD_TENSOR', `a ${dataTypeName(dtype)} tensor of shape [${dims.join(', ')}] needs ${byteLength} bytes, it holds ${bytes.byteLength}`, {
      where,
    });
  }
  return new Tensor(dtype, dims, new InlineData(bytes), t);
}

/** Little-endian bytes of the typed fields (float_data, int32_data...), as raw_data would hold them. */
function typedFieldBytes(t: TensorProto, dtype: DataType, count: number, where: string): Uint8Array {
  const wrongCount = (field: string, have: number): never => {
    throw new SdxlOptError('BAD_TENSOR', `${field} has ${have} values for ${count} elements`, { where });
  };
  switch (dtype) {
    case DataType.FLOAT: {
      const src = t.float_data ?? [];
      if (src.length !== count) wrongCount('float_data', src.length);
      return new Uint8Array(Float32Array.from(src).buffer);
    }
    case DataType.DOUBLE: {
      const src = t.double_data ?? [];
      if (src.length !== count) wrongCount('double_data', src.length);
      return new Uint8Array(Float64Array.from(src).buffer);
    }
    case DataType.INT64: {
      const src = t.int64_data ?? [];
      if (src.length !== count) wrongCount('int64_data', src.length);
      return new Uint8Array(BigInt64Array.from(src, (v) => Long.fromValue(v).toBigInt()).buffer);
    }
    case DataType.UINT64:
    case DataType.UINT32: {
      const src = t.uint64_data ?? [];
      if (src.length !== count) wrongCount('uint64_data', src.length);
      if (dtype === DataType.UINT32) return new Uint8Array(Uint32Array.from(src, (v) => Long.fromValue(v).toNumber() >>> 0).buffer);
      return new Uint8Array(BigUint64Array.from(src, (v) => Long.fromValue(v).toUnsigned().toBigInt()).buffer);
    }
    case DataType.INT32:
      return fromInt32Data(t, count, Int32Array, wrongCount);
    case DataType.INT16:
      return fromInt32Data(t, count, Int16Array, wrongCount);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return fromInt32Data(t, count, Uint16Array, wrongCount);
    case DataType.INT8:
      return fromInt32Data(t, count, Int8Array, wrongCount);
    case DataType.UINT8:
    case DataType.BOOL:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
    case DataType.FLOAT8E8M0:
      return fromInt32Data(t, count, Uint8Array, wrongCount);
    default:
      if (count === 0) return new Uint8Array();
      throw new SdxlOptError('UNSUPPORTED', `${dataTypeName(dtype)} tensors stored in typed fields are not supported`, {
        where,
        hint: 'store the tensor as raw_data',
      });
  }
}

type IntArrayCtor = { new (n: number): { [i: number]: number; buffer: ArrayBufferLike } };

function fromInt32Data(t: TensorProto, count: number, Ctor: IntArrayCtor, wrongCount: (f: string, n: number) => never): Uint8Array {
  const src = t.int32_data ?? [];
  if (src.length !== count) wrongCount('int32_data', src.length);
  const out = new Ctor(count);
  for (let i = 0; i < count; i++) out[i] = src[i]!;
  return new Uint8Array(out.buffer);
}

/** A TensorProto holding `bytes` as raw_data. */
export function inlineTensorProto(name: string, tensor: Tensor, bytes: Uint8Array): TensorProto {
  return { name, dims: tensor.dims.map((d) => Long.fromNumber(d)), data_type: tensor.dtype, raw_data: bytes };
}
