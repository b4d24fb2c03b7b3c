import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { DataType } from '../../src/onnx/dtype.js';
import { channelsLast } from '../../passes/channels-last.js';
import { cleanup } from '../../passes/cleanup.js';
import { conv1x1ToMatMul } from '../../passes/conv1x1-to-matmul.js';
import { fixture } from '../helpers/fixtures.js';
import { layoutParity, runForCuda } from '../helpers/layout-parity.js';
import { lowerContribOps } from '../helpers/lower-contrib.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { runPass } from '../helpers/pass-context.js';
import { floatTensor, opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;
const TS17 = 'sdxl-unet-small-ts17.onnx';
const UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };

/** x (1, 8, 5, 5) → Conv k×k (8 → 6 channels) → Relu. */
function oneConv(kernel: number, attrs: Record<string, number[] | number> = {}): TinyModel {
  return {
    inputs: [['x', F, [1, 8, 5, 5]]],
    outputs: [['y', F]],
    initializers: [
      floatTensor('w', Array.from(seededFloats(6 * 8 * kernel * kernel, 5)), [6, 8, kernel, kernel]),
      floatTensor('b', Array.from(seededFloats(6, 6)), [6]),
    ],
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { kernel_shape: [kernel, kernel], ...attrs } },
      { op: 'Relu', inputs: ['c'], outputs: ['y'] },
    ],
  };
}

const feeds = () => ({ x: new ort.Tensor('float32', seededFloats(8 * 25, 9), [1, 8, 5, 5]) });

test('conv1x1-to-matmul: a 1×1 Conv becomes Reshape, MatMul, Add, Reshape with the same outputs (must fire)', async () => {
  const model = tinyModel(oneConv(1));
  const result = await runPass(conv1x1ToMatMul, model);
  assert.deepEqual(result.counts, { converted: 1, filtered_out: 0 });
  assert.deepEqual(opCounts(model), { Reshape: 2, MatMul: 1, Add: 1, Relu: 1 });
  // Static H and W: the Reshape back is to a constant; the weight is the same bytes as [M, C].
  assert.deepEqual(model.graph.initializers().find((v) => v.name.endsWith('_matrix'))!.initializer!.dims, [6, 8]);
  assert.ok(!model.graph.initializer('w'), 'the 4-D weight is gone');
  const error = await compareOnCpu(tinyModel(oneConv(1)), model, feeds());
  assert.ok(error < 1e-6, `relative L2 ${error}`);
});

test('conv1x1-to-matmul: 3×3 convs, stride-2 and padded 1×1 convs stay (must not fire)', async () => {
  for (const [spec, reason] of [
    [oneConv(3, { pads: [1, 1, 1, 1] }), 'kernel is 3×3'],
    [oneConv(1, { strides: [2, 2] }), 'stride 2×2'],
    [oneConv(1, { pads: [1, 1, 1, 1] }), 'padded'],
  ] as const) {
    const model = tinyModel(spec);
    const result = await runPass(conv1x1ToMatMul, model);
    assert.equal(result.changed, false);
    assert.equal(opCounts(model).Conv, 1);
    assert.deepEqual(result.reasons, [`1× ${reason}`]);
  }
});

test('conv1x1-to-matmul: the channels filter picks convs by input and output channels', async () => {
  const vae = 'sdxl-vae-decoder-tiny-ts17.onnx';
  // The tiny VAE's 1×1 convs: post_quant_conv 4 → 4 and a shortcut 64 → 32.
  const none = await runPass(conv1x1ToMatMul, await readModel(fixture(vae)), { channels: [128] });
  assert.equal(none.changed, false);
  assert.deepEqual(none.counts, { converted: 0, filtered_out: 2 });
  const shortcut = await runPass(conv1x1ToMatMul, await readModel(fixture(vae)), { channels: [32, 64] });
  assert.deepEqual(shortcut.counts, { converted: 1, filtered_out: 1 });
  const either = await runPass(conv1x1ToMatMul, await readModel(fixture(vae)), { channels: [32], match: 'either' });
  assert.deepEqual(either.counts, { converted: 1, filtered_out: 1 });
  const onlyOut = await runPass(conv1x1ToMatMul, await readModel(fixture(vae)), { channels: [32] });
  assert.deepEqual(onlyOut.counts, { converted: 0, filtered_out: 2 });
  const both = await runPass(conv1x1ToMatMul, await readModel(fixture(vae)));
  assert.deepEqual(both.counts, { converted: 2, filtered_out: 0 });
});

