import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { DataType } from '../../src/onnx/dtype.js';
import { fuseBiasAdd } from '../../passes/fuse-bias-add.js';
import { fuseSkipLayerNorm } from '../../passes/fuse-skip-layernorm.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { blockFeeds, opCountsWithDomain, runFusion } from '../helpers/fusion-support.js';
import { lowerContribOps } from '../helpers/lower-fusion-contrib.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { floatTensor, int64Tensor, tinyModel, type TinyModel } from '../helpers/tiny-model.js';
import { transformerBlock } from '../helpers/transformer-block.js';

const F = DataType.FLOAT;
const BIAS_ADD = 'com.microsoft:BiasAdd';
const CUDA = { target: 'cuda' } as const;
const ANY = { any_channels: true };

test('fuse-bias-add: transformer block after fuse-skip-layernorm: the feed-forward output + residual fuses; lowered back, same outputs on ORT CPU', async () => {
  const model = transformerBlock({ channels: 16 });
  await runFusion(fuseSkipLayerNorm, model, {}, CUDA);
  const result = await runFusion(fuseBiasAdd, model, ANY, CUDA);
  assert.equal(result.counts.fused, 1);
  const fused = model.graph.nodes().find((n) => n.opType === 'BiasAdd')!;
  assert.deepEqual(fused.inputs.map((v) => v!.name), ['ff.out/MatMul', 'ff.out.bias', fused.input(2)!.name]);
  assert.equal(fused.input(2)!.producer?.opType, 'SkipLayerNormalization', 'the skip is the residual stream, SkipLayerNorm output 3');
  assert.deepEqual(lowerContribOps(model), { BiasSplitGelu: 0, BiasAdd: 1 });
  const error = await compareOnCpu(transformerBlock({ channels: 16 }), model, blockFeeds(16));
  assert.ok(error < 1e-5, `relative L2 ${error}`);
});

test('fuse-bias-add: before fuse-skip-layernorm it leaves residual Adds that feed a LayerNorm alone', async () => {
  const model = transformerBlock({ channels: 16 });
  const result = await runFusion(fuseBiasAdd, model, ANY, CUDA);
  assert.equal(result.counts.fused, 1);
  assert.match(result.reasons!.join(), /2× the sum feeds a LayerNormalization/);
  assert.equal(opCountsWithDomain(model).LayerNormalization, 3);
});

/** y = (x + b) + skip, shapes given. */
function spec(o: { x?: number[]; skip?: number[]; bias?: number } = {}): TinyModel {
  const x = o.x ?? [2, 3, 8];
  const c = o.bias ?? x[x.length - 1]!;
  return {
    inputs: [
      ['x', F, x],
      ['skip', F, o.skip ?? x],
    ],
    outputs: [['y', F]],
    nodes: [
      { op: 'Add', inputs: ['x', 'b'], outputs: ['xb'] },
      { op: 'Add', inputs: ['skip', 'xb'], outputs: ['y'] },
    ],
    initializers: [floatTensor('b', Array.from(seededFloats(c, 4)))],
  };
}

test('fuse-bias-add: (x + b) + skip with the operands either way round; output name kept; same outputs lowered', async () => {
  const model = tinyModel(spec());
  const result = await runFusion(fuseBiasAdd, model, ANY, CUDA);
  assert.equal(result.counts.fused, 1);
  assert.equal(model.graph.nodeCount, 1);
  assert.deepEqual(model.graph.outputs.map((v) => v.name), ['y']);
  lowerContribOps(model);
  const feeds = { x: new ort.Tensor('float32', seededFloats(48, 1), [2, 3, 8]), skip: new ort.Tensor('float32', seededFloats(48, 2), [2, 3, 8]) };
  assert.ok((await compareOnCpu(tinyModel(spec()), model, feeds)) < 1e-6);
});

test('fuse-bias-add: must not fire for the CPU, on channel counts the kernel refuses, on broadcasting skips or non-3-D tensors', async () => {
  const cpu = await runFusion(fuseBiasAdd, tinyModel(spec()), ANY);
  assert.equal(cpu.changed, false);
  assert.match(cpu.summary, /no CPU kernel for BiasAdd/);

  const sized = await runFusion(fuseBiasAdd, tinyModel(spec()), {}, CUDA);
  assert.equal(sized.changed, false);
  assert.match(sized.reasons!.join(), /8 channels is not a count the CUDA kernel takes \(320, 640, 1280\)/);

  const cases: [string, Parameters<typeof spec>[0]][] = [
    ['broadcast skip', { skip: [1, 3, 8] }],
    ['4-D', { x: [2, 3, 4, 8] }],
  ];
  for (const [what, o] of cases) {
    const model = tinyModel(spec(o));
    const result = await runFusion(fuseBiasAdd, model, ANY, CUDA);
    assert.equal(result.changed, false, what);
    assert.match(result.reasons!.join(), /no operand is x \+ bias/, what);
  }
});

