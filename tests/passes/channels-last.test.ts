import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { checkTypes } from '../../src/ir/infer/index.js';
import type { Model } from '../../src/ir/model.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { channelsLast } from '../../passes/channels-last.js';
import { cleanup } from '../../passes/cleanup.js';
import { conv1x1ToMatMul } from '../../passes/conv1x1-to-matmul.js';
import { fuseAttention } from '../../passes/fuse-attention.js';
import { fuseGroupNorm } from '../../passes/fuse-groupnorm.js';
import { permutationIsReshape, permuteTensor } from '../../passes/lib/permute-tensor.js';
import { fixture } from '../helpers/fixtures.js';
import { layoutParity, runForCuda } from '../helpers/layout-parity.js';
import { lowerContribOps } from '../helpers/lower-contrib.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { assertSorted, floatTensor, int64Tensor, opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;
const TS17 = 'sdxl-unet-small-ts17.onnx';
const DYNAMO = 'sdxl-unet-small-dynamo18.onnx';
const VAE = 'sdxl-vae-decoder-tiny-ts17.onnx';
const FULL = 'sdxl-unet-full-graph-only.onnx';
const UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };


/**
 * Conv (grouped) → + time embedding (N, C, 1, 1) → Split on channels → SiLU-like gate → Concat on channels →
 * nearest Resize ×2 → Slice on channels → × per-channel constant → 1×1 Conv; and Shape of an NHWC-carried value as a
 * second output.
 */
const RULES: TinyModel = {
  inputs: [
    ['x', F, [2, 4, 6, 6]],
    ['t', F, [2, 8]],
  ],
  outputs: [
    ['y', F],
    ['shape', DataType.INT64],
  ],
  initializers: [
    floatTensor('w1', Array.from(seededFloats(8 * 2 * 3 * 3, 1)), [8, 2, 3, 3]),
    floatTensor('b1', Array.from(seededFloats(8, 2)), [8]),
    int64Tensor('hw_axes', [2, 3]),
    int64Tensor('halves', [4, 4]),
    floatTensor('scales', [1, 1, 2, 2]),
    int64Tensor('starts', [2]),
    int64Tensor('ends', [10]),
    int64Tensor('channel_axis', [1]),
    floatTensor('k', Array.from(seededFloats(8, 3)), [8, 1, 1]),
    floatTensor('w2', Array.from(seededFloats(3 * 8, 4)), [3, 8, 1, 1]),
  ],
  nodes: [
    { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 } },
    { op: 'Unsqueeze', inputs: ['t', 'hw_axes'], outputs: ['temb'] },
    { op: 'Add', inputs: ['c1', 'temb'], outputs: ['a1'] },
    { op: 'Split', inputs: ['a1', 'halves'], outputs: ['s1', 's2'], attrs: { axis: 1 } },
    { op: 'Sigmoid', inputs: ['s2'], outputs: ['g'] },
    { op: 'Mul', inputs: ['s1', 'g'], outputs: ['m1'] },
    { op: 'Concat', inputs: ['m1', 'a1'], outputs: ['cat'], attrs: { axis: 1 } },
    { op: 'Resize', inputs: ['cat', '', 'scales'], outputs: ['up'], attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
    { op: 'Slice', inputs: ['up', 'starts', 'ends', 'channel_axis'], outputs: ['sl'] },
    { op: 'Mul', inputs: ['sl', 'k'], outputs: ['sc'] },
    { op: 'Shape', inputs: ['sc'], outputs: ['shape'] },
    { op: 'Conv', inputs: ['sc', 'w2'], outputs: ['y'], attrs: { kernel_shape: [1, 1] } },
  ],
};

const rulesFeeds = () => ({
  x: new ort.Tensor('float32', seededFloats(2 * 4 * 36, 7), [2, 4, 6, 6]),
  t: new ort.Tensor('float32', seededFloats(16, 8), [2, 8]),
});

test('channels-last: NHWC is carried through Add with a (N, C, 1, 1) operand, Split, Concat, Resize, Slice and Shape', async () => {
  const model = tinyModel(RULES);
  const result = await runForCuda(channelsLast, model);
  assert.deepEqual(result.counts, {
    transposes_before: 0,
    transposes_after: 2,
    transposes_removed: 0,
    transposes_added: 2,
    nhwc_convs: 2,
    groupnorms: 0,
    groupnorm_silu: 0,
    converted_ops: 8,
    shape_rewrites: 1,
  });
  const ops = opCounts(model);
  assert.equal(ops.Conv, undefined);
  assert.equal(ops.Reshape, 1, 'the time embedding (N, C, 1, 1) is reshaped to (N, 1, 1, C), not transposed');
  const concat = model.graph.nodes().find((n) => n.opType === 'Concat')!;
  assert.equal(concat.attrInt('axis'), 3);
  const split = model.graph.nodes().find((n) => n.opType === 'Split')!;
  assert.equal(split.attrInt('axis'), 3);
  assertSorted(model);
  await lowerContribOps(model);
  const error = await compareOnCpu(tinyModel(RULES), model, rulesFeeds());
  assert.ok(error < 1e-6, `relative L2 ${error}`);
});

