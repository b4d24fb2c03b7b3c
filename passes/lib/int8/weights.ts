/**
 * Symmetric per-output-channel int8 quantization of a constant weight, computed lazily: nothing is read when the
 * pass runs, only when the writer streams the new tensors (a full UNet's weights are 10 GB, and a pass must never
 * hold them all). For a weight stored [in, out] (MatMul, Gemm without transB):
 *
 *   scale[n] = max_k |W[k, n]| / qmax        (1 when the column is all zeros, so nothing divides by zero)
 *   Q[k, n]  = clamp(roundHalfEven(W[k, n] / scale[n]), -qmax, qmax)
 *
 * so |W − Q·scale| ≤ scale/2 for every element. The scales cost one streamed read of the weight (kept: `out` floats),
 * the int8 bytes a second one, chunk by chunk. A weight stored [out, in] (Gemm transB) is transposed to [in, out],
 * which needs the whole weight at once: SDXL's transB Gemms are its time-embedding layers, at most 14 MB.
 */
import { SdxlOptError } from '../../../src/errors.js';
import { ComputedData, DEFAULT_CHUNK, Tensor, type TensorData } from '../../../src/ir/tensor.js';
import { DataType, dataTypeName } from '../../../src/onnx/dtype.js';

export const INT8_QMAX = 127;

/** Float element types a weight may have. */
export const QUANTIZABLE_WEIGHT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16]);

/** ONNX's rounding for QuantizeLinear: to the nearest integer, halves to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves go up: a tie is exactly r − v = 0.5, and an odd r goes back down
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

export function quantizeValue(v: number, scale: number, qmax = INT8_QMAX): number {
  const q = roundHalfEven(v / scale);
  return q > qmax ? qmax : q < -qmax ? -qmax : q;
}

function scaleFromMax(max: number, qmax: number): number {
  return max > 0 ? max / qmax : 1;
}

/**
 * The whole computation in memory, for small weights and tests: `values` holds `rows × cols` elements row-major;
 * channels are columns, or rows when `channelsAreRows` (a weight stored [out, in]). Q comes out [in, out].
 */
export function quantizePerChannel(values: Float32Array, rows: number, cols: number, channelsAreRows = false, qmax = INT8_QMAX): { q: Int8Array; scales: Float32Array } {
  const channels = channelsAreRows ? rows : cols;
  const max = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelsAreRows ? Math.floor(i / cols) : i % cols;
    const a = Math.abs(values[i]!);
    if (a > max[c]!) max[c] = a;
  }
  const scales = Float32Array.from(max, (m) => scaleFromMax(m, qmax));
  const q = new Int8Array(values.length);
  if (!channelsAreRows) {
    for (let i = 0; i < values.length; i++) q[i] = quantizeValue(values[i]!, scales[i % cols]!, qmax);
  } else {
    // stored [out = rows, in = cols] → Q [in, out]
    for (let n = 0; n < rows; n++) {
      for (let k = 0; k < cols; k++) q[k * rows + n] = quantizeValue(values[n * cols + k]!, scales[n]!, qmax);
    }
  }
  return { q, scales };
}

/** A weight's int8 tensor [in, out] and its float32 scales [out], both read from `source` only when written. */
export class ChannelQuantizer {
  readonly in: number;
  readonly out: number;
  private scalesPromise: Promise<Float32Array> | undefined;

  constructor(
    readonly source: Tensor,
    /** The weight is stored [out, in] (Gemm transB = 1). */
    readonly transposed: boolean,
    readonly name: string,
    readonly qmax = INT8_QMAX,
  ) {
    if (source.dims.length !== 2 || !QUANTIZABLE_WEIGHT_TYPES.has(source.dtype)) {
      throw new SdxlOptError('UNSUPPORTED', `cannot quantize a ${dataTypeName(source.dtype)} weight of shape [${source.dims.join(', ')}]`, { where: name });
    }
    const [r, c] = source.dims as [number, number];
    [this.in, this.out] = transposed ? [c, r] : [r, c];
  }

  /** Per-output-channel scales; computed once, on first use. */
  scales(): Promise<Float32Array> {
    this.scalesPromise ??= this.computeScales();
    return this.scalesPromise;
  }

  quantizedTensor(): Tensor {
    const data: TensorData = this.transposed
      ? new ComputedData(this.in * this.out, () => this.quantizeWhole(), `int8 of ${this.source.data.describe()}, transposed`)
      : new StreamedInt8(this);
    return new Tensor(DataType.INT8, [this.in, this.out], data);
  }

  scaleTensor(): Tensor {
    const data = new ComputedData(this.out * 4, async () => new Uint8Array((await this.scales()).slice().buffer), `int8 scales of ${this.source.data.describe()}`);
    return new Tensor(DataType.FLOAT, [this.out], data);
  }

