/**
 * float32 tensors as float16 or bfloat16 tensors. The conversion is lazy and streams: the new tensor's data converts
 * its source chunk by chunk when it is read (by the writer), so narrowing the weights of a 10 GB model holds one
 * chunk at a time, never a whole model.
 */
import { SdxlOptError } from '../errors.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import { releaseScratch, takeScratch } from '../ir/scratch.js';
import { DEFAULT_CHUNK, MappedData, Tensor, type TensorData } from '../ir/tensor.js';
import {
  bfloat16NarrowingOf,
  float16NarrowingOf,
  float32ToBfloat16,
  float32ToFloat16,
  type NarrowingStats,
} from '../numeric/float-convert.js';

export type NarrowType = typeof DataType.FLOAT16 | typeof DataType.BFLOAT16;

export function isNarrowType(dtype: number): dtype is NarrowType {
  return dtype === DataType.FLOAT16 || dtype === DataType.BFLOAT16;
}

/** The bytes as int32s, copied first when they do not start on a 4-byte boundary (Node Buffers from a pool may not). */
function int32sOf(bytes: Uint8Array): Int32Array {
  if (bytes.byteLength % 4 !== 0) throw new SdxlOptError('BAD_TENSOR', `float32 data of ${bytes.byteLength} bytes is not whole elements`);
  if (bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Int32Array(copy.buffer);
}

/** float32 bytes → float16 or bfloat16 bytes (a new buffer). */
export function narrowBytes(bytes: Uint8Array, to: NarrowType, stats?: NarrowingStats): Uint8Array {
  const source = int32sOf(bytes);
  const target = new Uint16Array(source.length);
  if (to === DataType.FLOAT16) float32ToFloat16(source, target, stats);
  else float32ToBfloat16(source, target, stats);
  return new Uint8Array(target.buffer);
}

/**
 * The bytes of a float32 source as `to`, converted chunk by chunk as they are read. Each read converts into one
 * buffer it reuses (a chunk may be reused once the next is asked for): a fresh buffer per chunk costs more in page
 * faults than the conversion itself. A read that goes through to the end also counts what narrowing clamped and
 * flushed (`narrowing`): the writer's one pass over the weights gives the weight report, with no read of its own.
 */
export class NarrowedData extends MappedData {
  /** What narrowing did to the values, once the bytes have been read through to the end (by the writer). */
  narrowing: NarrowingStats | undefined;

  constructor(
    source: TensorData,
    private readonly to: NarrowType,
  ) {
    super(source, source.byteLength / 2, 4, (chunk) => narrowBytes(chunk, to), `float32→${dataTypeName(to)}`);
  }

  override async *chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    const sourceChunk = Math.max(4, maxChunk - (maxChunk % 4));
    let target: Uint16Array | undefined;
    let scratch: Uint8Array | undefined;
    const convert = this.to === DataType.FLOAT16 ? float32ToFloat16 : float32ToBfloat16;
    const stats: NarrowingStats = { clamped: 0, flushed: 0 };
    let read = 0;
    try {
      for await (const chunk of this.source.chunks(sourceChunk)) {
        const source = int32sOf(chunk);
        if (!target || target.length < source.length) {
          if (scratch) releaseScratch(scratch);
          scratch = takeScratch(source.length * 2);
          target = new Uint16Array(scratch.buffer, scratch.byteOffset, source.length);
        }
        const out = target.subarray(0, source.length);
        convert(source, out, stats);
        read += chunk.byteLength;
        yield new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      }
    } finally {
      if (scratch) releaseScratch(scratch);
    }
    if (read === this.source.byteLength) this.narrowing ??= stats;
  }
}

/** A float32 tensor as a `to` tensor whose bytes convert when read. */
export function narrowTensor(tensor: Tensor, to: NarrowType): Tensor {
  if (tensor.dtype !== DataType.FLOAT) {
    throw new SdxlOptError('UNSUPPORTED', `cannot narrow a ${dataTypeName(tensor.dtype)} tensor: only float32 converts`, { where: tensor.data.describe() });
  }
  return new Tensor(to, tensor.dims, new NarrowedData(tensor.data, to));
}

/** Reads a float32 tensor once, chunk by chunk, counting what narrowing it to `to` clamps and flushes. */
export async function narrowingOf(tensor: Tensor, to: NarrowType): Promise<NarrowingStats> {
  const stats: NarrowingStats = { clamped: 0, flushed: 0 };
  const count = to === DataType.FLOAT16 ? float16NarrowingOf : bfloat16NarrowingOf;
  for await (const chunk of tensor.data.chunks()) count(int32sOf(chunk), stats);
  return stats;
}
