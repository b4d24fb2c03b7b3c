import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/dtype.js';
import { removeIdentity } from '../../passes/remove-identity.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { floatTensor, opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;

const chain: TinyModel = {
  inputs: [['x', F, [2, 3]]],
  outputs: [['y', F, [2, 3]]],
  nodes: [
    { op: 'Identity', inputs: ['x'], outputs: ['x1'] },
    { op: 'Relu', inputs: ['x1'], outputs: ['r'] },
    { op: 'Identity', inputs: ['r'], outputs: ['y'] },
  ],
};

test('remove-identity: Identity nodes go, the graph output keeps its name (must fire)', async () => {
  const model = tinyModel(chain);
  const result = await runPass(removeIdentity, model);
  assert.equal(result.counts.removed, 2);
  assert.deepEqual(opCounts(model), { Relu: 1 });
  assert.equal(model.graph.outputs[0]!.name, 'y');
  assert.equal(model.graph.outputs[0]!.producer?.opType, 'Relu');
  const feeds = { x: new ort.Tensor('float32', seededFloats(6, 1), [2, 3]) };
  assert.equal(await compareOnCpu(tinyModel(chain), model, feeds), 0);
});

test('remove-identity: an Identity from a graph input or a constant to a graph output stays (must not fire)', async () => {
  const model = tinyModel({
    inputs: [['x', F, [3]]],
    outputs: [['y', F], ['z', F]],
    initializers: [floatTensor('w', [1, 2, 3])],
    nodes: [
      { op: 'Identity', inputs: ['x'], outputs: ['y'] },
      { op: 'Identity', inputs: ['w'], outputs: ['z'] },
    ],
  });
  const result = await runPass(removeIdentity, model);
  assert.equal(result.changed, false);
  assert.equal(result.counts.kept, 2);
  assert.deepEqual(model.graph.outputs.map((v) => v.name), ['y', 'z']);
});

test('remove-identity: running twice changes nothing the second time', async () => {
  const model = tinyModel(chain);
  assert.equal((await runPass(removeIdentity, model)).changed, true);
  assert.equal((await runPass(removeIdentity, model)).changed, false);
});
