/**
 * The fusion passes together, in the order a CUDA recipe runs them after cleanup: remove-neutral-ops,
 * simplify-concat-slices, fuse-skip-layernorm, fuse-bias-add, fuse-bias-split-gelu, fuse-gelu.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { PassDefinition } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import type { Model } from '../../src/ir/model.js';
import { DataType } from '../../src/onnx/dtype.js';
import { validateModels } from '../../src/runtime/index.js';
import { cleanup } from '../../passes/cleanup.js';
import { fuseBiasAdd } from '../../passes/fuse-bias-add.js';
import { fuseBiasSplitGelu } from '../../passes/fuse-bias-split-gelu.js';
import { fuseGelu } from '../../passes/fuse-gelu.js';
import { fuseSkipLayerNorm } from '../../passes/fuse-skip-layernorm.js';
import { removeNeutralOps } from '../../passes/remove-neutral-ops.js';
import { simplifyConcatSlices } from '../../passes/simplify-concat-slices.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { opCountsWithDomain, runFusion, UNET_DIMS, type FusionRun } from '../helpers/fusion-support.js';
import { lowerContribOps } from '../helpers/lower-fusion-contrib.js';
import { cudaUnavailable, scratchDir } from '../helpers/runtime-fixtures.js';
import { transformerBlock, type BlockOptions } from '../helpers/transformer-block.js';

const CHAIN: PassDefinition<any>[] = [removeNeutralOps, simplifyConcatSlices, fuseSkipLayerNorm, fuseBiasAdd, fuseBiasSplitGelu, fuseGelu];

/** Runs the chain; each pass's counts and milliseconds by name. */
async function runChain(model: Model, params: Record<string, unknown>, run: FusionRun): Promise<Record<string, { counts: Record<string, number>; ms: number }>> {
  const out: Record<string, { counts: Record<string, number>; ms: number }> = {};
  for (const pass of CHAIN) {
    const started = performance.now();
    const result = await runFusion(pass, model, params, run);
    out[pass.name] = { counts: result.counts, ms: Math.round(performance.now() - started) };
  }
  return out;
}

test('fusions: full SDXL UNet graph after cleanup, for CUDA: 199 SkipLayerNorm (all with bias), 11 BiasAdd, 70 BiasSplitGelu', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  await runFusion(cleanup, model);
  const before = model.graph.nodeCount;
  const results = await runChain(model, {}, { target: 'cuda' });
  for (const [name, r] of Object.entries(results)) t.diagnostic(`${name}: ${JSON.stringify(r.counts)} in ${r.ms} ms`);
  t.diagnostic(`nodes after cleanup ${before} → ${model.graph.nodeCount}`);
  assert.deepEqual(results['remove-neutral-ops']!.counts, { arithmetic: 157, expand: 1, kept: 0 });
  assert.deepEqual(results['simplify-concat-slices']!.counts, { slices: 4, kept: 0 });
  assert.deepEqual(results['fuse-skip-layernorm']!.counts, { candidates: 210, fused: 199, with_bias: 199, sum_output: 199 });
  assert.deepEqual(results['fuse-bias-add']!.counts, { candidates: 11, fused: 11, through_reshape: 0 });
  assert.deepEqual(results['fuse-bias-split-gelu']!.counts, { candidates: 70, fused: 70 });
  assert.equal(results['fuse-gelu']!.counts.candidates, 0);
  const ops = opCountsWithDomain(model);
  assert.equal(ops.LayerNormalization, 11, "each Transformer2DModel's first norm1 reads proj_in, not a residual");
  assert.equal(ops.Erf, undefined);
  assert.equal(ops['com.microsoft:SkipLayerNormalization'], 199);
  assert.equal(ops['com.microsoft:BiasAdd'], 11);
  assert.equal(ops['com.microsoft:BiasSplitGelu'], 70);
});

