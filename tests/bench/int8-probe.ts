/**
 * Which int8 (and 8-bit) GEMM forms ONNX Runtime's CUDA provider can load and run on this machine's GPU: tiny
 * one-layer models built in memory with the project's IR, each loaded with CPU fallback disabled (placement), then
 * run (a kernel refusing at run time, as cuBLAS refuses MatMulInteger's int8 GEMM on an H100, shows here). One
 * line per form and shape:
 *   node dist/tests/bench/int8-probe.js [cuda|cpu]
 * Forms: MatMulInteger int8 × int8 (the pass's target cuda form) in several shapes and layouts, MatMulIntegerToFloat
 * (the target cpu form), com.microsoft QOrderedMatMul (int8, cuBLASLt, A row-major × B column-major), GemmFloat8
 * (float8 e4m3, cuBLASLt) and MatMulNBits with 8-bit weights (weight-only: float activations), with float MatMul
 * timings for scale. notes/int8-kernels.md says why each is here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { TensorType, Value } from '../../src/ir/value.js';
import { writeModel } from '../../src/io/write.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { GeneratedInput } from '../../src/runtime/inputs.js';
import type { Provider } from '../../src/runtime/ort.js';
import { ModelSession } from '../../src/runtime/session.js';

const F = DataType.FLOAT;
const I8 = DataType.INT8;

interface Form {
  name: string;
  /** [..., M, K] activation shape and N. */
  x: number[];
  n: number;
  opset: number;
  build(g: Graph, x: Value, k: number, n: number): Value;
}

/** A builder over one graph: nodes appended in order, constants added as initializers. */
class Builder {
  constructor(readonly g: Graph) {}

  node(opType: string, inputs: (Value | undefined)[], type: TensorType, attrs: Record<string, number | string> = {}, domain = ''): Value {
    const node = this.g.createNode({ opType, domain, inputs, types: [type] });
    for (const [k, v] of Object.entries(attrs)) node.setAttr(k, v);
    this.g.append(node);
    return node.output();
  }

  constant(name: string, dtype: DataType, dims: number[], bytes: Uint8Array): Value {
    return this.g.addInitializer(name, new Tensor(dtype, dims, new InlineData(bytes)));
  }

  float(name: string, values: number[], dims: number[] = []): Value {
    return this.constant(name, F, dims, new Uint8Array(Float32Array.from(values).buffer));
  }
}

function randomBytes(count: number, seed: number, byte: (r: number) => number): Uint8Array {
  let s = seed >>> 0 || 1;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = byte(s >>> 8);
  }
  return out;
}

const int8Bytes = (count: number, seed = 3) => randomBytes(count, seed, (r) => (r % 255) - 127);
/** float8 e4m3fn values of magnitude 2^-3 .. 2^1, random signs and mantissas. */
const float8Bytes = (count: number, seed = 5) => randomBytes(count, seed, (r) => ((r & 1) << 7) | ((4 + (r >> 1) % 5) << 3) | ((r >> 4) & 7));

/** x (float32) → QuantizeLinear to int8 with a fixed scale (the pass computes it; here it does not matter). */
function quantizeInt8(b: Builder, x: Value, shape: number[]): Value {
  return b.node('QuantizeLinear', [x, b.float('x_scale', [0.05]), b.constant('x_zero', I8, [], new Uint8Array(1))], { dtype: I8, shape });
}

const shapeOf = (x: Value): number[] => x.type!.shape as number[];
const withLast = (shape: number[], last: number): number[] => [...shape.slice(0, -1), last];

function matMulInteger(m: number[], n: number): Form {
  return {
    name: 'MatMulInteger int8×int8→int32',
    x: m,
    n,
    opset: 17,
    build(g, x, k) {
      const b = new Builder(g);
      const xq = quantizeInt8(b, x, shapeOf(x));
      const w = b.constant('w_int8', I8, [k, n], int8Bytes(k * n));
      const acc = b.node('MatMulInteger', [xq, w], { dtype: DataType.INT32, shape: withLast(shapeOf(x), n) });
      return b.node('Cast', [acc], { dtype: F, shape: withLast(shapeOf(x), n) }, { to: F });
    },
  };
}