test('conv1x1-to-matmul: exact counts on the fixtures, and ORT CPU parity on the small UNets and the VAE decoder', async (t) => {
  const expected: [string, number][] = [
    [TS17, 7],
    ['sdxl-unet-small-dynamo18.onnx', 7],
    ['sdxl-vae-decoder-tiny-ts17.onnx', 2],
  ];
  for (const [name, converted] of expected) {
    const parity = await layoutParity(name, async (m) => {
      const result = await runPass(conv1x1ToMatMul, m);
      assert.equal(result.counts.converted, converted, name);
    });
    t.diagnostic(`${name}: ${converted} converted, relative L2 ${parity.error}`);
    assert.ok(parity.error < 1e-5, `${name}: relative L2 ${parity.error}`);
    assert.equal(opCounts(parity.model).Transpose, opCounts(await readModel(fixture(name))).Transpose, 'no Transpose added');
  }
});

test('conv1x1-to-matmul: ts17 after cleanup with fixed dims (constant shapes), and after channels-last (NhwcConv → MatMul)', async (t) => {
  const fixed = await layoutParity(TS17, async (m) => {
    await runPass(cleanup, m, {}, UNET_DIMS);
    const shapes = opCounts(m).Shape ?? 0;
    assert.equal((await runPass(conv1x1ToMatMul, m, {}, UNET_DIMS)).counts.converted, 7);
    assert.equal(opCounts(m).Shape ?? 0, shapes, 'known H and W: the Reshape back is to a constant');
  });
  t.diagnostic(`ts17, cleanup + dims: relative L2 ${fixed.error}`);
  assert.ok(fixed.error < 1e-5, `relative L2 ${fixed.error}`);
  const nhwc = await layoutParity(TS17, async (m) => {
    await runForCuda(channelsLast, m);
    const transposes = opCounts(m).Transpose;
    assert.equal((await runPass(conv1x1ToMatMul, m)).counts.converted, 7);
    assert.equal(opCounts(m).NhwcConv, 28);
    assert.equal(opCounts(m).Transpose, transposes, 'NHWC 1×1 convs need no layout ops');
    await lowerContribOps(m);
  });
  t.diagnostic(`ts17, channels-last then conv1x1-to-matmul: relative L2 ${nhwc.error}`);
  assert.ok(nhwc.error < 1e-5, `relative L2 ${nhwc.error}`);
});

test('conv1x1-to-matmul: the full-size SDXL UNet graph, without its weights: 11 convs, timed', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const started = performance.now();
  const result = await runPass(conv1x1ToMatMul, model);
  const ms = performance.now() - started;
  t.diagnostic(`full UNet graph: ${result.summary} in ${ms.toFixed(0)} ms`);
  assert.deepEqual(result.counts, { converted: 11, filtered_out: 0 });
  assert.equal(opCounts(model).Conv, 40);
  // The new weights are lazy views of the absent external data: nothing was read.
  const matrix = model.graph.initializers().find((v) => v.name.endsWith('_matrix'))!;
  assert.match(matrix.initializer!.data.describe(), /model\.onnx_data/);
  assert.ok(ms < 20_000, `${ms} ms`);
});

test('conv1x1-to-matmul: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture(TS17));
  assert.equal((await runPass(conv1x1ToMatMul, model)).changed, true);
  const again = await runPass(conv1x1ToMatMul, model);
  assert.equal(again.changed, false);
  assert.equal(again.counts.converted, 0);
});
