import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { fuseGroupNorm } from '../../passes/fuse-groupnorm.js';
import { fixture } from '../helpers/fixtures.js';
import { layoutParity, runForCuda } from '../helpers/layout-parity.js';
import { lowerContribOps } from '../helpers/lower-contrib.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { floatTensor, int64Tensor, opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;

/** The TorchScript GroupNorm pattern on x (2, 8, 4, 4) with `groups` groups, then SiLU. */
function groupNormModel(groups: number, options: { scale?: number; rank3?: boolean } = {}): TinyModel {
  const shape = options.rank3 ? [2, 8, 16] : [2, 8, 4, 4];
  const affine = options.rank3 ? [8, 1] : [8, 1, 1];
  return {
    inputs: [['x', F, shape]],
    outputs: [['y', F]],
    initializers: [
      int64Tensor('grouping', [0, groups, -1]),
      floatTensor('ones', new Array(groups).fill(options.scale ?? 1)),
      floatTensor('zeros', new Array(groups).fill(0)),
      floatTensor('gamma', Array.from(seededFloats(8, 1)), affine),
      floatTensor('beta', Array.from(seededFloats(8, 2)), affine),
    ],
    nodes: [
      { op: 'Reshape', inputs: ['x', 'grouping'], outputs: ['grouped'] },
      { op: 'InstanceNormalization', inputs: ['grouped', 'ones', 'zeros'], outputs: ['normed'], attrs: { epsilon: { float: 1e-5 } } },
      { op: 'Shape', inputs: ['x'], outputs: ['x_shape'] },
      { op: 'Reshape', inputs: ['normed', 'x_shape'], outputs: ['restored'] },
      { op: 'Mul', inputs: ['restored', 'gamma'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['beta', 'scaled'], outputs: ['shifted'] },
      { op: 'Sigmoid', inputs: ['shifted'], outputs: ['gate'] },
      { op: 'Mul', inputs: ['gate', 'shifted'], outputs: ['y'] },
    ],
  };
}

const feeds = (shape = [2, 8, 4, 4]) => ({ x: new ort.Tensor('float32', seededFloats(256, 3), shape) });

test('fuse-groupnorm: the pattern with SiLU becomes one GroupNorm between Transposes, same outputs (must fire)', async () => {
  const model = tinyModel(groupNormModel(4));
  const result = await runForCuda(fuseGroupNorm, model);
  assert.deepEqual(result.counts, { groupnorms: 1, silu_fused: 1, candidates: 1 });
  assert.deepEqual(opCounts(model), { Transpose: 2, GroupNorm: 1 });
  const gn = model.graph.nodes().find((n) => n.opType === 'GroupNorm')!;
  assert.equal(gn.domain, 'com.microsoft');
  assert.deepEqual([gn.attrInt('groups'), gn.attrInt('activation'), gn.attrInt('channels_last')], [4, 1, 1]);
  assert.ok(Math.abs(gn.attrFloat('epsilon')! - 1e-5) < 1e-12);
  assert.deepEqual(gn.input(1)!.initializer!.dims, [8]);
  assert.equal(model.opsets.get('com.microsoft'), 1);
  await lowerContribOps(model);
  const error = await compareOnCpu(tinyModel(groupNormModel(4)), model, feeds());
  assert.ok(error < 1e-6, `relative L2 ${error}`);
});

test('fuse-groupnorm: odd channels per group, a non-unit InstanceNormalization scale, a rank-3 input stay (must not fire)', async () => {
  const cases: [TinyModel, string][] = [
    [groupNormModel(8), '1 channels per group: the CUDA GroupNorm kernel needs an even number, at most 512'],
    [groupNormModel(4, { scale: 2 }), 'InstanceNormalization scale is not a constant of ones (one per group)'],
    [groupNormModel(4, { rank3: true }), 'GroupNorm input has rank 3, not 4 (N, C, H, W)'],
  ];
  for (const [spec, reason] of cases) {
    const model = tinyModel(spec);
    const result = await runForCuda(fuseGroupNorm, model);
    assert.equal(result.changed, false);
    assert.deepEqual(result.reasons, [`1× ${reason}`]);
    assert.equal(opCounts(model).InstanceNormalization, 1);
  }
});

test('fuse-groupnorm: exact counts on the fixtures and ORT CPU parity (γ and β randomized, so a misplaced one shows)', async (t) => {
  const expected: [string, number, number, number][] = [
    ['sdxl-unet-small-ts17.onnx', 30, 23, 30],
    ['sdxl-unet-small-dynamo18.onnx', 30, 23, 30],
    ['sdxl-vae-decoder-tiny-ts17.onnx', 11, 11, 18],
  ];
  for (const [name, fused, silu, candidates] of expected) {
    const parity = await layoutParity(name, async (m) => {
      const result = await runForCuda(fuseGroupNorm, m);
      assert.deepEqual(result.counts, { groupnorms: fused, silu_fused: silu, candidates }, name);
      assert.equal(opCounts(m).Transpose, (opCounts(await readModel(fixture(name))).Transpose ?? 0) + 2 * fused);
      await lowerContribOps(m);
    });
    t.diagnostic(`${name}: ${fused} GroupNorm (${silu} SiLU), relative L2 ${parity.error}`);
    assert.ok(parity.error < 1e-5, `${name}: relative L2 ${parity.error}`);
  }
});

test('fuse-groupnorm: the parity check has teeth: a GroupNorm with its γ reversed does not match', async () => {
  const parity = await layoutParity('sdxl-vae-decoder-tiny-ts17.onnx', async (m) => {
    await runForCuda(fuseGroupNorm, m);
    const gamma = m.graph.nodes().find((n) => n.opType === 'GroupNorm')!.input(1)!;
    const reversed = new Float32Array(Uint8Array.from(await gamma.initializer!.bytes()).buffer).reverse();
    m.graph.setInitializerTensor(gamma, new Tensor(DataType.FLOAT, gamma.initializer!.dims, new InlineData(new Uint8Array(reversed.buffer))));
    await lowerContribOps(m);
  });
  assert.ok(parity.error > 1e-2, `relative L2 ${parity.error}`);
});

test('fuse-groupnorm: the full-size SDXL UNet graph, without its weights: 46 GroupNorms, timed', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const started = performance.now();
  const result = await runForCuda(fuseGroupNorm, model);
  const ms = performance.now() - started;
  t.diagnostic(`full UNet graph: ${result.summary} in ${ms.toFixed(0)} ms`);
  assert.deepEqual(result.counts, { groupnorms: 46, silu_fused: 35, candidates: 46 });
  assert.equal(opCounts(model).InstanceNormalization, undefined);
  assert.ok(ms < 20_000, `${ms} ms`);
});

test('fuse-groupnorm: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  assert.equal((await runForCuda(fuseGroupNorm, model)).changed, true);
  assert.equal((await runForCuda(fuseGroupNorm, model)).changed, false);
});