/** Y^T = W^T X^T: the same GEMM with the operands swapped, to see whether the other order changes cuBLAS's answer. */
function matMulIntegerSwapped(m: number, k: number, n: number): Form {
  return {
    name: 'MatMulInteger swapped operands (W^T · X^T)',
    x: [m, k],
    n,
    opset: 17,
    build(g, x) {
      const b = new Builder(g);
      const xq = quantizeInt8(b, x, [m, k]);
      const xt = b.node('Transpose', [xq], { dtype: I8, shape: [k, m] }, {});
      const wt = b.constant('wt_int8', I8, [n, k], int8Bytes(k * n));
      const acc = b.node('MatMulInteger', [wt, xt], { dtype: DataType.INT32, shape: [n, m] });
      const y = b.node('Transpose', [acc], { dtype: DataType.INT32, shape: [m, n] });
      return b.node('Cast', [y], { dtype: F, shape: [m, n] }, { to: F });
    },
  };
}

/** Both operands activations (a batched [B, M, K] × [B, K, N] product, as attention's would be). */
function matMulIntegerBatched(batch: number, m: number, k: number, n: number): Form {
  return {
    name: 'MatMulInteger batched, both operands computed',
    x: [batch, m, k],
    n,
    opset: 17,
    build(g, x) {
      const b = new Builder(g);
      const xq = quantizeInt8(b, x, [batch, m, k]);
      const w = b.constant('w_int8', I8, [batch, k, n], int8Bytes(batch * k * n));
      const wCopy = b.node('Identity', [w], { dtype: I8, shape: [batch, k, n] });
      const acc = b.node('MatMulInteger', [xq, wCopy], { dtype: DataType.INT32, shape: [batch, m, n] });
      return b.node('Cast', [acc], { dtype: F, shape: [batch, m, n] }, { to: F });
    },
  };
}

function matMulIntegerToFloat(m: number[], n: number): Form {
  return {
    name: 'com.microsoft MatMulIntegerToFloat (the target cpu form)',
    x: m,
    n,
    opset: 17,
    build(g, x, k) {
      const b = new Builder(g);
      const xq = quantizeInt8(b, x, shapeOf(x));
      const w = b.constant('w_int8', I8, [k, n], int8Bytes(k * n));
      return b.node('MatMulIntegerToFloat', [xq, w, b.float('a_scale', [0.05]), b.float('b_scale', [0.01])], { dtype: F, shape: withLast(shapeOf(x), n) }, {}, 'com.microsoft');
    },
  };
}

/**
 * QOrderedMatMul: A int8 row-major, B int8 column-major (the weight stored [N, K]: K-major, cuBLASLt's "TN"),
 * Y int8 row-major with a fixed output scale; scales are host-memory scalars. Dequantized back to float here.
 */
function qOrderedMatMul(m: number[], n: number): Form {
  return {
    name: 'com.microsoft QOrderedMatMul (cuBLASLt, B column-major, int8 out)',
    x: m,
    n,
    opset: 17,
    build(g, x, k) {
      const b = new Builder(g);
      const xq = quantizeInt8(b, x, shapeOf(x));
      const w = b.constant('w_int8_col', I8, [k, n], int8Bytes(k * n)); // bytes read column-major: [n][k]
      const yScale = b.float('y_scale', [1]);
      const yq = b.node(
        'QOrderedMatMul',
        [xq, b.float('a_scale', [0.05]), w, b.float('b_scale', [0.01]), yScale],
        { dtype: I8, shape: withLast(shapeOf(x), n) },
        { order_A: 1, order_B: 0, order_Y: 1 }, // CUBLASLT_ORDER_ROW = 1, CUBLASLT_ORDER_COL = 0
        'com.microsoft',
      );
      return b.node('DequantizeLinear', [yq, yScale, b.constant('y_zero', I8, [], new Uint8Array(1))], { dtype: F, shape: withLast(shapeOf(x), n) });
    },
  };
}

