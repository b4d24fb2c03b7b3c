import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { DataType } from '../../src/onnx/dtype.js';
import { fuseSkipLayerNorm } from '../../passes/fuse-skip-layernorm.js';
import { removeNeutralOps } from '../../passes/remove-neutral-ops.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { blockFeeds, opCountsWithDomain, runFusion } from '../helpers/fusion-support.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { floatTensor, tinyModel, type TinyModel } from '../helpers/tiny-model.js';
import { transformerBlock } from '../helpers/transformer-block.js';

const F = DataType.FLOAT;
const SLN = 'com.microsoft:SkipLayerNormalization';

test('fuse-skip-layernorm: transformer block: the two residual LayerNorms fuse with their bias Adds; same outputs on ORT CPU', async () => {
  const model = transformerBlock({ channels: 16 });
  const result = await runFusion(fuseSkipLayerNorm, model);
  assert.deepEqual(result.counts, { candidates: 3, fused: 2, with_bias: 2, sum_output: 2 });
  const ops = opCountsWithDomain(model);
  assert.equal(ops[SLN], 2);
  assert.equal(ops.LayerNormalization, 1); // norm1 reads proj_in's output, no residual
  assert.match(result.reasons!.join(), /1× its input is a bias Add .*, not a residual Add/);
  for (const n of model.graph.nodes().filter((x) => x.opType === 'SkipLayerNormalization')) {
    assert.equal(n.inputs.length, 5, 'input, skip, gamma, beta, bias');
    assert.ok(Math.abs(n.attrFloat('epsilon')! - 1e-5) < 1e-12, 'LayerNormalization epsilon carried over, not the op default 1e-12');
    assert.ok(n.output(3).useCount > 0, 'the sum feeds the residual stream');
    assert.equal(n.metadata('sdxl_opt.pass'), 'fuse-skip-layernorm');
  }
  assert.equal(model.opsets.get('com.microsoft'), 1);
  const error = await compareOnCpu(transformerBlock({ channels: 16 }), model, blockFeeds(16));
  assert.ok(error < 1e-5, `relative L2 ${error}`);
});

test('fuse-skip-layernorm: a Div by 1 between the bias Add and the residual keeps the bias out, until remove-neutral-ops', async () => {
  const model = transformerBlock({ channels: 16, divideByOne: true });
  const before = await runFusion(fuseSkipLayerNorm, transformerBlock({ channels: 16, divideByOne: true }));
  assert.equal(before.counts.fused, 2);
  assert.equal(before.counts.with_bias, 0);
  await runFusion(removeNeutralOps, model);
  const after = await runFusion(fuseSkipLayerNorm, model);
  assert.equal(after.counts.with_bias, 2);
  const error = await compareOnCpu(transformerBlock({ channels: 16, divideByOne: true }), model, blockFeeds(16));
  assert.ok(error < 1e-5, `relative L2 ${error}`);
});

/** y = LN(a + b), with the sum also a graph output. */
function plainSpec(overrides: { bShape?: number[]; axis?: number; readMean?: boolean; shape?: number[] } = {}): TinyModel {
  const shape = overrides.shape ?? [2, 3, 8];
  const c = shape[shape.length - 1]!;
  return {
    inputs: [
      ['a', F, shape],
      ['b', F, overrides.bShape ?? shape],
    ],
    outputs: [['y', F], ['s', F], ...(overrides.readMean ? [['mean', F] as [string, DataType]] : [])],
    nodes: [
      { op: 'Add', inputs: ['a', 'b'], outputs: ['s'] },
      {
        op: 'LayerNormalization',
        inputs: ['s', 'gamma', 'beta'],
        outputs: overrides.readMean ? ['y', 'mean'] : ['y'],
        attrs: { axis: overrides.axis ?? -1, epsilon: { float: 1e-6 } },
      },
    ],
    initializers: [floatTensor('gamma', Array.from(seededFloats(c, 2))), floatTensor('beta', Array.from(seededFloats(c, 3)))],
  };
}

