/**
 * Tensors whose bytes are read lazily. A Tensor always knows its dtype, dims and byte length; its bytes come from a
 * TensorData, which yields them in bounded chunks. The core knows three kinds: bytes in memory (inline raw_data),
 * bytes derived from another tensor chunk by chunk (a dtype conversion), and bytes produced on demand by a
 * function (a concatenation, a transpose). Bytes in external files are a TensorData of the Node layer (io/).
 */
import { SdxlOptError } from '../errors.js';
import { byteSizeOf, DataType, dataTypeName } from '../onnx/dtype.js';
import type { TensorProto } from '../onnx/types.js';

export const DEFAULT_CHUNK = 16 * 1024 * 1024;

/** The largest tensor that may be materialized in memory at once (the fp32 SDXL UNet's largest is 26 MB). */
export const MAX_MATERIALIZED_BYTES = 1024 * 1024 * 1024;

export interface TensorData {
  readonly byteLength: number;
  /** The bytes in order, in chunks of at most `maxChunk` bytes. A chunk may be reused after the next one is asked for. */
  chunks(maxChunk?: number): AsyncIterable<Uint8Array>;
  /** Where the bytes live, for messages: "inline", "model.onnx_data @ 4096+26214400"... */
  describe(): string;
  /** The bytes, when they are already in memory; undefined when reading them takes I/O or computation. */
  readonly inMemory?: Uint8Array | undefined;
}

export class InlineData implements TensorData {
  constructor(readonly bytes: Uint8Array) {}
  get byteLength(): number {
    return this.bytes.byteLength;
  }
  get inMemory(): Uint8Array {
    return this.bytes;
  }
  async *chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    for (let at = 0; at < this.bytes.byteLength; at += maxChunk) {
      yield this.bytes.subarray(at, Math.min(at + maxChunk, this.bytes.byteLength));
    }
  }
  describe(): string {
    return 'inline';
  }
}

/** Bytes computed from `source` chunk by chunk: `convert` maps a chunk of source elements to output bytes. */
export class MappedData implements TensorData {
  constructor(
    readonly source: TensorData,
    readonly byteLength: number,
    private readonly sourceElementBytes: number,
    private readonly convert: (chunk: Uint8Array) => Uint8Array,
    private readonly description: string,
  ) {}
  get inMemory(): undefined {
    return undefined;
  }
  async *chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    // Keep source chunks a whole number of elements so `convert` never sees half an element.
    const sourceChunk = Math.max(this.sourceElementBytes, maxChunk - (maxChunk % this.sourceElementBytes));
    for await (const chunk of this.source.chunks(sourceChunk)) yield this.convert(chunk);
  }
  describe(): string {
    return `${this.description} of ${this.source.describe()}`;
  }
}

/** Bytes produced whole, on demand, by a function (used for rewrites that need all of a weight at once). */
export class ComputedData implements TensorData {
  constructor(
    readonly byteLength: number,
    private readonly produce: () => Promise<Uint8Array>,
    private readonly description: string,
  ) {}
  get inMemory(): undefined {
    return undefined;
  }
  async *chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    const bytes = await this.produce();
    if (bytes.byteLength !== this.byteLength) {
      throw new SdxlOptError('BAD_TENSOR', `${this.description} produced ${bytes.byteLength} bytes, expected ${this.byteLength}`);
    }
    yield* new InlineData(bytes).chunks(maxChunk);
  }
  describe(): string {
    return this.description;
  }
}

export class Tensor {
  /** The TensorProto this tensor was read from, as read. The writer re-emits it unchanged when it can. */
  readonly origin: TensorProto | undefined;

  constructor(
    readonly dtype: DataType,
    readonly dims: readonly number[],
    readonly data: TensorData,
    origin?: TensorProto,
  ) {
    this.origin = origin;
    const expected = byteSizeOf(dtype, this.elementCount);
    if (expected !== undefined && expected !== data.byteLength) {
      throw new SdxlOptError(
        'BAD_TENSOR',
        `a ${dataTypeName(dtype)} tensor of shape [${dims.join(', ')}] needs ${expected} bytes, its data has ${data.byteLength}`,
        { where: data.describe() },
      );
    }
  }

  get elementCount(): number {
    let n = 1;
    for (const d of this.dims) n *= d;
    return n;
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  /** All bytes in one buffer. For weights, prefer streaming `data.chunks()`. */
  async bytes(): Promise<Uint8Array> {
    const inMemory = this.data.inMemory;
    if (inMemory) return inMemory;
    if (this.byteLength > MAX_MATERIALIZED_BYTES) {
      throw new SdxlOptError('UNSUPPORTED', `tensor of ${this.byteLength} bytes is too large to hold in memory at once`, {
        where: this.data.describe(),
      });
    }
    const out = new Uint8Array(this.byteLength);
    let at = 0;
    for await (const chunk of this.data.chunks()) {
      if (at + chunk.byteLength > out.byteLength) break;
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    if (at !== out.byteLength) {
      throw new SdxlOptError('BAD_TENSOR', `read ${at} bytes of ${out.byteLength}`, { where: this.data.describe() });
    }
    return out;
  }

  /** A new Tensor over the same bytes with other dims (a reshape of an initializer). */
  withDims(dims: readonly number[]): Tensor {
    return new Tensor(this.dtype, dims, this.data);
  }
}

/** Element views of tensors held in memory, for small constants (shapes, scales, axes). */
export function typedView(dtype: DataType, bytes: Uint8Array): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | BigUint64Array | Uint32Array {
  // A copy when misaligned. Not bytes.slice(): on a Node Buffer (what protobufjs decodes raw_data into) slice is a
  // view at the same misaligned offset.
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : copyBytes(bytes);
  const { buffer, byteOffset, byteLength } = aligned;
  switch (dtype) {
    case DataType.FLOAT:
      return new Float32Array(buffer, byteOffset, byteLength / 4);
    case DataType.DOUBLE:
      return new Float64Array(buffer, byteOffset, byteLength / 8);
    case DataType.INT32:
      return new Int32Array(buffer, byteOffset, byteLength / 4);
    case DataType.UINT32:
      return new Uint32Array(buffer, byteOffset, byteLength / 4);
    case DataType.INT64:
      return new BigInt64Array(buffer, byteOffset, byteLength / 8);
    case DataType.UINT64:
      return new BigUint64Array(buffer, byteOffset, byteLength / 8);
    case DataType.INT16:
      return new Int16Array(buffer, byteOffset, byteLength / 2);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case DataType.INT8:
      return new Int8Array(buffer, byteOffset, byteLength);
    case DataType.UINT8:
    case DataType.BOOL:
      return new Uint8Array(buffer, byteOffset, byteLength);
    default:
      throw new SdxlOptError('UNSUPPORTED', `no element view for ${dataTypeName(dtype)} tensors`);
  }
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
