import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readModel } from '../../src/io/read.js';
import { fuseBiasSplitGelu } from '../../passes/fuse-bias-split-gelu.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { blockFeeds, opCountsWithDomain, runFusion } from '../helpers/fusion-support.js';
import { lowerContribOps } from '../helpers/lower-fusion-contrib.js';
import { compareOnCpu } from '../helpers/ort.js';
import { transformerBlock, transformerBlockSpec, type BlockOptions } from '../helpers/transformer-block.js';
import { tinyModel } from '../helpers/tiny-model.js';

const BSG = 'com.microsoft:BiasSplitGelu';
const CUDA = { target: 'cuda' } as const;
const ANY = { any_hidden_size: true };

async function fusedBlockError(o: BlockOptions, geluOn: 'right' | 'left' = 'right'): Promise<{ error: number; counts: Record<string, number> }> {
  const model = transformerBlock(o);
  const result = await runFusion(fuseBiasSplitGelu, model, ANY, CUDA);
  const ops = opCountsWithDomain(model);
  assert.equal(ops[BSG], 1);
  assert.equal(ops.Erf, undefined);
  assert.equal(ops.Slice ?? 0, 0);
  assert.equal(ops.Split ?? 0, 0);
  assert.deepEqual(lowerContribOps(model, { geluOn }), { BiasSplitGelu: 1, BiasAdd: 0 });
  return { error: await compareOnCpu(transformerBlock(o), model, blockFeeds(o.channels)), counts: result.counts };
}

test('fuse-bias-split-gelu: GEGLU with Slice halves (TorchScript) and Split halves (dynamo), both Gelu groupings: lowered back, same outputs on ORT CPU', async () => {
  for (const o of [
    { channels: 16, split: 'slices', gelu: 'torchscript' },
    { channels: 16, split: 'split', gelu: 'dynamo', opset: 18 },
  ] as BlockOptions[]) {
    const { error, counts } = await fusedBlockError(o);
    assert.deepEqual(counts, { candidates: 1, fused: 1 });
    assert.ok(error < 1e-5, `${JSON.stringify(o)}: relative L2 ${error}`);
  }
});

test('fuse-bias-split-gelu: the parity check can fail: Gelu on the wrong half gives a different result', async () => {
  const { error } = await fusedBlockError({ channels: 16 }, 'left');
  assert.ok(error > 1e-2, `relative L2 ${error}`);
});

test("fuse-bias-split-gelu: SDXL's hidden size 5120 (640 channels) fuses without any_hidden_size", async () => {
  const model = transformerBlock({ channels: 640, sequence: 2, batch: 1 });
  const result = await runFusion(fuseBiasSplitGelu, model, {}, CUDA);
  assert.equal(result.counts.fused, 1);
  const fused = model.graph.nodes().find((n) => n.opType === 'BiasSplitGelu')!;
  assert.deepEqual(fused.input(0)!.shape, [1, 2, 5120]);
  assert.deepEqual(fused.input(1)!.shape, [5120]);
  assert.deepEqual(fused.output(0).shape, [1, 2, 2560]);
});

