import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/dtype.js';
import { deadCodeElimination } from '../../passes/dead-code-elimination.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { floatTensor, opCounts, tinyModel, tinyModelProto, type TinyModel } from '../helpers/tiny-model.js';
import { modelFromBytes } from '../../src/io/read.js';
import { encodeModel } from '../../src/onnx/codec.js';

const F = DataType.FLOAT;

const withDeadChain: TinyModel = {
  inputs: [['x', F, [3]]],
  outputs: [['y', F, [3]]],
  initializers: [floatTensor('w', [1, 2, 3]), floatTensor('unused', [4]), floatTensor('dead_w', [5])],
  nodes: [
    { op: 'Add', inputs: ['x', 'w'], outputs: ['y'] },
    { op: 'Mul', inputs: ['x', 'dead_w'], outputs: ['d1'] },
    { op: 'Relu', inputs: ['d1'], outputs: ['d2'] },
    { op: 'Custom', domain: 'com.example', inputs: ['d2'], outputs: ['d3'] },
  ],
};

test('dead-code-elimination: a dead chain goes in one run, then its initializers (must fire)', async () => {
  const model = tinyModel(withDeadChain);
  const result = await runPass(deadCodeElimination, model);
  assert.deepEqual(result.counts, { nodes: 3, initializers: 2 });
  assert.deepEqual(opCounts(model), { Add: 1 });
  assert.deepEqual(model.graph.initializers().map((v) => v.name), ['w']);
  const feeds = { x: new ort.Tensor('float32', seededFloats(3, 2), [3]) };
  const reference = tinyModel({ ...withDeadChain, nodes: withDeadChain.nodes.slice(0, 1) });
  assert.equal(await compareOnCpu(reference, model, feeds), 0);
});

test('dead-code-elimination: nodes on the way to an output, custom ones included, stay (must not fire)', async () => {
  const model = tinyModel({
    inputs: [['x', F, [3]]],
    outputs: [['y', F]],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Custom', domain: 'com.example', inputs: ['r'], outputs: ['y'] },
    ],
  });
  const result = await runPass(deadCodeElimination, model);
  assert.equal(result.changed, false);
  assert.equal(model.graph.nodeCount, 2);
});

test('dead-code-elimination: an initializer that is also a graph input stays (an overridable default)', async () => {
  const proto = tinyModelProto({ inputs: [['x', F, [3]], ['bias', F, [1]]], outputs: [['y', F]], initializers: [floatTensor('bias', [1])], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] });
  const model = modelFromBytes(encodeModel(proto), 'tiny.onnx');
  const result = await runPass(deadCodeElimination, model);
  assert.equal(result.changed, false);
  assert.ok(model.graph.initializer('bias'));
});

test('dead-code-elimination: running twice changes nothing the second time', async () => {
  const model = tinyModel(withDeadChain);
  assert.equal((await runPass(deadCodeElimination, model)).changed, true);
  assert.equal((await runPass(deadCodeElimination, model)).changed, false);
});
