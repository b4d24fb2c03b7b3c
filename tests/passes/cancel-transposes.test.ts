import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/dtype.js';
import { cancelTransposes } from '../../passes/cancel-transposes.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;
const feeds = () => ({ x: new ort.Tensor('float32', seededFloats(2 * 3 * 4 * 5, 3), [2, 3, 4, 5]) });

function pair(p: number[] | undefined, q: number[] | undefined, between = false): TinyModel {
  return {
    inputs: [['x', F, [2, 3, 4, 5]]],
    outputs: [['y', F]],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['a'] },
      { op: 'Transpose', inputs: ['a'], outputs: ['t1'], attrs: p ? { perm: p } : {} },
      ...(between ? [{ op: 'Relu', inputs: ['t1'], outputs: ['t1r'] }] : []),
      { op: 'Transpose', inputs: [between ? 't1r' : 't1'], outputs: ['t2'], attrs: q ? { perm: q } : {} },
      { op: 'Relu', inputs: ['t2'], outputs: ['y'] },
    ],
  };
}

test('cancel-transposes: a pair that undoes itself disappears (must fire)', async () => {
  const spec = pair([0, 2, 3, 1], [0, 3, 1, 2]);
  const model = tinyModel(spec);
  const result = await runPass(cancelTransposes, model);
  assert.equal(result.counts.removed, 2);
  assert.equal(opCounts(model).Transpose, undefined);
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds()), 0);
});

test('cancel-transposes: a pair that does not cancel becomes one Transpose with the composed perm', async () => {
  const spec = pair([0, 2, 1, 3], [0, 1, 3, 2]);
  const model = tinyModel(spec);
  const result = await runPass(cancelTransposes, model);
  assert.equal(result.counts.composed, 1);
  const t = model.graph.nodes().filter((n) => n.opType === 'Transpose');
  assert.equal(t.length, 1);
  assert.deepEqual(t[0]!.attrInts('perm'), [0, 2, 3, 1]);
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds()), 0);
});

test('cancel-transposes: two Transposes without perm (reversals) cancel whatever the rank', async () => {
  const spec = pair(undefined, undefined);
  const model = tinyModel(spec);
  await runPass(cancelTransposes, model);
  assert.equal(opCounts(model).Transpose, undefined);
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds()), 0);
});

test('cancel-transposes: Transposes not adjacent, or the first read elsewhere, stay (must not fire)', async () => {
  const apart = tinyModel(pair([0, 2, 3, 1], [0, 3, 1, 2], true));
  assert.equal((await runPass(cancelTransposes, apart)).changed, false);
  const shared = tinyModel({
    inputs: [['x', F, [2, 3, 4, 5]]],
    outputs: [['y', F], ['t1', F]],
    nodes: [
      { op: 'Transpose', inputs: ['x'], outputs: ['t1'], attrs: { perm: [0, 2, 3, 1] } },
      { op: 'Transpose', inputs: ['t1'], outputs: ['y'], attrs: { perm: [0, 3, 1, 2] } },
    ],
  });
  const result = await runPass(cancelTransposes, shared);
  assert.equal(result.changed, false);
  assert.equal(shared.graph.nodeCount, 2);
});

test('cancel-transposes: a cancelling pair from a graph input to a graph output stays, to keep the output name', async () => {
  const model = tinyModel({
    inputs: [['x', F, [2, 3]]],
    outputs: [['y', F]],
    nodes: [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0] } },
      { op: 'Transpose', inputs: ['t'], outputs: ['y'], attrs: { perm: [1, 0] } },
    ],
  });
  assert.equal((await runPass(cancelTransposes, model)).changed, false);
  assert.equal(model.graph.outputs[0]!.name, 'y');
});

test('cancel-transposes: running twice changes nothing the second time', async () => {
  const model = tinyModel(pair([0, 2, 1, 3], [0, 1, 3, 2]));
  assert.equal((await runPass(cancelTransposes, model)).changed, true);
  assert.equal((await runPass(cancelTransposes, model)).changed, false);
});
