import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { DataType } from '../../src/onnx/dtype.js';
import { simplifyConcatSlices } from '../../passes/simplify-concat-slices.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { opCountsWithDomain, runFusion } from '../helpers/fusion-support.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { int64Tensor, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;

/** diffusers' flip_sin_to_cos: cat = Concat(sin, cos); Concat(cat[:, half:], cat[:, :half]). */
function flipSpec(half = 4, bounds: [number, number, number, number] = [half, 2 ** 62, 0, half]): TinyModel {
  return {
    inputs: [['t', F, ['batch', half]]],
    outputs: [['emb', F]],
    nodes: [
      { op: 'Sin', inputs: ['t'], outputs: ['sin'] },
      { op: 'Cos', inputs: ['t'], outputs: ['cos'] },
      { op: 'Concat', inputs: ['sin', 'cos'], outputs: ['cat'], attrs: { axis: -1 } },
      { op: 'Slice', inputs: ['cat', 's1', 'e1', 'axis'], outputs: ['second'] },
      { op: 'Slice', inputs: ['cat', 's2', 'e2', 'axis'], outputs: ['first'] },
      { op: 'Concat', inputs: ['second', 'first'], outputs: ['emb'], attrs: { axis: -1 } },
    ],
    initializers: [int64Tensor('s1', [bounds[0]]), int64Tensor('e1', [bounds[1]]), int64Tensor('s2', [bounds[2]]), int64Tensor('e2', [bounds[3]]), int64Tensor('axis', [1])],
  };
}

const feeds = () => ({ t: new ort.Tensor('float32', seededFloats(8, 4).map((v) => 10 * v), [2, 4]) });

test('simplify-concat-slices: the sin/cos flip becomes Concat(cos, sin); same outputs', async () => {
  const model = tinyModel(flipSpec());
  const result = await runFusion(simplifyConcatSlices, model);
  assert.deepEqual(result.counts, { slices: 2, kept: 0 });
  assert.deepEqual(opCountsWithDomain(model), { Sin: 1, Cos: 1, Concat: 1 });
  const concat = model.graph.nodes().find((n) => n.opType === 'Concat')!;
  assert.deepEqual(concat.inputs.map((v) => v!.name), ['cos', 'sin']);
  assert.equal(await compareOnCpu(tinyModel(flipSpec()), model, feeds()), 0);
});

test('simplify-concat-slices: a Slice that cuts into an input, or spans several, is handled right', async () => {
  const cut = tinyModel(flipSpec(4, [2, 2 ** 62, 0, 4]));
  const result = await runFusion(simplifyConcatSlices, cut);
  assert.equal(result.counts.slices, 1, 'only [0, 4) is a whole input');
  assert.equal(opCountsWithDomain(cut).Slice, 1);
  assert.equal(await compareOnCpu(tinyModel(flipSpec(4, [2, 2 ** 62, 0, 4])), cut, feeds()), 0);

  const spanning = tinyModel(flipSpec(4, [0, 8, 0, 4]));
  assert.equal((await runFusion(simplifyConcatSlices, spanning)).counts.slices, 2);
  assert.equal(await compareOnCpu(tinyModel(flipSpec(4, [0, 8, 0, 4])), spanning, feeds()), 0);
});

for (const name of ['sdxl-unet-small-dynamo18.onnx']) {
  test(`simplify-concat-slices: ${name}: the timestep and time_ids flips (4 Slices); same outputs`, async () => {
    let counts: Record<string, number> = {};
    let before: Record<string, number> = {};
    const parity = await parityOnFixture(name, async (m) => {
      before = opCountsWithDomain(m);
      counts = (await runFusion(simplifyConcatSlices, m)).counts;
    });
    assert.deepEqual(counts, { slices: 4, kept: 0 });
    const after = opCountsWithDomain(parity.model);
    assert.equal(before.Slice! - (after.Slice ?? 0), 4);
    assert.equal(before.Concat! - (after.Concat ?? 0), 2, 'the Concat(sin, cos) of each embedding is read no more');
    assert.equal(parity.error, 0);
  });
}

test('simplify-concat-slices: ts17 small UNet (bounds in Constant nodes): the same 4 (outputs checked in fusions-pipeline)', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  assert.deepEqual((await runFusion(simplifyConcatSlices, model)).counts, { slices: 4, kept: 0 });
});

test('simplify-concat-slices: full SDXL UNet graph: the same 4; running twice changes nothing', async () => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  assert.deepEqual((await runFusion(simplifyConcatSlices, model)).counts, { slices: 4, kept: 0 });
  assert.equal((await runFusion(simplifyConcatSlices, model)).changed, false);
});
