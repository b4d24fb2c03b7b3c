import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchModel, runtimeEnvironment, validateModels } from '../src/runtime/index.js';
import { SMALL_DIMS, SMALL_UNET, cudaUnavailable } from './helpers/runtime-fixtures.js';

test('environment: versions, the CPU provider, and a verdict on CUDA', async () => {
  const env = await runtimeEnvironment();
  assert.equal(env.ortVersion, '1.29.0');
  assert.equal(env.providers.cpu, true);
  if (!env.providers.cuda) {
    assert.ok(env.providers.cudaError && env.providers.cudaError.length > 0, 'a failed CUDA probe says why');
    assert.match(env.installHint!, /ONNXRUNTIME_NODE_INSTALL=cuda12|LD_LIBRARY_PATH|driver/);
  }
});

test('cuda: the small UNet validates against itself and runs mostly on CUDA', async (t) => {
  const why = cudaUnavailable();
  if (why) return t.skip(why);
  const r = await validateModels(SMALL_UNET, SMALL_UNET, { provider: 'cuda', dims: SMALL_DIMS });
  assert.ok(r.outputs[0]!.cosine > 0.9999);
  const p = r.placement.candidate;
  assert.ok((p.byProvider.CUDAExecutionProvider ?? 0) > (p.byProvider.CPUExecutionProvider ?? 0));
});

test('cuda: bench runs and reports placement', async (t) => {
  const why = cudaUnavailable();
  if (why) return t.skip(why);
  const r = await benchModel(SMALL_UNET, { provider: 'cuda', dims: SMALL_DIMS, iters: 2, warmup: 1 });
  assert.ok(r.medianMs > 0);
  assert.ok((r.placement!.byProvider.CUDAExecutionProvider ?? 0) > 0);
});
