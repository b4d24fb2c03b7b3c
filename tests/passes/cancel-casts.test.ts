import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/dtype.js';
import { cancelCasts } from '../../passes/cancel-casts.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;
const feeds = () => ({ x: new ort.Tensor('float32', seededFloats(8, 4).map((v) => v * 1000), [8]) });

function castChain(...types: DataType[]): TinyModel {
  return {
    inputs: [['x', F, [8]]],
    outputs: [['y', types[types.length - 1]!]],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['v0'] },
      ...types.map((to, i) => ({ op: 'Cast', inputs: [`v${i}`], outputs: [i === types.length - 1 ? 'y' : `v${i + 1}`], attrs: { to } })),
    ],
  };
}

test('cancel-casts: a Cast to the type the value has goes (must fire)', async () => {
  const spec = castChain(F, DataType.DOUBLE);
  const model = tinyModel({ ...spec, valueInfo: [['v0', F, [8]]] });
  const result = await runPass(cancelCasts, model);
  assert.equal(result.counts.same_type, 1);
  assert.equal(opCounts(model).Cast, 1);
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds()), 0);
});

test('cancel-casts: an exact round trip (float32→float64→float32) goes entirely', async () => {
  const spec = castChain(DataType.DOUBLE, F);
  const model = tinyModel({ ...spec, valueInfo: [['v0', F, [8]]] });
  const result = await runPass(cancelCasts, model);
  assert.equal(result.counts.pairs, 1);
  assert.equal(opCounts(model).Cast, undefined);
  assert.equal(model.graph.outputs[0]!.name, 'y');
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds()), 0);
});

test('cancel-casts: int32→int64→float becomes int32→float', async () => {
  const spec = castChain(DataType.INT32, DataType.INT64, F);
  const model = tinyModel(spec);
  await runPass(cancelCasts, model);
  const casts = model.graph.nodes().filter((n) => n.opType === 'Cast');
  assert.deepEqual(casts.map((n) => n.attrInt('to')), [DataType.INT32, F]);
  assert.equal(await compareOnCpu(tinyModel(spec), model, feeds()), 0);
});

test('cancel-casts: lossy round trips stay unless allowed (must not fire)', async () => {
  for (const middle of [DataType.FLOAT16, DataType.INT32]) {
    const model = tinyModel({ ...castChain(middle, F), valueInfo: [['v0', F, [8]]] });
    const result = await runPass(cancelCasts, model);
    assert.equal(result.changed, false);
    assert.equal(opCounts(model).Cast, 2);
    assert.ok(result.reasons?.some((r) => /allow_lossy_round_trips/.test(r)));
  }
  const int64 = tinyModel({
    inputs: [['x', DataType.INT64, [2]]],
    outputs: [['y', DataType.INT64]],
    nodes: [
      { op: 'Cast', inputs: ['x'], outputs: ['n'], attrs: { to: DataType.INT32 } },
      { op: 'Cast', inputs: ['n'], outputs: ['y'], attrs: { to: DataType.INT64 } },
    ],
  });
  assert.equal((await runPass(cancelCasts, int64)).changed, false);
});

test('cancel-casts: allow_lossy_round_trips removes float32→float16→float32', async () => {
  const model = tinyModel({ ...castChain(DataType.FLOAT16, F), valueInfo: [['v0', F, [8]]] });
  const result = await runPass(cancelCasts, model, { allow_lossy_round_trips: true });
  assert.equal(result.counts.lossy_round_trips, 1);
  assert.equal(opCounts(model).Cast, undefined);
});

test('cancel-casts: running twice changes nothing the second time', async () => {
  const model = tinyModel({ ...castChain(DataType.DOUBLE, F, F), valueInfo: [['v0', F, [8]]] });
  assert.equal((await runPass(cancelCasts, model)).changed, true);
  assert.equal((await runPass(cancelCasts, model)).changed, false);
});