test('channels-last: a graph without Conv or GroupNorm, or with a Conv whose weight is an input, is left alone (must not fire)', async () => {
  const plain = tinyModel({ inputs: [['x', F, [1, 4, 2, 2]]], outputs: [['y', F]], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] });
  const result = await runForCuda(channelsLast, plain);
  assert.equal(result.changed, false);
  assert.deepEqual(result.reasons, ['the graph has no Conv and no GroupNorm pattern']);
  const inputWeight = tinyModel({
    inputs: [
      ['x', F, [1, 4, 2, 2]],
      ['w', F, [4, 4, 1, 1]],
    ],
    outputs: [['y', F]],
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'] }],
  });
  const refused = await runForCuda(channelsLast, inputWeight);
  assert.equal(refused.changed, false);
  assert.deepEqual(refused.reasons, ['1× Conv weight is not a constant 4-D tensor']);
});

test('channels-last and fuse-groupnorm: for target cpu they do nothing, and say why', async () => {
  const run = [(m: Model) => runPass(channelsLast, m), (m: Model) => runPass(fuseGroupNorm, m)];
  for (const pass of run) {
    const model = await readModel(fixture(VAE));
    const nodes = model.graph.nodeCount;
    const result = await pass(model);
    assert.equal(result.changed, false);
    assert.match(result.reasons![0]!, /target is cpu.*set target: cuda/);
    assert.equal(model.graph.nodeCount, nodes);
  }
});

test('channels-last: a linear Resize stays NCHW, with Transposes around it', async () => {
  const spec: TinyModel = { ...RULES, nodes: RULES.nodes.map((n) => (n.op === 'Resize' ? { ...n, attrs: { mode: 'linear' } } : n)) };
  const model = tinyModel(spec);
  const result = await runForCuda(channelsLast, model);
  assert.ok(result.reasons!.includes("1× Resize mode 'linear' is kept NCHW (only nearest is checked channels-last)"), result.reasons!.join('; '));
  assert.equal(opCounts(model).Resize, 1);
  await lowerContribOps(model);
  const error = await compareOnCpu(tinyModel(spec), model, rulesFeeds());
  assert.ok(error < 1e-6, `relative L2 ${error}`);
});

test('channels-last: exact counts and ORT CPU parity; the UNets add only the input and output Transposes (the transformer permutes cancel)', async (t) => {
  const expected: [string, Record<string, number>][] = [
    [TS17, { transposes_before: 102, transposes_after: 90, transposes_removed: 14, transposes_added: 2, nhwc_convs: 35, groupnorms: 30, groupnorm_silu: 23 }],
    [DYNAMO, { transposes_before: 124, transposes_after: 112, transposes_removed: 14, transposes_added: 2, nhwc_convs: 35, groupnorms: 30, groupnorm_silu: 23 }],
    // The tiny VAE has 32-channel blocks in 32 groups: one channel per group, which the CUDA kernel refuses, so six
    // GroupNorms stay NCHW islands (two Transposes each), and the mid-block attention is an NCHW island too.
    [VAE, { transposes_before: 7, transposes_after: 23, transposes_removed: 0, transposes_added: 16, nhwc_convs: 21, groupnorms: 11, groupnorm_silu: 11 }],
  ];
  for (const [name, counts] of expected) {
    const parity = await layoutParity(name, async (m) => {
      const result = await runForCuda(channelsLast, m);
      for (const [k, n] of Object.entries(counts)) assert.equal(result.counts[k], n, `${name}: ${k}`);
      assert.equal(opCounts(m).Conv, undefined, `${name}: every Conv is NhwcConv`);
      assertSorted(m);
      assert.deepEqual(checkTypes(m.graph), [], `${name}: recorded types follow from the inputs`);
      const lowered = await lowerContribOps(m);
      assert.deepEqual(lowered, { nhwcConvs: counts.nhwc_convs, groupNorms: counts.groupnorms });
    });
    t.diagnostic(`${name}: relative L2 ${parity.error}`);
    assert.ok(parity.error < 1e-5, `${name}: relative L2 ${parity.error}`);
  }
});