test('fuse-skip-layernorm: input + skip with the sum a graph output: fused, output names kept, same outputs', async () => {
  const model = tinyModel(plainSpec());
  const result = await runFusion(fuseSkipLayerNorm, model);
  assert.deepEqual(result.counts, { candidates: 1, fused: 1, with_bias: 0, sum_output: 1 });
  assert.deepEqual(model.graph.outputs.map((v) => v.name), ['y', 's']);
  assert.equal(model.graph.nodeCount, 1);
  const feeds = { a: new ort.Tensor('float32', seededFloats(48, 8), [2, 3, 8]), b: new ort.Tensor('float32', seededFloats(48, 9), [2, 3, 8]) };
  const error = await compareOnCpu(tinyModel(plainSpec()), model, feeds);
  assert.ok(error < 1e-5, `relative L2 ${error}`);
});

test('fuse-skip-layernorm: must not fire on a broadcasting Add, another axis, a read Mean, or a non-3-D sum', async () => {
  const cases: [string, TinyModel, RegExp][] = [
    ['bias-like broadcast', plainSpec({ bShape: [8] }), /not a residual Add/],
    ['batch broadcast', plainSpec({ bShape: [1, 3, 8] }), /broadcasts/],
    ['axis 1', plainSpec({ axis: 1 }), /axis 1 is not the last axis/],
    ['Mean read', plainSpec({ readMean: true }), /Mean or InvStdDev is read/],
    ['4-D', plainSpec({ shape: [2, 3, 4, 8] }), /not three-dimensional/],
  ];
  for (const [what, spec, reason] of cases) {
    const model = tinyModel(spec);
    const result = await runFusion(fuseSkipLayerNorm, model);
    assert.equal(result.changed, false, what);
    assert.equal(opCountsWithDomain(model).LayerNormalization, 1, what);
    assert.match(result.reasons!.join(), reason, what);
  }
});

test('fuse-skip-layernorm: ts17 small UNet without cleanup: 26 of 33 (4 with bias; 22 attention outputs pass a Div by 1); same outputs on ORT CPU', async (t) => {
  let counts: Record<string, number> = {};
  const parity = await parityOnFixture('sdxl-unet-small-ts17.onnx', async (m) => (counts = (await runFusion(fuseSkipLayerNorm, m)).counts));
  t.diagnostic(`ts17: ${JSON.stringify(counts)}, ${parity.before} → ${parity.after} nodes, relative L2 ${parity.error}`);
  // 11 transformer blocks × 3 LayerNorms; the first block of each of the 7 Transformer2DModels reads proj_in, not a residual.
  assert.deepEqual(counts, { candidates: 33, fused: 26, with_bias: 4, sum_output: 26 });
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('fuse-skip-layernorm: ts17 after remove-neutral-ops: all 26 with their bias Add (outputs checked in fusions-pipeline)', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  await runFusion(removeNeutralOps, model);
  assert.deepEqual((await runFusion(fuseSkipLayerNorm, model)).counts, { candidates: 33, fused: 26, with_bias: 26, sum_output: 26 });
});

test('fuse-skip-layernorm: dynamo18 small UNet: 26 of 33, all with bias; same outputs on ORT CPU', async (t) => {
  let counts: Record<string, number> = {};
  const parity = await parityOnFixture('sdxl-unet-small-dynamo18.onnx', async (m) => (counts = (await runFusion(fuseSkipLayerNorm, m)).counts));
  t.diagnostic(`dynamo18: ${JSON.stringify(counts)}, relative L2 ${parity.error}`);
  assert.deepEqual(counts, { candidates: 33, fused: 26, with_bias: 26, sum_output: 26 });
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('fuse-skip-layernorm: full SDXL UNet graph: 199 of 210 (2 per block × 70 + 59 next-block norm1s)', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const started = performance.now();
  const result = await runFusion(fuseSkipLayerNorm, model, {}, { target: 'cuda' });
  t.diagnostic(`full UNet: ${JSON.stringify(result.counts)} in ${(performance.now() - started).toFixed(0)} ms`);
  // 70 blocks in 11 Transformer2DModels: norm2 and norm3 of every block, norm1 of the 59 that follow a block.
  assert.deepEqual(result.counts, { candidates: 210, fused: 199, with_bias: 59, sum_output: 199 });
  assert.equal(opCountsWithDomain(model)[SLN], 199);
});

test('fuse-skip-layernorm: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture('sdxl-unet-small-dynamo18.onnx'));
  assert.equal((await runFusion(fuseSkipLayerNorm, model)).changed, true);
  const again = await runFusion(fuseSkipLayerNorm, model);
  assert.equal(again.changed, false);
  assert.equal(again.counts.candidates, 7);
});
