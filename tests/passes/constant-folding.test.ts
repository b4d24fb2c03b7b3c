import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Long from 'long';
import { hostFromTensor } from '../../src/eval/index.js';
import { readModel } from '../../src/io/read.js';
import type { Model } from '../../src/ir/model.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/dtype.js';
import { constantFolding } from '../../passes/constant-folding.js';
import * as ort from 'onnxruntime-node';
import { AttributeType, type GraphProto } from '../../src/onnx/types.js';
import { compareOnCpu, runBytesOnCpu } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { floatTensor, int64Tensor, opCounts, tinyModel, tinyModelProto, valueInfo, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;

/** The values of a constant input of the named node, as plain numbers. */
function constantInput(model: Model, opType: string, index: number): number[] | undefined {
  const node = model.graph.nodes().find((n) => n.opType === opType)!;
  const t = node.input(index)?.initializer;
  const h = t && hostFromTensor(t);
  return h && Array.from(h.data as ArrayLike<number | bigint>, Number);
}

/** x [batch, 4, h, w] reshaped to [x.shape[1], -1] and [x.shape[0], -1]: the TorchScript shape-chain pattern. */
function shapeChain(opset = 17): TinyModel {
  const axes = opset >= 13;
  return {
    opset,
    inputs: [['x', F, ['batch', 4, 'h', 'w']]],
    outputs: [['y', F], ['z', F]],
    initializers: axes ? [int64Tensor('axes0', [0])] : [],
    nodes: [
      { op: 'Constant', inputs: [], outputs: ['one'], attrs: { value: int64Tensor('', [1], []) } },
      { op: 'Constant', inputs: [], outputs: ['zero'], attrs: { value: int64Tensor('', [0], []) } },
      { op: 'Constant', inputs: [], outputs: ['minus1'], attrs: { value: int64Tensor('', [-1]) } },
      { op: 'Shape', inputs: ['x'], outputs: ['s'] },
      { op: 'Gather', inputs: ['s', 'one'], outputs: ['c'], attrs: { axis: 0 } },
      { op: 'Unsqueeze', inputs: axes ? ['c', 'axes0'] : ['c'], outputs: ['c1'], attrs: axes ? {} : { axes: [0] } },
      { op: 'Concat', inputs: ['c1', 'minus1'], outputs: ['shape_y'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['x', 'shape_y'], outputs: ['y'] },
      { op: 'Gather', inputs: ['s', 'zero'], outputs: ['b'], attrs: { axis: 0 } },
      { op: 'Unsqueeze', inputs: axes ? ['b', 'axes0'] : ['b'], outputs: ['b1'], attrs: axes ? {} : { axes: [0] } },
      { op: 'Concat', inputs: ['b1', 'minus1'], outputs: ['shape_z'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['x', 'shape_z'], outputs: ['z'] },
    ],
  };
}

test('constant-folding: Constant nodes become initializers of the same name', async () => {
  const model = tinyModel(shapeChain());
  const result = await runPass(constantFolding, model);
  assert.equal(opCounts(model).Constant, undefined);
  assert.equal(result.counts.constants, 3);
  assert.ok(model.graph.initializer('minus1'), 'the Constant output name is kept');
});

test('constant-folding: a shape element known statically folds the chain to the Reshape (must fire)', async () => {
  const model = tinyModel(shapeChain());
  const result = await runPass(constantFolding, model);
  assert.ok(result.changed);
  const reshapes = model.graph.nodes().filter((n) => n.opType === 'Reshape');
  const y = reshapes.find((n) => n.output().name === 'y')!;
  assert.ok(y.input(1)!.isConstant, 'the target shape of y is now a constant');
  assert.deepEqual(constantInput(model, 'Reshape', 1), [4, -1]);
  // The batch dim is symbolic: that chain stays.
  const z = reshapes.find((n) => n.output().name === 'z')!;
  assert.equal(z.input(1)!.producer?.opType, 'Concat');
});

test('constant-folding: dims fixed by the recipe fold symbolic dims too', async () => {
  const model = tinyModel(shapeChain());
  await runPass(constantFolding, model, {}, { batch: 2 });
  const z = model.graph.nodes().find((n) => n.opType === 'Reshape' && n.output().name === 'z')!;
  const h = hostFromTensor(z.input(1)!.initializer!)!;
  assert.deepEqual(Array.from(h.data as BigInt64Array, Number), [2, -1]);
});

test('constant-folding: opset 11 Unsqueeze (axes attribute) folds the same way', async () => {
  const model = tinyModel(shapeChain(11));
  await runPass(constantFolding, model);
  assert.deepEqual(constantInput(model, 'Reshape', 1), [4, -1]);
});

test('constant-folding: Shape → Slice(-1:) of a partly known shape folds (the attention-scale pattern)', async () => {
  const model = tinyModel({
    inputs: [['q', F, ['batch', 'tokens', 64]]],
    outputs: [['scale', F]],
    initializers: [int64Tensor('start', [-1]), int64Tensor('end', [9223372036854775807n])],
    nodes: [
      { op: 'Shape', inputs: ['q'], outputs: ['s'] },
      { op: 'Slice', inputs: ['s', 'start', 'end'], outputs: ['d'] },
      { op: 'Cast', inputs: ['d'], outputs: ['df'], attrs: { to: F } },
      { op: 'Sqrt', inputs: ['df'], outputs: ['scale'] },
    ],
  });
  await runPass(constantFolding, model);
  const scale = model.graph.outputs[0]!;
  assert.equal(scale.name, 'scale', 'the graph output keeps its name');
  assert.ok(scale.isConstant);
  assert.deepEqual(Array.from(hostFromTensor(scale.initializer!)!.data as Float32Array), [8]);
});

test('constant-folding: nothing to fold when every node depends on a graph input (must not fire)', async () => {
  const model = tinyModel({
    inputs: [['x', F, ['n', 3]]],
    outputs: [['y', F], ['n', I64]],
    initializers: [floatTensor('w', [1, 2, 3]), int64Tensor('zero', [0], [])],
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['s'] },
      { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attrs: { axis: 0 } },
      { op: 'Add', inputs: ['x', 'w'], outputs: ['y'] },
    ],
  });
  const result = await runPass(constantFolding, model);
  assert.equal(result.changed, false);
  assert.equal(model.graph.nodeCount, 3);
});

test('constant-folding: a Shape of a value whose recorded type inference contradicts is not folded', async () => {
  const model = tinyModel({
    inputs: [['x', F, [2, 3]]],
    outputs: [['s', I64]],
    valueInfo: [['r', F, [4, 8]]],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Shape', inputs: ['r'], outputs: ['s'] },
    ],
  });
  const result = await runPass(constantFolding, model);
  assert.equal(opCounts(model).Shape, 1);
  assert.ok(result.reasons?.some((r) => /disputed/.test(r)), String(result.reasons));
});