for (const name of ['sdxl-unet-small-ts17.onnx', 'sdxl-unet-small-dynamo18.onnx']) {
  test(`fusions: ${name} after cleanup (dims fixed), for CUDA at any size, lowered back: same outputs on ORT CPU`, async (t) => {
    const counts: Record<string, number> = {};
    const parity = await parityOnFixture(name, async (m) => {
      await runFusion(cleanup, m, {}, { dims: UNET_DIMS });
      await runChain(m, { any_hidden_size: true, any_channels: true }, { target: 'cuda', dims: UNET_DIMS });
      for (const [op, n] of Object.entries(opCountsWithDomain(m))) if (op.startsWith('com.microsoft:')) counts[op.slice(14)] = n;
      lowerContribOps(m);
    });
    t.diagnostic(`${name}: ${JSON.stringify(counts)}, ${parity.before} → ${parity.after} nodes (lowered), relative L2 ${parity.error}`);
    assert.deepEqual(counts, { SkipLayerNormalization: 26, BiasAdd: 7, BiasSplitGelu: 11 });
    assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
  });
}

test('fusions: ts17 small UNet for the CPU: SkipLayerNorm and Gelu only; same outputs on ORT CPU without lowering', async (t) => {
  const counts: Record<string, number> = {};
  const parity = await parityOnFixture('sdxl-unet-small-ts17.onnx', async (m) => {
    await runFusion(cleanup, m, {}, { dims: UNET_DIMS });
    await runChain(m, {}, { dims: UNET_DIMS });
    for (const [op, n] of Object.entries(opCountsWithDomain(m))) if (op.startsWith('com.microsoft:')) counts[op.slice(14)] = n;
  });
  t.diagnostic(`ts17 for CPU: ${JSON.stringify(counts)}, ${parity.before} → ${parity.after} nodes, relative L2 ${parity.error}`);
  assert.deepEqual(counts, { SkipLayerNormalization: 26, Gelu: 11 });
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
});

test('fusions: VAE decoder (no LayerNorm, no Gelu): only the 10 Divs by 1 go; same outputs on ORT CPU', async () => {
  const counts: Record<string, Record<string, number>> = {};
  const parity = await parityOnFixture('sdxl-vae-decoder-tiny-ts17.onnx', async (m) => {
    for (const pass of CHAIN) counts[pass.name] = (await runFusion(pass, m, { any_hidden_size: true, any_channels: true }, { target: 'cuda' })).counts;
  });
  assert.deepEqual(counts['remove-neutral-ops'], { arithmetic: 10, expand: 0, kept: 0 });
  assert.equal(counts['fuse-skip-layernorm']!.fused, 0);
  assert.equal(counts['fuse-bias-add']!.fused, 0);
  assert.equal(parity.after, parity.before - 20, '10 Divs and their 10 Constant divisors');
  assert.equal(parity.error, 0);
});

/**
 * On CUDA, at SDXL's sizes (the kernels refuse the small UNet's): a transformer block of 640 channels, fused
 * against unfused, every node on the GPU. Float32 and float16.
 */
for (const dtype of [DataType.FLOAT, DataType.FLOAT16] as const) {
  const label = dtype === DataType.FLOAT ? 'float32' : 'float16';
  test(`fusions on CUDA: a 640-channel transformer block (${label}): fused matches unfused, all on the GPU`, async (t) => {
    const why = cudaUnavailable();
    if (why) return t.skip(why);
    const o: BlockOptions = { channels: 640, batch: 2, sequence: 64, dtype, divideByOne: true };
    const dir = scratchDir(t);
    const reference = path.join(dir, 'block.onnx');
    const candidate = path.join(dir, 'block-fused.onnx');
    await writeModel(transformerBlock(o), reference);
    const model = transformerBlock(o);
    await runChain(model, {}, { target: 'cuda' });
    const ops = opCountsWithDomain(model);
    assert.deepEqual([ops['com.microsoft:SkipLayerNormalization'], ops['com.microsoft:BiasAdd'], ops['com.microsoft:BiasSplitGelu']], [2, 1, 1]);
    await writeModel(model, candidate);
    const report = await validateModels(reference, candidate, { provider: 'cuda', strict: true, tolerance: { cosine: 0.9999 } });
    t.diagnostic(`${label}: relative L2 ${report.outputs[0]?.relL2}, cosine ${report.outputs[0]?.cosine}`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.outputs[0]!.relL2 < (dtype === DataType.FLOAT ? 1e-4 : 1e-2), `relative L2 ${report.outputs[0]!.relL2}`);
  });
}