/** GemmFloat8: A float8 e4m3 [M, K] (QuantizeLinear, opset 19), B float8 stored [N, K] (transB) or [K, N]. */
function gemmFloat8(m: number, n: number, transB: boolean, out: DataType): Form {
  return {
    name: `com.microsoft GemmFloat8 e4m3 (transB=${transB ? 1 : 0}, out ${out === F ? 'float32' : 'float16'})`,
    x: [m, 0],
    n,
    opset: 19,
    build(g, x, k) {
      const b = new Builder(g);
      const f8 = DataType.FLOAT8E4M3FN;
      const xq = b.node('QuantizeLinear', [x, b.float('x_scale', [0.05]), b.constant('x_zero', f8, [], new Uint8Array(1))], { dtype: f8, shape: [m, k] });
      const w = b.constant('w_f8', f8, transB ? [n, k] : [k, n], float8Bytes(k * n));
      const y = b.node(
        'GemmFloat8',
        [xq, w, undefined, b.float('scale_a', [0.05], [1]), b.float('scale_b', [1], [1]), b.float('scale_y', [1], [1])],
        { dtype: out, shape: [m, n] },
        { transA: 0, transB: transB ? 1 : 0, dtype: out },
        'com.microsoft',
      );
      return out === F ? y : b.node('Cast', [y], { dtype: F, shape: [m, n] }, { to: F });
    },
  };
}

/** MatMulNBits with 8-bit weights: int8 weights, float activations (weight-only quantization). */
function matMulNBits8(m: number, n: number, activation: DataType): Form {
  const blockSize = 32;
  return {
    name: `com.microsoft MatMulNBits bits=8 (weight-only, ${activation === F ? 'float32' : 'float16'} activations)`,
    x: [m, 0],
    n,
    opset: 17,
    build(g, x, k) {
      const b = new Builder(g);
      const blocks = k / blockSize;
      const a = activation === F ? x : b.node('Cast', [x], { dtype: activation, shape: [m, k] }, { to: activation });
      const w = b.constant('w_u8', DataType.UINT8, [n, blocks, blockSize], int8Bytes(n * k).map((v) => v ^ 0x80));
      const scaleBytes = activation === F ? new Uint8Array(new Float32Array(n * blocks).fill(0.01).buffer) : new Uint8Array(new Uint16Array(n * blocks).fill(0x211f).buffer); // 0.01 in float16
      const scales = b.constant('w_scales', activation, [n * blocks], scaleBytes);
      const y = b.node('MatMulNBits', [a, w, scales], { dtype: activation, shape: [m, n] }, { K: k, N: n, bits: 8, block_size: blockSize }, 'com.microsoft');
      return activation === F ? y : b.node('Cast', [y], { dtype: F, shape: [m, n] }, { to: F });
    },
  };
}

function floatMatMul(m: number[], n: number, dtype: DataType): Form {
  return {
    name: `float MatMul (${dtype === F ? 'float32' : 'float16'}, for scale)`,
    x: m,
    n,
    opset: 17,
    build(g, x, k) {
      const b = new Builder(g);
      const a = dtype === F ? x : b.node('Cast', [x], { dtype, shape: shapeOf(x) }, { to: dtype });
      const bytes = dtype === F ? new Uint8Array(new Float32Array(k * n).fill(0.01).buffer) : new Uint8Array(new Uint16Array(k * n).fill(0x211f).buffer);
      const y = b.node('MatMul', [a, b.constant('w', dtype, [k, n], bytes)], { dtype, shape: withLast(shapeOf(x), n) });
      return dtype === F ? y : b.node('Cast', [y], { dtype: F, shape: withLast(shapeOf(x), n) }, { to: F });
    },
  };
}

