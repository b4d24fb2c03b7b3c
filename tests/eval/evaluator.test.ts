/**
 * The evaluator against ONNX Runtime: each case is one node over constant inputs, computed by both; results must
 * agree exactly (shape, element type and every element). Plus the refusals: what must not be folded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Long from 'long';
import { evaluateNode, type HostTensor } from '../../src/eval/index.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { TensorProto } from '../../src/onnx/types.js';
import { constantElements } from '../../passes/lib/constants.js';
import { runBytesOnCpu } from '../helpers/ort.js';
import { floatTensor, int64Tensor, tinyModel, tinyModelProto, type TinyNode } from '../helpers/tiny-model.js';

const INT64_MAX = 9223372036854775807n;

function int32Tensor(name: string, values: number[], dims = [values.length]): TensorProto {
  return { name, data_type: DataType.INT32, dims: dims.map((d) => Long.fromNumber(d)), raw_data: new Uint8Array(Int32Array.from(values).buffer) };
}
function boolTensor(name: string, values: boolean[], dims = [values.length]): TensorProto {
  return { name, data_type: DataType.BOOL, dims: dims.map((d) => Long.fromNumber(d)), raw_data: Uint8Array.from(values, (v) => (v ? 1 : 0)) };
}
function doubleTensor(name: string, values: number[], dims = [values.length]): TensorProto {
  return { name, data_type: DataType.DOUBLE, dims: dims.map((d) => Long.fromNumber(d)), raw_data: new Uint8Array(Float64Array.from(values).buffer) };
}

interface Case {
  title: string;
  op: string;
  inputs: (TensorProto | '')[];
  attrs?: TinyNode['attrs'];
  opset?: number;
  outType: DataType;
}

const f = (name: string, v: number[], d?: number[]) => floatTensor(name, v, d);
const i64 = (name: string, v: (number | bigint)[], d?: number[]) => int64Tensor(name, v, d);

const CASES: Case[] = [
  { title: 'int64 Div truncates toward zero', op: 'Div', inputs: [i64('a', [7, -7, 7, -7]), i64('b', [2, 2, -2, -2])], outType: DataType.INT64 },
  { title: 'int32 Div truncates toward zero', op: 'Div', inputs: [int32Tensor('a', [7, -7, 9]), int32Tensor('b', [2])], outType: DataType.INT32 },
  { title: 'float Div', op: 'Div', inputs: [f('a', [1, 2, 3]), f('b', [3, 7, 0.1])], outType: DataType.FLOAT },
  { title: 'broadcast Add [2,1]+[3]', op: 'Add', inputs: [f('a', [1, 2], [2, 1]), f('b', [10, 20, 30])], outType: DataType.FLOAT },
  { title: 'int64 Mul and Sub', op: 'Sub', inputs: [i64('a', [5, 1n << 40n]), i64('b', [7, 3])], outType: DataType.INT64 },
  { title: 'int32 Mul wraps', op: 'Mul', inputs: [int32Tensor('a', [65536, 3]), int32Tensor('b', [65536, -4])], outType: DataType.INT32 },
  { title: 'double Mul', op: 'Mul', inputs: [doubleTensor('a', [0.1, 3]), doubleTensor('b', [0.2, 1e300])], outType: DataType.DOUBLE },
  { title: 'Sqrt', op: 'Sqrt', inputs: [f('a', [2, 64, 0.5])], outType: DataType.FLOAT },
  { title: 'Pow float', op: 'Pow', inputs: [f('a', [2, 9, 0.5]), f('b', [0.5])], outType: DataType.FLOAT },
  { title: 'Pow int64', op: 'Pow', inputs: [i64('a', [2, -3, 5]), i64('b', [3])], outType: DataType.INT64 },
  { title: 'Neg int64', op: 'Neg', inputs: [i64('a', [3, -4, 0])], outType: DataType.INT64 },
  { title: 'Floor and Ceil', op: 'Floor', inputs: [f('a', [1.5, -1.5, 2])], outType: DataType.FLOAT },
  { title: 'Ceil', op: 'Ceil', inputs: [f('a', [1.5, -1.5, 2])], outType: DataType.FLOAT },
  { title: 'Min variadic with broadcast', op: 'Min', inputs: [i64('a', [5, 1, 9]), i64('b', [4]), i64('c', [6, 0, 7])], outType: DataType.INT64 },
  { title: 'Max float', op: 'Max', inputs: [f('a', [1, -2]), f('b', [0, 0])], outType: DataType.FLOAT },
  { title: 'Cast float→int64 truncates', op: 'Cast', inputs: [f('a', [2.7, -2.7, 0.5])], attrs: { to: DataType.INT64 }, outType: DataType.INT64 },
  { title: 'Cast int64→float', op: 'Cast', inputs: [i64('a', [3, 16777217])], attrs: { to: DataType.FLOAT }, outType: DataType.FLOAT },
  { title: 'Cast int64→int32 wraps', op: 'Cast', inputs: [i64('a', [1n << 32n, -1, 5])], attrs: { to: DataType.INT32 }, outType: DataType.INT32 },
  { title: 'Cast float→bool', op: 'Cast', inputs: [f('a', [0, 0.1, -3])], attrs: { to: DataType.BOOL }, outType: DataType.BOOL },
  { title: 'Cast double→float rounds', op: 'Cast', inputs: [doubleTensor('a', [0.1, 1 / 3])], attrs: { to: DataType.FLOAT }, outType: DataType.FLOAT },
  { title: 'Equal int64', op: 'Equal', inputs: [i64('a', [1, 2, 3]), i64('b', [2])], outType: DataType.BOOL },
  { title: 'Where with broadcast', op: 'Where', inputs: [boolTensor('c', [true, false]), f('x', [1, 2, 3, 4], [2, 2]), f('y', [9])], outType: DataType.FLOAT },
  { title: 'Gather scalar index from a shape', op: 'Gather', inputs: [i64('a', [2, 320, 64, 64]), i64('i', [1], [])], attrs: { axis: 0 }, outType: DataType.INT64 },
  { title: 'Gather negative indices on axis 1', op: 'Gather', inputs: [f('a', [1, 2, 3, 4, 5, 6], [2, 3]), i64('i', [-1, 0])], attrs: { axis: 1 }, outType: DataType.FLOAT },
  { title: 'Unsqueeze opset 13 (axes input)', op: 'Unsqueeze', inputs: [i64('a', [7], []), i64('axes', [0])], outType: DataType.INT64 },
  { title: 'Unsqueeze opset 11 (axes attribute)', op: 'Unsqueeze', opset: 11, inputs: [f('a', [1, 2])], attrs: { axes: [0, -1] }, outType: DataType.FLOAT },
  { title: 'Squeeze opset 13 without axes', op: 'Squeeze', inputs: [f('a', [1, 2], [1, 2, 1])], outType: DataType.FLOAT },
  { title: 'Squeeze opset 11 with axes', op: 'Squeeze', opset: 11, inputs: [f('a', [1, 2], [1, 2, 1])], attrs: { axes: [2] }, outType: DataType.FLOAT },
  { title: 'Concat int64 vectors', op: 'Concat', inputs: [i64('a', [2]), i64('b', [-1, 2]), i64('c', [32])], attrs: { axis: 0 }, outType: DataType.INT64 },
  { title: 'Concat on axis -1', op: 'Concat', inputs: [f('a', [1, 2], [2, 1]), f('b', [3, 4, 5, 6], [2, 2])], attrs: { axis: -1 }, outType: DataType.FLOAT },
  { title: 'Slice to INT64_MAX', op: 'Slice', inputs: [i64('a', [2, 77, 640]), i64('s', [-1]), i64('e', [INT64_MAX])], outType: DataType.INT64 },
  { title: 'Slice with axes and negative step', op: 'Slice', inputs: [f('a', [0, 1, 2, 3, 4, 5, 6, 7], [2, 4]), i64('s', [-1]), i64('e', [-INT64_MAX]), i64('ax', [1]), i64('st', [-2])], outType: DataType.FLOAT },
  { title: 'Slice opset 9 (attributes)', op: 'Slice', opset: 9, inputs: [f('a', [0, 1, 2, 3, 4, 5], [2, 3])], attrs: { starts: [1], ends: [1000], axes: [1] }, outType: DataType.FLOAT },
  { title: 'Reshape with 0 and -1', op: 'Reshape', inputs: [f('a', [1, 2, 3, 4, 5, 6], [1, 2, 3]), i64('s', [0, -1])], outType: DataType.FLOAT },
  { title: 'Transpose 3-D', op: 'Transpose', inputs: [f('a', Array.from({ length: 24 }, (_, i) => i), [2, 3, 4])], attrs: { perm: [2, 0, 1] }, outType: DataType.FLOAT },
  { title: 'Transpose without perm reverses', op: 'Transpose', inputs: [f('a', [1, 2, 3, 4, 5, 6], [2, 3])], outType: DataType.FLOAT },
  { title: 'Expand', op: 'Expand', inputs: [f('a', [1, 2, 3], [3, 1]), i64('s', [2, 1, 4])], outType: DataType.FLOAT },
  { title: 'ConstantOfShape default (float 0)', op: 'ConstantOfShape', inputs: [i64('s', [2, 3])], outType: DataType.FLOAT },
  { title: 'ConstantOfShape int64 value', op: 'ConstantOfShape', inputs: [i64('s', [3])], attrs: { value: i64('', [7], [1]) }, outType: DataType.INT64 },
  { title: 'Range int64', op: 'Range', inputs: [i64('a', [10], []), i64('b', [-3], []), i64('c', [-4], [])], outType: DataType.INT64 },
  { title: 'Range float accumulates', op: 'Range', inputs: [f('a', [0], []), f('b', [1], []), f('c', [0.1], [])], outType: DataType.FLOAT },
  { title: 'ReduceProd of a shape, keepdims 0', op: 'ReduceProd', inputs: [i64('a', [2, 4, 16, 16])], attrs: { keepdims: 0 }, outType: DataType.INT64 },
  { title: 'ReduceProd opset 13 axes attribute', op: 'ReduceProd', inputs: [f('a', [1, 2, 3, 4, 5, 6], [2, 3])], attrs: { axes: [1] }, outType: DataType.FLOAT },
  { title: 'ReduceProd opset 18 axes input', op: 'ReduceProd', opset: 18, inputs: [f('a', [1, 2, 3, 4, 5, 6], [2, 3]), i64('ax', [0])], attrs: { keepdims: 0 }, outType: DataType.FLOAT },
  { title: 'Identity', op: 'Identity', inputs: [i64('a', [1, 2])], outType: DataType.INT64 },
  { title: 'Trilu upper (the causal mask)', op: 'Trilu', inputs: [f('a', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 4])], outType: DataType.FLOAT },
  { title: 'Trilu lower, k=-1, batched', op: 'Trilu', inputs: [f('a', Array.from({ length: 18 }, (_, i) => i + 1), [2, 3, 3]), i64('k', [-1], [])], attrs: { upper: 0 }, outType: DataType.FLOAT },
  { title: 'Trilu upper, k=2, int64', op: 'Trilu', inputs: [i64('a', [1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]), i64('k', [2], [])], outType: DataType.INT64 },
];

function nodeOf(c: Case) {
  const inputs = c.inputs.map((t, i) => (t === '' ? '' : `in${i}`));
  const initializers = c.inputs.flatMap((t, i) => (t === '' ? [] : [{ ...t, name: `in${i}` }]));
  const spec = { opset: c.opset ?? 17, inputs: [], outputs: [['out', c.outType] as [string, DataType]], initializers, nodes: [{ op: c.op, inputs, outputs: ['out'], attrs: c.attrs }] };
  return { spec, model: tinyModel(spec) };
}

function asArray(data: ArrayLike<number | bigint>): (number | bigint)[] {
  return Array.from(data);
}

for (const c of CASES) {
  test(`evaluator matches ONNX Runtime: ${c.title}`, async () => {
    const { spec, model } = nodeOf(c);
    const node = model.graph.firstNode!;
    const inputs = node.inputs.map((v) => (v ? constantElements(v, 1 << 20) : undefined));
    const outcome = evaluateNode(inputs, { node, opset: c.opset ?? 17, maxBytes: 1 << 20 });
    assert.ok('outputs' in outcome, `refused: ${'refused' in outcome ? outcome.refused : ''}`);
    const mine = outcome.outputs[0] as HostTensor;
    const theirs = (await runBytesOnCpu(encodeModel(tinyModelProto(spec)))).out!;
    assert.deepEqual([...mine.dims], [...theirs.dims]);
    assert.equal(mine.dtype, c.outType);
    const expected = c.outType === DataType.BOOL ? asArray(theirs.data as Uint8Array).map((v) => Number(v)) : asArray(theirs.data as ArrayLike<number | bigint>);
    assert.deepEqual(asArray(mine.data), expected);
  });
}

test('evaluator refuses integer division by zero', () => {
  const { model } = nodeOf({ title: '', op: 'Div', inputs: [i64('a', [1]), i64('b', [0])], outType: DataType.INT64 });
  const node = model.graph.firstNode!;
  const outcome = evaluateNode(node.inputs.map((v) => constantElements(v, 1 << 20)), { node, opset: 17, maxBytes: 1 << 20 });
  assert.deepEqual(outcome, { refused: 'integer division by zero' });
});

test('evaluator refuses a result over the size cap before allocating it', () => {
  const { model } = nodeOf({ title: '', op: 'ConstantOfShape', inputs: [i64('s', [2, 1280, 128, 128])], outType: DataType.FLOAT });
  const node = model.graph.firstNode!;
  const outcome = evaluateNode(node.inputs.map((v) => constantElements(v, 1 << 20)), { node, opset: 17, maxBytes: 1 << 20 });
  assert.ok('refused' in outcome && /over the 1048576-byte cap/.test(outcome.refused), JSON.stringify(outcome));
});

test('evaluator refuses a float→int Cast of a value that does not fit', () => {
  const { model } = nodeOf({ title: '', op: 'Cast', inputs: [f('a', [3e9])], attrs: { to: DataType.INT32 }, outType: DataType.INT32 });
  const node = model.graph.firstNode!;
  const outcome = evaluateNode(node.inputs.map((v) => constantElements(v, 1 << 20)), { node, opset: 17, maxBytes: 1 << 20 });
  assert.ok('refused' in outcome);
});

test('evaluator refuses an out-of-range Gather index', () => {
  const { model } = nodeOf({ title: '', op: 'Gather', inputs: [i64('a', [1, 2]), i64('i', [2], [])], outType: DataType.INT64 });
  const node = model.graph.firstNode!;
  const outcome = evaluateNode(node.inputs.map((v) => constantElements(v, 1 << 20)), { node, opset: 17, maxBytes: 1 << 20 });
  assert.ok('refused' in outcome && /out of range/.test(outcome.refused));
});
