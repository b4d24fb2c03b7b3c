import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InlineData, Tensor, type TensorData } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { float32ToFloat16Array } from '../../src/runtime/float16.js';
import { ChannelQuantizer, floatChunks, quantizePerChannel, roundHalfEven } from '../../passes/lib/int8/weights.js';
import { seededFloats } from '../helpers/ort.js';

/** Bytes in deliberately awkward chunks (7 bytes: elements split across chunks), as no reader promises otherwise. */
class OddChunks implements TensorData {
  reads = 0;
  constructor(private readonly bytes: Uint8Array) {}
  get byteLength(): number {
    return this.bytes.byteLength;
  }
  get inMemory(): undefined {
    return undefined;
  }
  async *chunks(): AsyncIterable<Uint8Array> {
    this.reads++;
    for (let at = 0; at < this.bytes.length; at += 7) yield this.bytes.subarray(at, Math.min(at + 7, this.bytes.length));
  }
  describe(): string {
    return 'odd chunks';
  }
}

async function collect(t: Tensor): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of t.data.chunks(64)) parts.push(Uint8Array.from(c));
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** A weight with one large column, one all-zero column and one of mixed magnitudes. */
function weight(rows: number, cols: number): Float32Array {
  const w = seededFloats(rows * cols, 11);
  for (let k = 0; k < rows; k++) {
    w[k * cols] = w[k * cols]! * 100;
    w[k * cols + 1] = 0;
  }
  return w;
}

test('dynamic-int8 weights: the round trip is within scale/2 of every element, per output channel', () => {
  const [rows, cols] = [37, 5];
  const w = weight(rows, cols);
  const { q, scales } = quantizePerChannel(w, rows, cols);
  for (let n = 0; n < cols; n++) {
    let max = 0;
    for (let k = 0; k < rows; k++) max = Math.max(max, Math.abs(w[k * cols + n]!));
    assert.equal(scales[n], Math.fround(max ? max / 127 : 1), `scale of column ${n}`);
  }
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const s = scales[i % cols]!;
    assert.ok(Math.abs(q[i]!) <= 127);
    const err = Math.abs(w[i]! - q[i]! * s);
    assert.ok(err <= s / 2 + 1e-6 * s, `element ${i}: error ${err} > scale/2 = ${s / 2}`);
    worst = Math.max(worst, err / s);
  }
  assert.ok(worst > 0.4, 'the bound is tight, not vacuous');
  assert.ok(q.slice(0).some((v) => v === 127 || v === -127), 'each channel reaches the end of the range');
});

test('dynamic-int8 weights: a weight stored [out, in] (Gemm transB) comes out [in, out] with row scales', () => {
  const [out, inn] = [5, 9];
  const stored = weight(out, inn); // rows are output channels here
  const { q, scales } = quantizePerChannel(stored, out, inn, true);
  const asInOut = new Float32Array(inn * out);
  for (let n = 0; n < out; n++) for (let k = 0; k < inn; k++) asInOut[k * out + n] = stored[n * inn + k]!;
  const plain = quantizePerChannel(asInOut, inn, out);
  assert.deepEqual(q, plain.q);
  assert.deepEqual(scales, plain.scales);
});

test('dynamic-int8 weights: streamed quantization equals the in-memory one, reading the source only when asked', async () => {
  const [rows, cols] = [23, 6];
  const w = weight(rows, cols);
  const source = new OddChunks(new Uint8Array(w.buffer));
  const quantizer = new ChannelQuantizer(new Tensor(DataType.FLOAT, [rows, cols], source), false, 'w');
  const qt = quantizer.quantizedTensor();
  const st = quantizer.scaleTensor();
  assert.equal(source.reads, 0, 'making the tensors reads nothing');
  assert.equal(qt.data.inMemory, undefined);
  assert.deepEqual([qt.dtype, ...qt.dims], [DataType.INT8, rows, cols]);
  const expected = quantizePerChannel(w, rows, cols);
  assert.deepEqual(new Int8Array((await collect(qt)).buffer), expected.q);
  assert.deepEqual(new Float32Array((await collect(st)).buffer), expected.scales);
  assert.equal(source.reads, 2, 'one read for the scales, one for the int8 values; the scales are kept');

  const transposed = new ChannelQuantizer(new Tensor(DataType.FLOAT, [rows, cols], new OddChunks(new Uint8Array(w.buffer))), true, 'wt');
  assert.deepEqual(new Int8Array((await collect(transposed.quantizedTensor())).buffer), quantizePerChannel(w, rows, cols, true).q);
});

test('dynamic-int8 weights: float16 and bfloat16 weights decode exactly before quantizing', async () => {
  const values = [0, 1, -2, 0.5, 65504, -0.0001, 3.140625, 6e-8];
  const half = float32ToFloat16Array(values);
  const decodedHalf: number[] = [];
  for await (const c of floatChunks(new Tensor(DataType.FLOAT16, [values.length], new OddChunks(new Uint8Array(half.buffer))), 'h')) decodedHalf.push(...c);
  assert.deepEqual(decodedHalf.slice(0, 5), [0, 1, -2, 0.5, 65504]);
  assert.ok(Math.abs(decodedHalf[5]! + 0.0001) < 1e-7 && decodedHalf[6] === 3.140625 && decodedHalf[7]! > 5e-8);

  const f = Float32Array.of(1.5, -3, 0.15625, 1e30);
  const words = new Uint32Array(f.buffer);
  const bf = Uint16Array.from(words, (w) => w >>> 16);
  const decodedBf: number[] = [];
  for await (const c of floatChunks(new Tensor(DataType.BFLOAT16, [4], new InlineData(new Uint8Array(bf.buffer))), 'b')) decodedBf.push(...c);
  assert.deepEqual(decodedBf.slice(0, 3), [1.5, -3, 0.15625]);
  assert.ok(Math.abs(decodedBf[3]! / 1e30 - 1) < 0.01);
});

test('dynamic-int8 weights: rounding is half to even, as QuantizeLinear rounds', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, -3]);
});