test('constant-folding: a result over max_bytes stays a node', async () => {
  const model = tinyModel({
    inputs: [],
    outputs: [['big', F]],
    initializers: [int64Tensor('shape', [2, 1280, 128, 128])],
    nodes: [{ op: 'ConstantOfShape', inputs: ['shape'], outputs: ['big'] }],
  });
  const result = await runPass(constantFolding, model);
  assert.equal(result.changed, false);
  assert.equal(opCounts(model).ConstantOfShape, 1);
  assert.ok(result.reasons?.some((r) => /cap/.test(r)), String(result.reasons));
});

test('constant-folding: never reads external data (the data file is absent, and nothing fails)', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sdxl-opt-fold-'));
  try {
    const proto = tinyModelProto({
      inputs: [],
      outputs: [['y', F]],
      initializers: [
        {
          name: 'w',
          data_type: F,
          dims: [Long.fromNumber(4)],
          data_location: 1,
          external_data: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: '16' }],
        },
        floatTensor('two', [2]),
      ],
      nodes: [{ op: 'Mul', inputs: ['w', 'two'], outputs: ['y'] }],
    });
    const file = path.join(dir, 'model.onnx');
    await fsp.writeFile(file, encodeModel(proto));
    const model = await readModel(file);
    const result = await runPass(constantFolding, model, { max_bytes: 1 << 30 });
    assert.equal(result.changed, false);
    assert.equal(opCounts(model).Mul, 1);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('constant-folding: a folded graph output keeps its name and the model still runs', async () => {
  const spec: TinyModel = {
    inputs: [],
    outputs: [['out', I64]],
    initializers: [int64Tensor('a', [6, -7]), int64Tensor('b', [4])],
    nodes: [{ op: 'Div', inputs: ['a', 'b'], outputs: ['out'] }],
  };
  const model = tinyModel(spec);
  await runPass(constantFolding, model);
  assert.equal(model.graph.nodeCount, 0);
  assert.equal(model.graph.outputs[0]!.name, 'out');
  const { writeModel } = await import('../../src/io/write.js');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sdxl-opt-fold-'));
  try {
    await writeModel(model, path.join(dir, 'm.onnx'));
    const out = (await runBytesOnCpu(await fsp.readFile(path.join(dir, 'm.onnx')))).out!;
    assert.deepEqual(Array.from(out.data as BigInt64Array, Number), [1, -1]);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('constant-folding: a folded value read inside an If branch is still found there', async () => {
  const branch = (name: string): GraphProto => ({
    name,
    node: [{ op_type: 'Identity', input: ['c'], output: [`${name}_out`] }],
    output: [valueInfo(`${name}_out`, I64, [2])],
  });
  const spec: TinyModel = {
    inputs: [['flag', DataType.BOOL, []]],
    outputs: [['out', I64]],
    initializers: [int64Tensor('a', [1, 2]), int64Tensor('b', [10])],
    nodes: [
      { op: 'Add', inputs: ['a', 'b'], outputs: ['c'] },
      {
        op: 'If',
        inputs: ['flag'],
        outputs: ['out'],
        rawAttrs: [
          { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then') },
          { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else') },
        ],
      },
    ],
  };
  const model = tinyModel(spec);
  const result = await runPass(constantFolding, model);
  assert.equal(result.counts.folded, 1);
  assert.equal(opCounts(model).Add, undefined);
  const feeds = { flag: new ort.Tensor('bool', [true], []) };
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds), 0);
});

test('constant-folding: running twice changes nothing the second time', async () => {
  const model = tinyModel(shapeChain());
  assert.equal((await runPass(constantFolding, model, {}, { batch: 2 })).changed, true);
  assert.equal((await runPass(constantFolding, model, {}, { batch: 2 })).changed, false);
});
