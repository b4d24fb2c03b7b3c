/** Inference rules op by op: small graphs, expected types written out. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inferTypes } from '../src/ir/infer/index.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { GraphBuilder } from './helpers/graph-builder.js';

const { FLOAT, FLOAT16, BFLOAT16, INT64, INT32, INT8, UINT8, BOOL } = DataType;
const MS = 'com.microsoft';

/** Runs inference and returns [dtype, shape] of each value asked about. */
function infer(b: GraphBuilder, ...values: Value[]) {
  const report = inferTypes(b.graph);
  assert.deepEqual(report.issues, []);
  assert.deepEqual(report.unknownOps, {});
  return values.map((v) => [v.type?.dtype, v.type?.shape]);
}

describe('shape computations', () => {
  test('Shape → Gather → Unsqueeze → Concat (with Mul and Div) → Reshape gives symbolic output dims', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 320, 'height', 'width']);
    const shape = b.op('Shape', [x]);
    const dim = (i: number) => b.op('Gather', [shape, b.int64s(`i${i}`, [i], [])], { axis: 0 });
    const hw = b.op('Mul', [dim(2), dim(3)]);
    const heads = b.op('Div', [dim(1), b.int64s('c64', [64], [])]);
    const axes = b.int64s('axes0', [0]);
    const target = b.op('Concat', [b.op('Unsqueeze', [dim(0), axes]), b.op('Unsqueeze', [hw, axes]), b.op('Unsqueeze', [heads, axes]), b.int64s('m1', [-1])], { axis: 0 });
    const y = b.op('Reshape', [x, target]);
    assert.deepEqual(infer(b, target, y), [
      [INT64, [4]],
      [FLOAT, ['batch', 'height*width', 5, 64]],
    ]);
  });

  test('Reshape: 0 copies, -1 infers (symbolically too), allowzero keeps a literal 0', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 'seq', 640]);
    const a = b.op('Reshape', [x, b.int64s('t1', [0, 0, 10, -1])]);
    const c = b.op('Reshape', [x, b.int64s('t2', [-1, 640])]);
    const z = b.input('z', FLOAT, [0, 4]);
    const d = b.op('Reshape', [z, b.int64s('t3', [0, 4])], { allowzero: 1 });
    assert.deepEqual(infer(b, a, c, d), [
      [FLOAT, ['batch', 'seq', 10, 64]],
      [FLOAT, ['batch*seq', 640]],
      [FLOAT, [0, 4]],
    ]);
  });

  test('Unsqueeze and Squeeze: attribute form (opset 11) and input form (opset 13)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['n', 4]);
    const u1 = b.op('Unsqueeze', [x], { axes: [0, -1] });
    const u2 = b.op('Unsqueeze', [x, b.int64s('ax', [1])]);
    const s1 = b.op('Squeeze', [u1], { axes: [0] });
    const s2 = b.op('Squeeze', [u2, b.int64s('ax2', [-2])]);
    const s3 = b.op('Squeeze', [u1]);
    assert.deepEqual(infer(b, u1, u2, s1, s2, s3), [
      [FLOAT, [1, 'n', 4, 1]],
      [FLOAT, ['n', 1, 4]],
      [FLOAT, ['n', 4, 1]],
      [FLOAT, ['n', 4]],
      [FLOAT, ['n', 4]],
    ]);
  });

  test('Shape with start/end, Slice of a shape, Cast, and ConstantOfShape/Equal/Where/Expand', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 77, 2048]);
    const tail = b.op('Shape', [x], { start: 1 });
    const last = b.op('Slice', [b.op('Shape', [x]), b.int64s('s', [-1]), b.int64s('e', [2 ** 53 - 1])]);
    const asFloat = b.op('Cast', [last], { to: FLOAT });
    // torch's expand(-1): Where(Equal(shape, -1), ones, shape).
    const t = b.input('t', FLOAT, ['batch']);
    const shapeT = b.op('Shape', [t]);
    const ones = b.op('ConstantOfShape', [b.int64s('one', [1])], { value: { dims: [1], data_type: INT64, raw_data: new Uint8Array(new BigInt64Array([1n]).buffer) } });
    const isMinus = b.op('Equal', [shapeT, b.int64s('minus', [-1], [])]);
    const target = b.op('Where', [isMinus, ones, shapeT]);
    const expanded = b.op('Expand', [b.input('s0', FLOAT, []), target]);
    const report = inferTypes(b.graph);
    assert.deepEqual(report.knownValues.get(tail)?.data, [77, 2048]);
    assert.deepEqual(report.knownValues.get(asFloat)?.data, [2048]);
    assert.deepEqual(report.knownValues.get(isMinus)?.data, [0]);
    assert.deepEqual([tail.type?.shape, last.type?.shape, asFloat.type?.dtype], [[2], [1], FLOAT]);
    assert.deepEqual(expanded.type?.shape, ['batch']);
  });

  test('Slice with axes and steps, symbolic and numeric', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 'seq', 10240]);
    const half = b.op('Slice', [x, b.int64s('st', [0]), b.int64s('en', [5120]), b.int64s('ax', [-1]), b.int64s('sp', [1])]);
    const rest = b.op('Slice', [x, b.int64s('st2', [1]), b.int64s('en2', [2 ** 53 - 1]), b.int64s('ax2', [1])]);
    const strided = b.op('Slice', [x, b.int64s('st3', [0]), b.int64s('en3', [10240]), b.int64s('ax3', [2]), b.int64s('sp3', [3])]);
    const reversed = b.op('Slice', [x, b.int64s('st4', [-1]), b.int64s('en4', [-(2 ** 53 - 1)]), b.int64s('ax4', [1]), b.int64s('sp4', [-1])]);
    const oldForm = b.op('Slice', [x], { starts: [2], ends: [4], axes: [2] });
    assert.deepEqual(infer(b, half, rest, strided, reversed, oldForm), [
      [FLOAT, ['batch', 'seq', 5120]],
      [FLOAT, ['batch', 'seq-1', 10240]],
      [FLOAT, ['batch', 'seq', 3414]],
      [FLOAT, ['batch', 'seq', 10240]],
      [FLOAT, ['batch', 'seq', 2]],
    ]);
  });

  test('Split: attribute sizes, input sizes, equal parts and num_outputs', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['n', 'seq', 10]);
    const a = b.node('Split', [x], { axis: 2, split: [4, 6] }, { outputs: 2 }).outputs;
    const c = b.node('Split', [x, b.int64s('sz', [3, 7])], { axis: -1 }, { outputs: 2 }).outputs;
    const d = b.node('Split', [x], { axis: 2, num_outputs: 3 }, { outputs: 3 }).outputs;
    const e = b.node('Split', [b.input('y', FLOAT, ['n', '2*k'])], { axis: 1 }, { outputs: 2 }).outputs;
    assert.deepEqual(infer(b, ...a, ...c, ...d, ...e).map(([, s]) => s), [
      ['n', 'seq', 4], ['n', 'seq', 6],
      ['n', 'seq', 3], ['n', 'seq', 7],
      ['n', 'seq', 4], ['n', 'seq', 4], ['n', 'seq', 2],
      ['n', 'k'], ['n', 'k'],
    ]);
  });

  test('Transpose, Gather on data, Concat along an axis, Identity', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT16, ['b', 's', 8, 64]);
    const t = b.op('Transpose', [x], { perm: [0, 2, 1, 3] });
    const g = b.op('Gather', [x, b.int64s('idx', [0, 1, 2], [3])], { axis: 2 });
    const c = b.op('Concat', [x, x], { axis: 1 });
    const i = b.op('Identity', [c]);
    assert.deepEqual(infer(b, t, g, i), [
      [FLOAT16, ['b', 8, 's', 64]],
      [FLOAT16, ['b', 's', 3, 64]],
      [FLOAT16, ['b', '2*s', 8, 64]],
    ]);
  });
});