/** Channels-last proj_out: y = Relu(Reshape(h·W + b, (N, H, W, C)) + residual), residual NHWC. */
function projOutSpec(o: { batch: number | string; target: number[]; residual?: (number | string)[] }): TinyModel {
  return {
    inputs: [
      ['h', F, [o.batch, 16, 8]],
      ['residual', F, o.residual ?? [o.batch, 4, 4, 8]],
    ],
    outputs: [['y', F]],
    nodes: [
      { op: 'MatMul', inputs: ['h', 'w'], outputs: ['hw'] },
      { op: 'Add', inputs: ['hw', 'b'], outputs: ['hwb'] },
      { op: 'Reshape', inputs: ['hwb', 'target'], outputs: ['nhwc'] },
      { op: 'Add', inputs: ['nhwc', 'residual'], outputs: ['sum'] },
      { op: 'Relu', inputs: ['sum'], outputs: ['y'] },
    ],
    initializers: [floatTensor('w', Array.from(seededFloats(64, 5)), [8, 8]), floatTensor('b', Array.from(seededFloats(8, 6))), int64Tensor('target', o.target)],
  };
}

test('fuse-bias-add: channels-last proj_out (x + b reshaped to NHWC, then + residual): BiasAdd on (N, S, C) between Reshapes; static and symbolic batch; same outputs lowered', async () => {
  const feeds = { h: new ort.Tensor('float32', seededFloats(256, 1), [2, 16, 8]), residual: new ort.Tensor('float32', seededFloats(256, 2), [2, 4, 4, 8]) };
  for (const o of [
    { batch: 2, target: [2, 4, 4, 8] },
    { batch: 'batch', target: [0, 4, 4, -1] },
  ]) {
    const model = tinyModel(projOutSpec(o));
    const result = await runFusion(fuseBiasAdd, model, ANY, CUDA);
    assert.deepEqual(result.counts, { candidates: 1, fused: 1, through_reshape: 1 }, JSON.stringify(o));
    const ops = opCountsWithDomain(model);
    assert.equal(ops[BIAS_ADD], 1);
    assert.equal(ops.Add, undefined);
    assert.equal(ops.Reshape, 2);
    assert.equal(ops.Shape, typeof o.batch === 'string' ? 1 : undefined, 'a static shape is a constant, a symbolic one Shape(x)');
    lowerContribOps(model);
    const error = await compareOnCpu(tinyModel(projOutSpec(o)), model, feeds);
    assert.ok(error < 1e-6, `${JSON.stringify(o)}: relative L2 ${error}`);
  }
  const regrouped = tinyModel(projOutSpec({ batch: 2, target: [2, 4, 32], residual: [2, 4, 32] }));
  const refused = await runFusion(fuseBiasAdd, regrouped, ANY, CUDA);
  assert.equal(refused.changed, false, 'a Reshape that regroups the channels is not a view of (N, S, C)');
});

test('fuse-bias-add: dynamo18 small UNet after fuse-skip-layernorm: 7 (one per Transformer2DModel); lowered back, same outputs on ORT CPU', async (t) => {
  let counts: Record<string, number> = {};
  const parity = await parityOnFixture('sdxl-unet-small-dynamo18.onnx', async (m) => {
    await runFusion(fuseSkipLayerNorm, m, {}, CUDA);
    counts = (await runFusion(fuseBiasAdd, m, ANY, CUDA)).counts;
    assert.equal(opCountsWithDomain(m)[BIAS_ADD], 7);
    lowerContribOps(m);
  });
  t.diagnostic(`dynamo18: ${JSON.stringify(counts)}, relative L2 ${parity.error}`);
  assert.deepEqual(counts, { candidates: 7, fused: 7, through_reshape: 0 });
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('fuse-bias-add: ts17 small UNet after fuse-skip-layernorm: the same 7 (outputs checked in fusions-pipeline)', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  await runFusion(fuseSkipLayerNorm, model, {}, CUDA);
  assert.deepEqual((await runFusion(fuseBiasAdd, model, ANY, CUDA)).counts, { candidates: 7, fused: 7, through_reshape: 0 });
});

test('fuse-bias-add: full SDXL UNet graph: 11, the last feed-forward of each Transformer2DModel (640 and 1280 channels)', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  await runFusion(fuseSkipLayerNorm, model, {}, CUDA);
  const started = performance.now();
  const result = await runFusion(fuseBiasAdd, model, {}, CUDA);
  t.diagnostic(`full UNet after fuse-skip-layernorm: ${JSON.stringify(result.counts)} in ${(performance.now() - started).toFixed(0)} ms`);
  assert.deepEqual(result.counts, { candidates: 11, fused: 11, through_reshape: 0 });
  const channels = model.graph.nodes().filter((n) => n.opType === 'BiasAdd').map((n) => n.input(1)!.shape![0]);
  assert.deepEqual([...new Set(channels)].sort(), [1280, 640]);
});

test('fuse-bias-add: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture('sdxl-unet-small-dynamo18.onnx'));
  await runFusion(fuseSkipLayerNorm, model, {}, CUDA);
  assert.equal((await runFusion(fuseBiasAdd, model, ANY, CUDA)).changed, true);
  assert.equal((await runFusion(fuseBiasAdd, model, ANY, CUDA)).changed, false);
});