test('channels-last: ts17 after cleanup with fixed dims: the same counts, no Shape rewrites needed, same outputs', async (t) => {
  const parity = await layoutParity(TS17, async (m) => {
    await runPass(cleanup, m, {}, UNET_DIMS);
    const result = await runForCuda(channelsLast, m, {}, UNET_DIMS);
    assert.equal(result.counts.transposes_added, 2);
    assert.equal(result.counts.transposes_removed, 14);
    assert.equal(result.counts.shape_rewrites, 0);
    await lowerContribOps(m);
  });
  t.diagnostic(`ts17, cleanup + dims: relative L2 ${parity.error}`);
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('channels-last: with cleanup and fuse-attention first, only the model input and output Transposes remain in ts17', async (t) => {
  const parity = await layoutParity(TS17, async (m) => {
    await runPass(cleanup, m, {}, UNET_DIMS);
    await runPass(fuseAttention, m, {}, UNET_DIMS);
    const result = await runForCuda(channelsLast, m, {}, UNET_DIMS);
    assert.deepEqual([result.counts.transposes_before, result.counts.transposes_after], [14, 2]);
    await runPass(conv1x1ToMatMul, m, {}, UNET_DIMS);
    assert.equal(opCounts(m).Transpose, 2);
    await lowerContribOps(m);
  });
  t.diagnostic(`ts17, cleanup + fuse-attention + channels-last + conv1x1-to-matmul: relative L2 ${parity.error}`);
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('channels-last: with groupnorm off, GroupNorm patterns stay NCHW islands and outputs still match', async () => {
  const parity = await layoutParity(VAE, async (m) => {
    const result = await runForCuda(channelsLast, m, { groupnorm: false });
    assert.equal(result.counts.groupnorms, 0);
    assert.equal(result.counts.nhwc_convs, 21);
    assert.equal(opCounts(m).InstanceNormalization, 18);
    await lowerContribOps(m);
  });
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('channels-last: the full-size SDXL UNet graph, without its weights: exact counts, weights permuted lazily, timed', async (t) => {
  const model = await readModel(fixture(FULL));
  const started = performance.now();
  const result = await runForCuda(channelsLast, model);
  const ms = performance.now() - started;
  t.diagnostic(`full UNet graph: ${result.summary} in ${ms.toFixed(0)} ms`);
  assert.deepEqual(
    { ...result.counts },
    {
      transposes_before: 582,
      transposes_after: 562,
      transposes_removed: 22,
      transposes_added: 2,
      nhwc_convs: 51,
      groupnorms: 46,
      groupnorm_silu: 35,
      converted_ops: 73,
      shape_rewrites: 44,
    },
  );
  const ops = opCounts(model);
  assert.equal(ops.InstanceNormalization, undefined);
  const conv = model.graph.nodes().find((n) => n.opType === 'NhwcConv' && n.input(1)!.initializer!.dims[1] === 3)!;
  assert.equal(conv.input(1)!.initializer!.data.describe(), 'transpose [0, 2, 3, 1] of model.onnx_data (missing)');
  assertSorted(model);
  assert.ok(ms < 20_000, `${ms} ms`);
});

test('channels-last: after fuse-groupnorm, its Transposes cancel the same way (90 Transposes on ts17 either way)', async () => {
  const model = await readModel(fixture(TS17));
  await runForCuda(fuseGroupNorm, model);
  const result = await runForCuda(channelsLast, model);
  assert.equal(result.counts.transposes_before, 162);
  assert.equal(result.counts.transposes_after, 90);
  assert.equal(result.counts.nhwc_convs, 35);
});

test('channels-last: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture(TS17));
  assert.equal((await runForCuda(channelsLast, model)).changed, true);
  const again = await runForCuda(channelsLast, model);
  assert.equal(again.changed, false);
  assert.equal(again.counts.transposes_after, 90);
});

test('permuteTensor: moves bytes as Transpose does, lazily; only size-1 axes moving is a reshape', async () => {
  const values = Float32Array.from({ length: 24 }, (_, i) => i);
  const t = new Tensor(DataType.FLOAT, [2, 3, 4], new InlineData(new Uint8Array(values.buffer)));
  const p = permuteTensor(t, [2, 0, 1]);
  assert.deepEqual(p.dims, [4, 2, 3]);
  assert.equal(p.data.inMemory, undefined, 'not computed until read');
  const out = new Float32Array((await p.bytes()).buffer);
  // out[k][i][j] = in[i][j][k] = 12i + 4j + k
  for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) assert.equal(out[k * 6 + i * 3 + j], 12 * i + 4 * j + k);
  assert.equal(permutationIsReshape([8, 1, 1], [1, 2, 0]), true);
  assert.equal(permutationIsReshape([6, 8, 1, 1], [0, 2, 3, 1]), true, 'a 1×1 kernel: OIHW and OHWI hold the same bytes');
  assert.equal(permutationIsReshape([6, 8, 3, 3], [0, 2, 3, 1]), false);
  const column = permuteTensor(new Tensor(DataType.FLOAT, [1, 8, 1, 1], new InlineData(new Uint8Array(32))), [0, 2, 3, 1]);
  assert.deepEqual(column.dims, [1, 1, 1, 8]);
  assert.ok(column.data instanceof InlineData, 'a reshape keeps the bytes where they are');
});