describe('broadcasting and elementwise', () => {
  test('numpy broadcasting; comparisons give bool; Where takes its data type from x/y', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 320, 'h', 'w']);
    const temb = b.input('temb', FLOAT, ['batch', 320, 1, 1]);
    const bias = b.input('bias', FLOAT, [320, 1, 1]);
    const add = b.op('Add', [b.op('Add', [x, temb]), bias]);
    const pow = b.op('Pow', [x, b.constant('two', FLOAT, [], [2])]);
    const eq = b.op('Equal', [x, temb]);
    const where = b.op('Where', [eq, b.input('i', INT64, [1]), b.input('j', INT64, [1, 1, 1, 1])]);
    const unary = ['Sqrt', 'Erf', 'Sigmoid', 'Sin', 'Cos', 'Exp', 'Softmax'].map((op) => b.op(op, [x]));
    assert.deepEqual(infer(b, add, pow, eq, where, ...unary), [
      [FLOAT, ['batch', 320, 'h', 'w']],
      [FLOAT, ['batch', 320, 'h', 'w']],
      [BOOL, ['batch', 320, 'h', 'w']],
      [INT64, ['batch', 320, 'h', 'w']],
      ...unary.map(() => [FLOAT, ['batch', 320, 'h', 'w']]),
    ]);
  });

  test('incompatible sizes are reported', () => {
    const b = new GraphBuilder();
    b.op('Add', [b.input('x', FLOAT, [2, 3]), b.input('y', FLOAT, [4, 3])]);
    const report = inferTypes(b.graph);
    assert.equal(report.issues[0]?.kind, 'incompatible');
    assert.match(report.issues[0]!.message, /cannot broadcast shapes \[2, 3\] and \[4, 3\]/);
  });
});