  private async computeScales(): Promise<Float32Array> {
    const max = new Float32Array(this.out);
    // The channel of each element in storage order: a column of [in, out], a row of [out, in].
    const [width, byRow] = this.transposed ? [this.in, true] : [this.out, false];
    let row = 0;
    let col = 0;
    for await (const values of floatChunks(this.source, this.name)) {
      for (let j = 0; j < values.length; j++) {
        const c = byRow ? row : col;
        const a = Math.abs(values[j]!);
        if (a > max[c]!) max[c] = a;
        if (++col === width) {
          col = 0;
          row++;
        }
      }
    }
    return Float32Array.from(max, (m) => scaleFromMax(m, this.qmax));
  }

  /** Chunks of Q for a weight stored [in, out]: element i belongs to column i % out. */
  async *streamInt8(maxChunk: number): AsyncIterable<Uint8Array> {
    const scales = await this.scales();
    let col = 0;
    for await (const values of floatChunks(this.source, this.name, maxChunk)) {
      const q = new Int8Array(values.length);
      for (let j = 0; j < values.length; j++) {
        q[j] = quantizeValue(values[j]!, scales[col]!, this.qmax);
        if (++col === this.out) col = 0;
      }
      yield new Uint8Array(q.buffer);
    }
  }

  private async quantizeWhole(): Promise<Uint8Array> {
    const scales = await this.scales();
    const values = new Float32Array(this.in * this.out);
    let at = 0;
    for await (const chunk of floatChunks(this.source, this.name)) {
      values.set(chunk, at);
      at += chunk.length;
    }
    const q = new Int8Array(values.length);
    // stored [out, in] → Q [in, out]
    for (let n = 0; n < this.out; n++) {
      for (let k = 0; k < this.in; k++) q[k * this.out + n] = quantizeValue(values[n * this.in + k]!, scales[n]!, this.qmax);
    }
    return new Uint8Array(q.buffer);
  }
}

class StreamedInt8 implements TensorData {
  constructor(private readonly quantizer: ChannelQuantizer) {}
  get byteLength(): number {
    return this.quantizer.in * this.quantizer.out;
  }
  get inMemory(): undefined {
    return undefined;
  }
  chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    return this.quantizer.streamInt8(maxChunk);
  }
  describe(): string {
    return `int8 of ${this.quantizer.source.data.describe()}`;
  }
}

/**
 * A tensor's elements as float32, in order, at most `maxElements` a chunk. A source chunk that ends inside an
 * element (nothing promises otherwise) carries its tail into the next one.
 */
export async function* floatChunks(t: Tensor, name: string, maxElements = DEFAULT_CHUNK / 4): AsyncIterable<Float32Array> {
  const size = t.dtype === DataType.FLOAT ? 4 : 2;
  const decode = t.dtype === DataType.FLOAT ? decodeFloat32 : t.dtype === DataType.FLOAT16 ? decodeFloat16 : decodeBfloat16;
  let carry: Uint8Array = new Uint8Array(0);
  let total = 0;
  for await (const chunk of t.data.chunks(Math.max(size, maxElements * size))) {
    const joined = carry.length ? concat(carry, chunk) : chunk;
    const whole = joined.length - (joined.length % size);
    if (whole) yield decode(joined.subarray(0, whole));
    total += whole;
    carry = copyOf(joined.subarray(whole));
  }
  if (carry.length || total !== t.byteLength) {
    throw new SdxlOptError('BAD_TENSOR', `read ${total + carry.length} bytes of weight '${name}', expected ${t.byteLength}`, { where: t.data.describe() });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function decodeFloat32(bytes: Uint8Array): Float32Array {
  // A copy: the source's chunk may be reused, and may sit at an offset that is not a multiple of 4.
  return new Float32Array(copyOf(bytes).buffer);
}

/** A fresh copy. Not bytes.slice(): on a Node Buffer (what protobufjs decodes raw_data into) that is a view. */
function copyOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

let halfTable: Float32Array | undefined;

/** float16 bits → float32, through a 65,536-entry table (made once, 256 KB). */
function decodeFloat16(bytes: Uint8Array): Float32Array {
  const table = (halfTable ??= makeHalfTable());
  const n = bytes.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}

function makeHalfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    table[bits] =
      exponent === 0 ? sign * mantissa * 2 ** -24 : exponent === 0x1f ? (mantissa ? NaN : sign * Infinity) : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** bfloat16 is the top half of a float32. */
function decodeBfloat16(bytes: Uint8Array): Float32Array {
  const n = bytes.length >> 1;
  const words = new Uint32Array(n);
  for (let i = 0; i < n; i++) words[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
  return new Float32Array(words.buffer);
}
