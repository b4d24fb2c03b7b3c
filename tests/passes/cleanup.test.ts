import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultParams, type PassDefinition } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { cleanup } from '../../passes/cleanup.js';
import { cancelCasts } from '../../passes/cancel-casts.js';
import { cancelTransposes } from '../../passes/cancel-transposes.js';
import { constantFolding } from '../../passes/constant-folding.js';
import { deadCodeElimination } from '../../passes/dead-code-elimination.js';
import { removeIdentity } from '../../passes/remove-identity.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { passContext, runPass } from '../helpers/pass-context.js';
import { opCounts } from '../helpers/tiny-model.js';

const TS17 = 'sdxl-unet-small-ts17.onnx';
const UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };

test('cleanup: ts17 small UNet, dims unset: same outputs on ORT CPU, at least half the nodes gone', async (t) => {
  const parity = await parityOnFixture(TS17, (m) => runPass(cleanup, m));
  t.diagnostic(`ts17, dims unset: ${parity.before} → ${parity.after} nodes, relative L2 ${parity.error}`);
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
  assert.equal(opCounts(parity.model).Constant, undefined);
  assert.equal(opCounts(parity.model).Identity, undefined);
  assert.ok(parity.after <= parity.before / 2, `${parity.before} → ${parity.after} nodes`);
});

test('cleanup: ts17 small UNet, dims fixed (batch 2, 16×16, 77 tokens): same outputs, shape chains gone', async (t) => {
  const parity = await parityOnFixture(TS17, (m) => runPass(cleanup, m, {}, UNET_DIMS));
  t.diagnostic(`ts17, dims ${JSON.stringify(UNET_DIMS)}: ${parity.before} → ${parity.after} nodes, relative L2 ${parity.error}`);
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
  assert.ok(parity.after <= parity.before / 2, `${parity.before} → ${parity.after} nodes`);
});

test('cleanup: dynamo18 small UNet: same outputs on ORT CPU', async (t) => {
  const parity = await parityOnFixture('sdxl-unet-small-dynamo18.onnx', (m) => runPass(cleanup, m));
  t.diagnostic(`dynamo18: ${parity.before} → ${parity.after} nodes, relative L2 ${parity.error}`);
  assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
  assert.ok(parity.after <= parity.before);
});

test('cleanup: VAE decoder, dims unset and fixed: same outputs on ORT CPU', async (t) => {
  const dimsList: Record<string, number>[] = [{}, { batch: 1, h: 8, w: 8 }];
  for (const dims of dimsList) {
    const parity = await parityOnFixture('sdxl-vae-decoder-tiny-ts17.onnx', (m) => runPass(cleanup, m, {}, dims));
    t.diagnostic(`VAE decoder, dims ${JSON.stringify(dims)}: ${parity.before} → ${parity.after} nodes, relative L2 ${parity.error}`);
    assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
    assert.equal(opCounts(parity.model).Constant, undefined);
  }
});

test('cleanup: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture(TS17));
  assert.equal((await runPass(cleanup, model, {}, UNET_DIMS)).changed, true);
  const again = await runPass(cleanup, model, {}, UNET_DIMS);
  assert.equal(again.changed, false);
  assert.equal(again.counts.rounds, 1);
});

test("cleanup: its counts are the parts' counts summed over rounds", async () => {
  const model = await readModel(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
  const result = await runPass(cleanup, model);
  const manual = await readModel(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
  const ctx = passContext(manual);
  const sums: Record<string, number> = {};
  for (let round = 0; round < result.counts.rounds!; round++) {
    const parts: PassDefinition<any>[] = [constantFolding, removeIdentity, cancelTransposes, cancelCasts, deadCodeElimination];
    for (const pass of parts) {
      const r = await pass.run(ctx, defaultParams(pass));
      if (r.changed) for (const [k, n] of Object.entries(r.counts)) sums[`${pass.name}.${k}`] = (sums[`${pass.name}.${k}`] ?? 0) + n;
    }
  }
  const { rounds, ...parts } = result.counts;
  assert.deepEqual(parts, sums);
  assert.equal(manual.graph.nodeCount, model.graph.nodeCount);
});

test('cleanup: the full-size SDXL UNet graph (13,741 nodes) in linear time, without reading its absent weights', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const before = model.graph.nodeCount;
  const started = performance.now();
  const result = await runPass(cleanup, model);
  const ms = performance.now() - started;
  t.diagnostic(`full UNet, dims unset: ${before} → ${model.graph.nodeCount} nodes in ${ms.toFixed(0)} ms (${result.counts.rounds} rounds)`);
  assert.equal(opCounts(model).Constant, undefined);
  assert.equal(opCounts(model).Identity, undefined);
  // A quadratic scan over 14,000 nodes takes minutes; linear work takes a second or two even on a slow CI machine.
  assert.ok(ms < 20_000, `${ms} ms`);
});