describe('neural-network ops', () => {
  test('MatMul (batched, broadcast, 1-D) and Gemm with transB', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 'seq', 640]);
    const w = b.weight('w', FLOAT, [640, 1920]);
    const q = b.input('q', FLOAT, ['batch', 10, 'seq', 64]);
    const k = b.input('k', FLOAT, ['batch', 10, 64, 77]);
    const v1 = b.input('v1', FLOAT, [640]);
    const gw = b.weight('gw', FLOAT, [1280, 320]);
    const gx = b.input('gx', FLOAT, ['batch', 320]);
    const outs = [b.op('MatMul', [x, w]), b.op('MatMul', [q, k]), b.op('MatMul', [x, v1]), b.op('Gemm', [gx, gw, b.weight('gb', FLOAT, [1280])], { transB: 1 })];
    assert.deepEqual(infer(b, ...outs), [
      [FLOAT, ['batch', 'seq', 1920]],
      [FLOAT, ['batch', 10, 'seq', 77]],
      [FLOAT, ['batch', 'seq']],
      [FLOAT, ['batch', 1280]],
    ]);
  });

  test('Conv: padding, stride, dilation, groups, auto_pad', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['batch', 4, 'h', 'w']);
    const w3 = b.weight('w3', FLOAT, [320, 4, 3, 3]);
    const same = b.op('Conv', [x, w3], { pads: [1, 1, 1, 1] });
    const down = b.op('Conv', [x, w3], { pads: [1, 1, 1, 1], strides: [2, 2] });
    const valid = b.op('Conv', [x, w3], {});
    const dilated = b.op('Conv', [x, w3], { dilations: [2, 2], auto_pad: 'VALID' });
    const upper = b.op('Conv', [x, w3], { auto_pad: 'SAME_UPPER', strides: [2, 2] });
    const grouped = b.op('Conv', [x, b.weight('wg', FLOAT, [8, 2, 1, 1])], { group: 2 });
    const fixed = b.op('Conv', [b.input('xs', FLOAT, [2, 4, 17, 16]), w3], { pads: [1, 1, 1, 1], strides: [2, 2] });
    assert.deepEqual(infer(b, same, down, valid, dilated, upper, grouped, fixed).map(([, s]) => s), [
      ['batch', 320, 'h', 'w'],
      ['batch', 320, 'floor((h+1)/2)', 'floor((w+1)/2)'],
      ['batch', 320, 'h-2', 'w-2'],
      ['batch', 320, 'h-4', 'w-4'],
      ['batch', 320, 'floor((h+1)/2)', 'floor((w+1)/2)'],
      ['batch', 8, 'h', 'w'],
      [2, 320, 9, 8],
    ]);
  });

  test('LayerNormalization and Reshape in bf16 and fp16; InstanceNormalization; ReduceMean both forms', () => {
    const b = new GraphBuilder();
    const x = b.input('x', BFLOAT16, ['b', 's', 640]);
    const ln = b.node('LayerNormalization', [x, b.weight('g', BFLOAT16, [640]), b.weight('bb', BFLOAT16, [640])], { axis: -1, epsilon: 1e-5 }, { outputs: 3 });
    const r = b.op('Reshape', [ln.output(0), b.int64s('t', [0, 0, 10, 64])]);
    const h = b.input('h', FLOAT16, ['b', 320, 'h', 'w']);
    const r16 = b.op('Reshape', [h, b.int64s('t16', [0, 32, -1])]);
    const inorm = b.op('InstanceNormalization', [r16, b.weight('sc', FLOAT16, [32]), b.weight('bi', FLOAT16, [32])], { epsilon: 1e-5 });
    const mean1 = b.op('ReduceMean', [h], { axes: [2, 3], keepdims: 1 });
    const mean2 = b.op('ReduceMean', [h, b.int64s('rax', [-1])], { keepdims: 0 });
    assert.deepEqual(infer(b, ...ln.outputs, r, r16, inorm, mean1, mean2), [
      [BFLOAT16, ['b', 's', 640]],
      [FLOAT, ['b', 's', 1]],
      [FLOAT, ['b', 's', 1]],
      [BFLOAT16, ['b', 's', 10, 64]],
      [FLOAT16, ['b', 32, '10*h*w']],
      [FLOAT16, ['b', 32, '10*h*w']],
      [FLOAT16, ['b', 320, 1, 1]],
      [FLOAT16, ['b', 320, 'h']],
    ]);
  });

  test('Resize by scales (opset 11+ and opset 10 forms) and by sizes', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['b', 64, 'h', 'w']);
    const up = b.op('Resize', [x, undefined, b.constant('sc', FLOAT, [4], [1, 1, 2, 2])], { mode: 'nearest' });
    const down = b.op('Resize', [x, b.constant('sc10', FLOAT, [4], [1, 1, 0.5, 0.5])]);
    const sized = b.op('Resize', [x, undefined, undefined, b.int64s('sz', [2, 64, 128, 96])]);
    const fixed = b.op('Resize', [b.input('xs', FLOAT, [1, 3, 5, 5]), undefined, b.constant('sc2', FLOAT, [4], [1, 1, 1.5, 2])]);
    assert.deepEqual(infer(b, up, down, sized, fixed).map(([, s]) => s), [
      ['b', 64, '2*h', '2*w'],
      ['b', 64, 'floor(h/2)', 'floor(w/2)'],
      [2, 64, 128, 96],
      [1, 3, 7, 10],
    ]);
  });
});