test('fuse-bias-split-gelu: must not fire for the CPU, on sizes the CUDA kernel refuses, on the wrong half or a plain Gelu', async () => {
  const cpu = await runFusion(fuseBiasSplitGelu, transformerBlock({ channels: 16 }), ANY);
  assert.equal(cpu.changed, false);
  assert.match(cpu.summary, /no CPU kernel for BiasSplitGelu/);

  const small = transformerBlock({ channels: 16 });
  const sized = await runFusion(fuseBiasSplitGelu, small, {}, CUDA);
  assert.equal(sized.changed, false);
  assert.match(sized.reasons!.join(), /hidden size 128 is not one the CUDA kernel takes \(2560, 5120, 10240\)/);
  assert.equal(opCountsWithDomain(small).Erf, 1);

  // Gelu of the first half, multiplied by the second: BiasSplitGelu gates the second half, so this is not it.
  const spec = transformerBlockSpec({ channels: 16 });
  const swapped = tinyModel({
    ...spec,
    nodes: spec.nodes.map((n) => (n.op === 'Mul' && n.outputs[0] === 'ff/Mul' ? { ...n, inputs: ['ff/g', 'ff/gelu'] } : n.op === 'Div' && n.outputs[0] === 'ff/Div' ? { ...n, inputs: ['ff/h', 'sqrt2'] } : n.outputs[0] === 'ff/MulX' ? { ...n, inputs: ['ff/h', 'ff/Add1'] } : n)),
  });
  const wrongHalf = await runFusion(fuseBiasSplitGelu, swapped, ANY, CUDA);
  assert.equal(wrongHalf.changed, false);
  assert.match(wrongHalf.reasons!.join(), /not the first half and the gated second half/);

  const plain = tinyModel({
    inputs: [['x', 1, [2, 3, 8]]],
    outputs: [['y', 1]],
    nodes: [
      { op: 'Div', inputs: ['x', 'sqrt2'], outputs: ['d'] },
      { op: 'Erf', inputs: ['d'], outputs: ['e'] },
      { op: 'Add', inputs: ['e', 'one'], outputs: ['a'] },
      { op: 'Mul', inputs: ['x', 'a'], outputs: ['m'] },
      { op: 'Mul', inputs: ['m', 'half'], outputs: ['y'] },
    ],
    initializers: spec.initializers!.filter((t) => ['sqrt2', 'one', 'half'].includes(t.name!)),
  });
  const gelu = await runFusion(fuseBiasSplitGelu, plain, ANY, CUDA);
  assert.equal(gelu.changed, false);
  assert.match(gelu.reasons!.join(), /not multiplied by anything/);
});

for (const [name, form] of [
  ['sdxl-unet-small-ts17.onnx', 'two Slices with bounds computed from Shape'],
  ['sdxl-unet-small-dynamo18.onnx', 'one Split'],
] as const) {
  test(`fuse-bias-split-gelu: ${name} (${form}): 11 of 11 GEGLUs; lowered back, same outputs on ORT CPU`, async (t) => {
    let counts: Record<string, number> = {};
    const parity = await parityOnFixture(name, async (m) => {
      counts = (await runFusion(fuseBiasSplitGelu, m, ANY, CUDA)).counts;
      assert.equal(opCountsWithDomain(m)[BSG], 11);
      lowerContribOps(m);
    });
    t.diagnostic(`${name}: ${JSON.stringify(counts)}, relative L2 ${parity.error}`);
    assert.deepEqual(counts, { candidates: 11, fused: 11 });
    assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
  });
}

test('fuse-bias-split-gelu: ts17 without cleanup leaves no Slice-bound shape chain behind', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  const before = opCountsWithDomain(model);
  await runFusion(fuseBiasSplitGelu, model, ANY, CUDA);
  const after = opCountsWithDomain(model);
  // Per GEGLU: Add, 2 Slices, Div, Erf, Add, 3 Muls go; the bounds' Shape→Gather→Add→Div→Mul chains go with them.
  assert.equal(before.Slice! - (after.Slice ?? 0), 22);
  assert.equal(before.Erf, 11);
  assert.equal(after.Erf, undefined);
  for (const node of model.graph) {
    for (const out of node.outputs) assert.ok(out.useCount > 0 || out.isGraphOutput || node.opType !== 'Shape', `${node} is left unread`);
  }
});

test('fuse-bias-split-gelu: full SDXL UNet graph: 70 of 70 (5120 and 10240), no size refused', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const started = performance.now();
  const result = await runFusion(fuseBiasSplitGelu, model, {}, CUDA);
  t.diagnostic(`full UNet: ${JSON.stringify(result.counts)} in ${(performance.now() - started).toFixed(0)} ms`);
  assert.deepEqual(result.counts, { candidates: 70, fused: 70 });
  const sizes = model.graph.nodes().filter((n) => n.opType === 'BiasSplitGelu').map((n) => n.input(1)!.shape![0]);
  assert.deepEqual([...new Set(sizes)].sort(), [10240, 5120]);
});

test('fuse-bias-split-gelu: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture('sdxl-unet-small-dynamo18.onnx'));
  assert.equal((await runFusion(fuseBiasSplitGelu, model, ANY, CUDA)).changed, true);
  const again = await runFusion(fuseBiasSplitGelu, model, ANY, CUDA);
  assert.equal(again.changed, false);
  assert.equal(again.counts.candidates, 0);
});
