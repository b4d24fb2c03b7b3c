import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchModel, benchModels } from '../src/runtime/index.js';
import { SMALL_DIMS, SMALL_UNET, TINY_VAE, ONE_THREAD, sdxlError } from './helpers/runtime-fixtures.js';

test('bench: sane numbers and placement with iters 2', async () => {
  const r = await benchModel(TINY_VAE, { ...ONE_THREAD, provider: 'cpu', dims: { height: 8, width: 8 }, iters: 2, warmup: 1 });
  assert.equal(r.timesMs.length, 2);
  assert.ok(r.loadMs > 0 && r.minMs > 0);
  assert.ok(r.minMs <= r.medianMs && r.medianMs <= r.maxMs);
  assert.ok(r.maxMs < 60_000);
  assert.equal(r.iters, 2);
  assert.equal(r.warmup, 1);
  assert.deepEqual(Object.keys(r.placement!.byProvider), ['CPUExecutionProvider']);
  assert.equal(r.profile, undefined);
});

test('bench: --profile summarizes the timed runs only', async () => {
  const r = await benchModel(TINY_VAE, { ...ONE_THREAD, provider: 'cpu', dims: { height: 8, width: 8 }, iters: 3, warmup: 2, profile: true });
  const p = r.profile!;
  assert.equal(p.runs, 3);
  assert.ok(p.byOpType.length > 3);
  assert.ok(p.byOpType.some((o) => o.opType === 'Conv'));
  const share = p.byOpType.reduce((s, o) => s + o.share, 0);
  assert.ok(Math.abs(share - 1) < 1e-9, `shares sum to ${share}`);
  assert.ok(p.kernelMs > 0 && p.kernelMs <= p.runMs * 1.01, `kernel time ${p.kernelMs} within run time ${p.runMs}`);
  assert.ok(p.byNode[0]!.msPerRun >= p.byNode[p.byNode.length - 1]!.msPerRun);
  assert.ok(r.placement);
});

test('bench: several models in one process, interleaved, one report each in order', async () => {
  const rs = await benchModels([TINY_VAE, TINY_VAE], { ...ONE_THREAD, provider: 'cpu', dims: { height: 8, width: 8 }, iters: 2, warmup: 0 });
  assert.equal(rs.length, 2);
  for (const r of rs) {
    assert.equal(r.timesMs.length, 2);
    assert.equal(r.placement, undefined, 'no warm-up run, no profile: no placement');
  }
  await assert.rejects(benchModels([SMALL_UNET], { ...ONE_THREAD, provider: 'cpu', dims: SMALL_DIMS, iters: 0 }), sdxlError('BAD_PARAM'));
});
