import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { DataType } from '../src/onnx/dtype.js';
import { validateModels } from '../src/runtime/index.js';
import { ModelSession } from '../src/runtime/session.js';
import { SMALL_DIMS, SMALL_UNET, SMALL_UNET_DYNAMO, SMALL_UNET_IO, TINY_VAE, perturbedCopy, scratchDir, writeTinyModel, ONE_THREAD, sdxlError } from './helpers/runtime-fixtures.js';

test('validate: the small UNet against itself passes with zero error, every node on the CPU', async () => {
  const r = await validateModels(SMALL_UNET, SMALL_UNET, { ...ONE_THREAD, provider: 'cpu', dims: SMALL_DIMS, seed: 1 });
  assert.equal(r.passed, true, r.failures.join('; '));
  assert.deepEqual(r.dims, { batch: 2, height: 16, width: 16, sequence: 77 });
  assert.equal(r.outputs.length, 1);
  const out = r.outputs[0]!;
  assert.equal(out.name, 'out_sample');
  assert.deepEqual(out.dims, [2, 4, 16, 16]);
  assert.equal(out.relL2, 0);
  assert.equal(out.maxAbs, 0);
  assert.equal(out.cosine, 1);
  for (const p of [r.placement.reference!, r.placement.candidate]) {
    assert.deepEqual(Object.keys(p.byProvider), ['CPUExecutionProvider']);
    assert.ok(p.byProvider.CPUExecutionProvider! > 500, 'the optimized small UNet has about 1,500 nodes');
    assert.equal(p.memcpy, 0);
    assert.deepEqual(p.cpuComputeNodes, []);
  }
  assert.ok(r.referenceMs! > 0 && r.candidateMs! > 0);
});

test('validate: a copy with one weight changed fails, naming the output', async (t) => {
  const perturbed = await perturbedCopy(SMALL_UNET, 'u.conv_out.weight', scratchDir(t));
  const r = await validateModels(SMALL_UNET, perturbed, { ...ONE_THREAD, provider: 'cpu', dims: SMALL_DIMS });
  assert.equal(r.passed, false);
  assert.ok(r.outputs[0]!.cosine < 0.999);
  assert.ok(r.outputs[0]!.relL2 > 0.01);
  assert.match(r.failures[0]!, /^out_sample: cosine .* is below 0\.999$/);
});

test('validate: the VAE decoder resolves its h/w dims from height/width', async () => {
  const r = await validateModels(TINY_VAE, TINY_VAE, { ...ONE_THREAD, provider: 'cpu', dims: { batch: 1, height: 8, width: 8 } });
  assert.equal(r.passed, true);
  assert.deepEqual(r.dims, { batch: 1, h: 8, w: 8 });
  assert.deepEqual(r.outputs[0]!.dims, [1, 3, 16, 16]);
});

test('validate: float16 inputs and outputs run and compare', async (t) => {
  const dir = scratchDir(t);
  const f16 = writeTinyModel(dir, 'relu16.onnx', {
    op: 'Relu',
    inputs: [{ name: 'x', dtype: DataType.FLOAT16, shape: ['batch', 8] }],
    outputs: [{ name: 'y', dtype: DataType.FLOAT16, shape: ['batch', 8] }],
  });
  const f32 = writeTinyModel(dir, 'relu32.onnx', {
    op: 'Relu',
    inputs: [{ name: 'x', dtype: DataType.FLOAT, shape: ['batch', 8] }],
    outputs: [{ name: 'y', dtype: DataType.FLOAT, shape: ['batch', 8] }],
  });
  const same = await validateModels(f16, f16, { ...ONE_THREAD, provider: 'cpu' });
  assert.equal(same.passed, true);
  assert.equal(same.outputs[0]!.dtype, 'float16');
  const mixed = await validateModels(f32, f16, { ...ONE_THREAD, provider: 'cpu', tolerance: { cosine: 0.9999, maxAbs: 2e-3 } });
  assert.equal(mixed.passed, true, mixed.failures.join('; '));
  assert.ok(mixed.outputs[0]!.maxAbs > 0, 'float16 rounding shows');
});

test('validate: user errors are SdxlOptErrors that say what to do', async (t) => {
  const dir = scratchDir(t);
  const bf16 = writeTinyModel(dir, 'bf16.onnx', {
    op: 'Relu',
    inputs: [{ name: 'x', dtype: DataType.BFLOAT16, shape: [4] }],
    outputs: [{ name: 'y', dtype: DataType.BFLOAT16, shape: [4] }],
  });
  await assert.rejects(validateModels(bf16, bf16, { ...ONE_THREAD, provider: 'cpu' }), sdxlError('UNSUPPORTED', (e) => /bfloat16/.test(e.message)));
  await assert.rejects(
    validateModels(SMALL_UNET, SMALL_UNET, { ...ONE_THREAD, provider: 'cpu', dims: { heigth: 16 } }),
    sdxlError('BAD_PARAM', (e) => /'heigth'/.test(e.message)),
  );
  await assert.rejects(validateModels(SMALL_UNET, TINY_VAE, { ...ONE_THREAD, provider: 'cpu', dims: SMALL_DIMS }), sdxlError('BAD_MODEL', (e) => /no input 'sample'/.test(e.message)));
  await assert.rejects(
    validateModels(SMALL_UNET, SMALL_UNET_DYNAMO, { ...ONE_THREAD, provider: 'cpu' }),
    sdxlError('BAD_PARAM', (e) => /is \[2, 4, 16, 16\] in the candidate but \[2, 4, 128, 128\]/.test(e.message) && (e.hint ?? '').endsWith('--dims height=16,width=16')),
  );
  await assert.rejects(validateModels(SMALL_UNET, `${dir}/missing.onnx`, { ...ONE_THREAD, provider: 'cpu' }), sdxlError('IO'));
  await assert.rejects(validateModels(TINY_VAE, TINY_VAE, { ...ONE_THREAD, provider: 'cpu', strict: true }), sdxlError('BAD_PARAM', (e) => /cuda/.test(e.hint ?? '')));
});

test('session: reproduces the recorded PyTorch output of the small UNet', async () => {
  const io = JSON.parse(fs.readFileSync(SMALL_UNET_IO, 'utf8')) as {
    inputs: Record<string, { dims: number[]; data_base64_le: string }>;
    outputs: Record<string, { dims: number[]; data_base64_le: string }>;
  };
  const f32 = (b64: string): Float32Array => {
    const bytes = Buffer.from(b64, 'base64');
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  const inputs = Object.entries(io.inputs).map(([name, v]) => ({ name, dtype: DataType.FLOAT, type: 'float32', dims: v.dims, data: f32(v.data_base64_le) }));
  const session = await ModelSession.open(SMALL_UNET, { provider: 'cpu', threads: 1 });
  try {
    const { outputs } = await session.run(inputs);
    const got = outputs[0]!.data as Float32Array;
    const want = f32(io.outputs.out_sample!.data_base64_le);
    assert.equal(got.length, want.length);
    let maxAbs = 0;
    for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
    assert.ok(maxAbs < 1e-5, `max abs error ${maxAbs}`);
  } finally {
    await session.close();
  }
});
