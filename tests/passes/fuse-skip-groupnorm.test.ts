import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { checkTypes } from '../../src/ir/infer/index.js';
import { DataType } from '../../src/onnx/dtype.js';
import { channelsLast } from '../../passes/channels-last.js';
import { cleanup } from '../../passes/cleanup.js';
import { conv1x1ToMatMul } from '../../passes/conv1x1-to-matmul.js';
import { fuseAttention } from '../../passes/fuse-attention.js';
import { fuseSkipGroupNorm } from '../../passes/fuse-skip-groupnorm.js';
import { removeNeutralOps } from '../../passes/remove-neutral-ops.js';
import { layoutParity, runForCuda } from '../helpers/layout-parity.js';
import { lowerContribOps } from '../helpers/lower-contrib.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { assertSorted, floatTensor, int64Tensor, opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;
const TS17 = 'sdxl-unet-small-ts17.onnx';
const DYNAMO = 'sdxl-unet-small-dynamo18.onnx';
const UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };


test('fuse-skip-groupnorm: the small UNets (both exporters): exact counts, types, order, ORT CPU parity', async (t) => {
  for (const name of [TS17, DYNAMO]) {
    const parity = await layoutParity(name, async (m) => {
      await runPass(cleanup, m, {}, UNET_DIMS);
      await runPass(removeNeutralOps, m, {}, UNET_DIMS); // the residuals' Div by output_scale_factor 1
      await runPass(fuseAttention, m, {}, UNET_DIMS);
      await runForCuda(channelsLast, m, {}, UNET_DIMS);
      await runForCuda(conv1x1ToMatMul, m, {}, UNET_DIMS);
      const groupNorms = opCounts(m).GroupNorm;
      const biasedConvs = () => m.graph.nodes().filter((n) => n.is('NhwcConv', 'com.microsoft') && n.input(2)).length;
      const biasedBefore = biasedConvs();
      const result = await runForCuda(fuseSkipGroupNorm, m, {}, UNET_DIMS);
      // 30 GroupNorms: 9 read a Concat (up blocks) or the first conv of a level, 21 an Add. Of those, 11 add the time
      // embedding (N, 1, 1, C) to conv1, and 9 hand their sum on as the next residual.
      assert.deepEqual(result.counts, { candidates: 30, fused: 21, conv_bias: 19, add_bias: 8, broadcast_skip: 11, sum_read: 9 }, name);
      assert.equal(groupNorms, 30);
      const ops = opCounts(m);
      assert.equal(ops.SkipGroupNorm, 21);
      assert.equal(ops.GroupNorm, 9);
      assert.equal(biasedConvs(), biasedBefore - 19, 'conv biases moved into the SkipGroupNorms');
      assertSorted(m);
      assert.deepEqual(checkTypes(m.graph), [], `${name}: recorded types follow from the inputs`);
      assert.ok(result.summary.includes('fused 21 of 30'));
      await lowerContribOps(m);
    });
    t.diagnostic(`${name}: relative L2 ${parity.error}`);
    assert.ok(parity.error < 1e-5, `${name}: relative L2 ${parity.error}`);
  }
});

/**
 * x (2, 4, 4, 8) → MatMul + bias; + skip; → channels-last GroupNorm (4 groups, SiLU); the sum also read by `more`.
 * `skip` is the time embedding t (2, 8) unsqueezed to (2, 1, 1, 8), or a full tensor, or a (1, 4, 4, 8) broadcast over
 * the batch that the kernel does not take.
 */
function skipModel(skip: '4d-broadcast' | 'full' | 'batch-broadcast'): TinyModel {
  const skipInput: [string, DataType, number[]] = skip === '4d-broadcast' ? ['t', F, [2, 8]] : skip === 'full' ? ['t', F, [2, 4, 4, 8]] : ['t', F, [1, 4, 4, 8]];
  return {
    inputs: [['x', F, [2, 4, 4, 8]], skipInput],
    outputs: [['y', F], ['more', F]],
    initializers: [
      floatTensor('w', Array.from(seededFloats(64, 1)), [8, 8]),
      floatTensor('b', Array.from(seededFloats(8, 2)), [8]),
      floatTensor('gamma', Array.from(seededFloats(8, 3), (v) => 1 + 0.5 * v), [8]),
      floatTensor('beta', Array.from(seededFloats(8, 4)), [8]),
      floatTensor('two', [2]),
      int64Tensor('axes', [1, 2]),
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['mm'] },
      { op: 'Add', inputs: ['mm', 'b'], outputs: ['biased'] },
      ...(skip === '4d-broadcast' ? [{ op: 'Unsqueeze', inputs: ['t', 'axes'], outputs: ['s'] }] : [{ op: 'Identity', inputs: ['t'], outputs: ['s'] }]),
      { op: 'Add', inputs: skip === 'full' ? ['biased', 's'] : ['s', 'biased'], outputs: ['sum'] },
      { op: 'GroupNorm', domain: 'com.microsoft', inputs: ['sum', 'gamma', 'beta'], outputs: ['y'], attrs: { activation: 1, channels_last: 1, epsilon: { float: 1e-5 }, groups: 4 } },
      { op: 'Mul', inputs: ['sum', 'two'], outputs: ['more'] },
    ],
  };
}

function feeds(skip: Parameters<typeof skipModel>[0]): Record<string, ort.Tensor> {
  const tDims = skip === 'full' ? [2, 4, 4, 8] : skip === 'batch-broadcast' ? [1, 4, 4, 8] : [2, 8];
  const count = tDims.reduce((a, b) => a * b, 1);
  return { x: new ort.Tensor('float32', seededFloats(256, 5), [2, 4, 4, 8]), t: new ort.Tensor('float32', seededFloats(count, 6), tDims) };
}

test('fuse-skip-groupnorm: skips of (N, 1, 1, C) and full shape fuse with the bias and hand the sum on; (1, H, W, C) is refused', async () => {
  for (const kind of ['4d-broadcast', 'full'] as const) {
    const reference = tinyModel(skipModel(kind));
    await lowerContribOps(reference);
    const model = tinyModel(skipModel(kind));
    const result = await runForCuda(fuseSkipGroupNorm, model);
    assert.equal(result.counts.fused, 1, kind);
    assert.equal(result.counts.add_bias, 1, `${kind}: the MatMul's bias Add is absorbed`);
    assert.equal(result.counts.sum_read, 1, `${kind}: 'more' reads the S output`);
    const node = model.graph.nodes().find((n) => n.is('SkipGroupNorm', 'com.microsoft'))!;
    assert.equal(node.outputs.length, 2);
    assert.equal(node.input(4)?.name, 'b');
    assert.equal(opCounts(model).Add, undefined, `${kind}: no Add is left`);
    assert.deepEqual(checkTypes(model.graph), [], kind);
    await lowerContribOps(model);
    const error = await compareOnCpu(reference, model, feeds(kind));
    assert.ok(error < 1e-6, `${kind}: relative L2 ${error}`);
  }
  const refused = tinyModel(skipModel('batch-broadcast'));
  const result = await runForCuda(fuseSkipGroupNorm, refused);
  assert.equal(result.changed, false);
  assert.match((result.reasons ?? []).join('\n'), /\(N, 1, 1, C\) or \(N, C\)/);
});

test('fuse-skip-groupnorm: does nothing for target cpu, and says why', async () => {
  const model = tinyModel(skipModel('full'));
  const result = await runPass(fuseSkipGroupNorm, model);
  assert.equal(result.changed, false);
  assert.match((result.reasons ?? []).join('\n'), /no CPU kernel for SkipGroupNorm/);
});