function modelOf(form: Form, k: number): Model {
  const g = new Graph('int8-probe');
  const shape = form.x[form.x.length - 1] === 0 ? withLast(form.x, k) : form.x;
  const x = g.createValue('x', { dtype: F, shape });
  g.inputs.push(x);
  const y = form.build(g, x, k, form.n);
  g.outputs.push(y);
  return new Model(g, 10, new Map([['', form.opset], ['com.microsoft', 1]]));
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const status = /\b(CUBLAS_STATUS_\w+|CUDA_ERROR_\w+|cudaError\w+)\b/.exec(text)?.[1];
  const line = text.split('\n')[0]!.replace(/^ONNX Runtime (cannot load|failed to run) the model on \w+: /, '');
  return `${status ? `${status}: ` : ''}${line.slice(0, 300)}`;
}

async function probe(form: Form, k: number, provider: Provider, dir: string, index: number): Promise<string> {
  const m = form.x[form.x.length - 1] === 0 ? withLast(form.x, k) : form.x;
  const label = `${form.name} | x [${m.join(', ')}] × [${k}, ${form.n}]`;
  const file = path.join(dir, `probe-${index}.onnx`);
  try {
    await writeModel(modelOf(form, k), file, { externalData: 'never' });
  } catch (e) {
    return `${label} | build failed: ${firstLine(e)}`;
  }
  let placement = 'all nodes on the provider';
  let session: ModelSession | undefined;
  if (provider !== 'cpu') {
    try {
      session = await ModelSession.open(file, { provider, strict: true });
    } catch (e) {
      placement = `not all on ${provider}: ${firstLine(e)}`;
    }
  }
  try {
    session ??= await ModelSession.open(file, { provider });
  } catch (e) {
    return `${label} | load failed: ${firstLine(e)}`;
  }
  const count = m.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = Math.sin(i * 0.37);
  const inputs: GeneratedInput[] = [{ name: 'x', dtype: F, type: 'float32', dims: m, data }];
  try {
    await session.run(inputs);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push((await session.run(inputs)).ms);
    times.sort((a, b) => a - b);
    return `${label} | ok, ${times[2]!.toFixed(3)} ms (median of 5, wall) | ${placement}`;
  } catch (e) {
    return `${label} | run failed: ${firstLine(e)} | ${placement}`;
  } finally {
    await session.close();
  }
}

const provider: Provider = process.argv[2] === 'cpu' ? 'cpu' : 'cuda';
/** [form, K] pairs: K is the layer's in features. */
const forms: [Form, number][] = [
  [matMulInteger([16, 16], 16), 16],
  [matMulInteger([32, 32], 32), 32],
  [matMulInteger([64, 64], 64), 64],
  [matMulInteger([128, 128], 128), 128],
  [matMulInteger([7, 5], 3), 5], // leading dims not multiples of 32: ORT pads them
  [matMulInteger([2, 1280], 1280), 1280], // time embedding: 2 rows
  [matMulInteger([154, 2048], 640), 2048], // cross-attention k/v: 2 × 77 tokens
  [matMulInteger([4096, 320], 640), 320],
  [matMulInteger([2, 4096, 320], 640), 320], // 3-D activation, folded into one GEMM
  [matMulInteger([8192, 640], 640), 640],
  [matMulInteger([2048, 1280], 5120), 1280],
  [matMulIntegerSwapped(4096, 320, 640), 320],
  [matMulIntegerBatched(2, 64, 128, 64), 128],
  [matMulIntegerToFloat([4096, 320], 640), 320],
  [qOrderedMatMul([32, 32], 32), 32],
  [qOrderedMatMul([4096, 320], 640), 320],
  [qOrderedMatMul([2, 4096, 320], 640), 320],
  [gemmFloat8(4096, 640, true, F), 320],
  [gemmFloat8(4096, 640, true, DataType.FLOAT16), 320],
  [gemmFloat8(4096, 640, false, F), 320],
  [matMulNBits8(4096, 640, DataType.FLOAT16), 320],
  [matMulNBits8(4096, 640, F), 320],
  [floatMatMul([4096, 320], 640, F), 320],
  [floatMatMul([4096, 320], 640, DataType.FLOAT16), 320],
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-int8-probe-'));
const started = performance.now();
try {
  console.log(`int8 probe on ${provider} (form | shapes | result | placement with CPU fallback disabled)`);
  for (const [i, [form, k]] of forms.entries()) console.log(await probe(form, k, provider, dir, i));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