describe('com.microsoft contrib ops', () => {
  test('MultiHeadAttention: separate q/k/v, packed QKV, packed KV', () => {
    const b = new GraphBuilder();
    const q = b.input('q', FLOAT16, ['b', 's', 640]);
    const k = b.input('k', FLOAT16, ['b', 'seq', 640]);
    const v = b.input('v', FLOAT16, ['b', 'seq', 640]);
    const separate = b.op('MultiHeadAttention', [q, k, v], { num_heads: 10 }, MS);
    const qkv = b.op('MultiHeadAttention', [b.input('qkv', FLOAT16, ['b', 's', 10, 3, 64])], { num_heads: 10 }, MS);
    const kv = b.op('MultiHeadAttention', [q, b.input('kv', FLOAT16, ['b', 77, 10, 2, 64])], { num_heads: 10 }, MS);
    assert.deepEqual(infer(b, separate, qkv, kv), [
      [FLOAT16, ['b', 's', 640]],
      [FLOAT16, ['b', 's', 640]],
      [FLOAT16, ['b', 's', 640]],
    ]);
  });

  test('GroupNorm, NhwcConv, SkipLayerNormalization, BiasSplitGelu, BiasAdd', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT16, ['b', 'h', 'w', 320]);
    const gn = b.op('GroupNorm', [x, b.weight('g', FLOAT, [320]), b.weight('be', FLOAT, [320])], { groups: 32, activation: 1, epsilon: 1e-5 }, MS);
    const conv = b.op('NhwcConv', [gn, b.weight('w', FLOAT16, [640, 3, 3, 320])], { pads: [1, 1, 1, 1], strides: [2, 2] }, MS);
    const seq = b.input('seq', FLOAT16, ['b', 's', 640]);
    const sln = b.node('SkipLayerNormalization', [seq, seq, b.weight('sg', FLOAT16, [640]), b.weight('sb', FLOAT16, [640])], { epsilon: 1e-5 }, { outputs: 4, domain: MS });
    const gelu = b.op('BiasSplitGelu', [b.input('ff', FLOAT16, ['b', 's', 5120]), b.weight('fb', FLOAT16, [5120])], {}, MS);
    const badd = b.op('BiasAdd', [seq, b.weight('bb', FLOAT16, [640]), seq], {}, MS);
    assert.deepEqual(infer(b, gn, conv, ...sln.outputs, gelu, badd), [
      [FLOAT16, ['b', 'h', 'w', 320]],
      [FLOAT16, ['b', 'floor((h+1)/2)', 'floor((w+1)/2)', 640]],
      [FLOAT16, ['b', 's', 640]],
      [FLOAT, ['b', 's', 1]],
      [FLOAT, ['b', 's', 1]],
      [FLOAT16, ['b', 's', 640]],
      [FLOAT16, ['b', 's', 2560]],
      [FLOAT16, ['b', 's', 640]],
    ]);
  });

  test('quantization: MatMulInteger, QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear', () => {
    const b = new GraphBuilder();
    const x = b.input('x', FLOAT, ['b', 's', 640]);
    const dq = b.node('DynamicQuantizeLinear', [x], {}, { outputs: 3 });
    const w = b.weight('w', INT8, [640, 1280]);
    const mm = b.op('MatMulInteger', [dq.output(0), w, dq.output(2), b.constant('wz', INT8, [], [0])]);
    const q8 = b.op('QuantizeLinear', [x, b.constant('s', FLOAT, [], [0.1]), b.constant('z', INT8, [], [0])]);
    const qu = b.op('QuantizeLinear', [x, b.constant('s2', FLOAT, [], [0.1])]);
    const deq = b.op('DequantizeLinear', [q8, b.constant('s3', FLOAT16, [], [0]), b.constant('z3', INT8, [], [0])]);
    assert.deepEqual(infer(b, ...dq.outputs, mm, q8, qu, deq), [
      [UINT8, ['b', 's', 640]],
      [FLOAT, []],
      [UINT8, []],
      [INT32, ['b', 's', 1280]],
      [INT8, ['b', 's', 640]],
      [UINT8, ['b', 's', 640]],
      [FLOAT16, ['b', 's', 640]],
    ]);
  });
});
