/** `sdxl-opt synth`: synthetic weights at the recorded places, deterministic per seed, streamed, written safely. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SdxlOptError } from '../src/errors.js';
import { readModel } from '../src/io/read.js';
import { typedView } from '../src/ir/tensor.js';
import { normScaleInitializers, synthesizeWeights } from '../src/synth.js';
import { bfloat16Bits, float16Bits } from '../src/synth-values.js';
import { buildModel, DataType, externalTensor, f32Bytes, node, rawTensor, valueInfo, writeModelFile } from './helpers/build-model.js';
import { fixture } from './helpers/fixtures.js';
import { REPO_ROOT } from './helpers/recorded-io.js';
import { maxAbsDiff, runOnCpu } from './helpers/ort-run.js';
import { hashDir, sha256File, tempDir } from './helpers/temp-dir.js';

/**
 * A graph-only model: LayerNormalization whose scale reaches it through an Identity (named without 'norm'), a
 * '*norm*weight' by name, tensors of several dtypes at unaligned offsets with gaps, a second data file in a
 * subfolder, an empty tensor, and one inline initializer.
 */
function graphOnly(dir: string): string {
  const file = path.join(dir, 'graph.onnx');
  writeModelFile(
    file,
    buildModel({
      nodes: [
        node('Identity', ['shared_ones'], ['ln_scale']),
        node('LayerNormalization', ['x', 'ln_scale', 'ln_bias'], ['y']),
      ],
      inputs: [valueInfo('x', DataType.FLOAT, [2, 4096])],
      outputs: [valueInfo('y', DataType.FLOAT, [2, 4096])],
      initializers: [
        externalTensor('shared_ones', DataType.FLOAT, [4096], 'weights.bin', 0),
        externalTensor('ln_bias', DataType.FLOAT, [4096], 'weights.bin', 16384),
        externalTensor('proj.weight', DataType.FLOAT, [64, 1000], 'weights.bin', 40000), // gap 32768..40000
        externalTensor('block.norm1.weight', DataType.FLOAT, [512], 'weights.bin', 296001),
        externalTensor('half', DataType.FLOAT16, [3000], 'weights.bin', 300000 + 2048 + 1),
        externalTensor('brain', DataType.BFLOAT16, [3000], 'weights.bin', 310000),
        externalTensor('double', DataType.DOUBLE, [1000], 'sub/more.bin', 8),
        externalTensor('ids', DataType.INT64, [1000], 'sub/more.bin', 8008),
        externalTensor('counts', DataType.INT32, [100], 'sub/more.bin', 16008),
        externalTensor('bytes', DataType.INT8, [100], 'sub/more.bin', 16408),
        externalTensor('mask', DataType.BOOL, [100], 'sub/more.bin', 16508),
        externalTensor('empty', DataType.FLOAT, [0, 8], 'sub/more.bin', 20000),
        rawTensor('inline_bias', DataType.FLOAT, [4], f32Bytes([1, 2, 3, 4])),
      ],
    }),
  );
  return file;
}

const EXPECTED_SIZES = { 'weights.bin': 310000 + 6000, 'more.bin': 20000 };

function stats(values: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i]! / values.length;
  let variance = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    variance += (values[i]! - mean) ** 2 / values.length;
    min = Math.min(min, values[i]!);
    max = Math.max(max, values[i]!);
  }
  return { mean, std: Math.sqrt(variance), min, max };
}

function halfToFloat(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

test('synth writes every external initializer at its place, with realistic values for its dtype and role', async (t) => {
  const dir = tempDir(t);
  const graph = graphOnly(dir);
  const out = path.join(dir, 'out');
  const result = await synthesizeWeights(graph, out);
  assert.equal(result.modelFile, path.join(out, 'model.onnx'));
  assert.deepEqual(result.dataFiles, [
    { file: path.join(out, 'weights.bin'), bytes: EXPECTED_SIZES['weights.bin'] },
    { file: path.join(out, 'sub/more.bin'), bytes: EXPECTED_SIZES['more.bin'] },
  ]);
  assert.equal(result.tensors, 12);
  assert.equal(result.normScales, 2, 'shared_ones (through Identity) and block.norm1.weight');
  assert.equal(fs.statSync(path.join(out, 'weights.bin')).size, EXPECTED_SIZES['weights.bin']);
  assert.equal(fs.statSync(path.join(out, 'sub', 'more.bin')).size, EXPECTED_SIZES['more.bin']);
  assert.equal(sha256File(result.modelFile), sha256File(graph), 'the graph is copied unchanged');
  assert.deepEqual([...hashDir(out).keys()], ['model.onnx', 'sub', 'weights.bin'], 'no temporary files left');

  const model = await readModel(result.modelFile, { requireData: true });
  const values = async (name: string) => typedView(model.graph.initializer(name)!.initializer!.dtype, await model.graph.initializer(name)!.initializer!.bytes());
  const near = (actual: number, expected: number, tolerance: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);

  const weight = stats((await values('proj.weight')) as Float32Array);
  near(weight.mean, 0, 0.001, 'proj.weight mean');
  near(weight.std, 0.02, 0.001, 'proj.weight std');
  assert.ok(weight.max < 0.2 && weight.min > -0.2);
  for (const name of ['shared_ones', 'block.norm1.weight']) {
    const scale = stats((await values(name)) as Float32Array);
    near(scale.mean, 1, 0.003, `${name} mean`);
    near(scale.std, 0.02, 0.003, `${name} std`);
  }
  near(stats((await values('ln_bias')) as Float32Array).mean, 0, 0.002, 'ln_bias mean (a bias, not a scale)');
  const half = stats(Array.from((await values('half')) as Uint16Array, halfToFloat));
  near(half.std, 0.02, 0.002, 'float16 std');
  const brain = stats(Array.from((await values('brain')) as Uint16Array, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!));
  near(brain.std, 0.02, 0.002, 'bfloat16 std');
  near(stats((await values('double')) as Float64Array).std, 0.02, 0.003, 'double std');
  for (const [name, max] of [
    ['ids', 7],
    ['counts', 7],
    ['bytes', 7],
    ['mask', 1],
  ] as const) {
    const v = Array.from((await values(name)) as ArrayLike<number | bigint>, Number);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 0 && x <= max), `${name}: ${v.slice(0, 8).join(', ')}`);
    assert.ok(new Set(v).size > 1, `${name} is not constant`);
  }
  const gap = fs.readFileSync(path.join(out, 'weights.bin')).subarray(32768, 40000);
  assert.ok(gap.every((b) => b === 0), 'alignment gaps read as zeros');

  const x = { dtype: 'float32' as const, dims: [2, 4096], data: Float32Array.from({ length: 8192 }, (_, i) => Math.sin(i)) };
  const y = (await runOnCpu(result.modelFile, new Map([['x', x]]))).get('y')!;
  const ys = stats(y);
  near(ys.std, 1, 0.05, 'LayerNormalization output std with scales around 1');
  assert.equal(maxAbsDiff(y, y), 0, 'finite output');
});

test('synth is deterministic: same seed, same bytes (whatever the chunk size); another seed, other values', async (t) => {
  const dir = tempDir(t);
  const graph = graphOnly(dir);
  const runs = [
    { out: 'a', seed: 0, chunkBytes: 64 },
    { out: 'b', seed: 0, chunkBytes: 8 * 2 ** 20 },
    { out: 'c', seed: 1, chunkBytes: 4096 },
  ];
  for (const r of runs) await synthesizeWeights(graph, path.join(dir, r.out), { seed: r.seed, chunkBytes: r.chunkBytes });
  const files = ['weights.bin', 'sub/more.bin'];
  for (const f of files) {
    assert.equal(sha256File(path.join(dir, 'a', f)), sha256File(path.join(dir, 'b', f)), `${f} differs between two runs with seed 0`);
  }
  const a = await readModel(path.join(dir, 'a', 'model.onnx'));
  const c = await readModel(path.join(dir, 'c', 'model.onnx'));
  for (const v of a.graph.initializers().filter((i) => i.name !== 'empty' && i.name !== 'inline_bias')) {
    const mine = Buffer.from(await v.initializer!.bytes());
    const other = Buffer.from(await c.graph.initializer(v.name)!.initializer!.bytes());
    assert.ok(!mine.equals(other), `'${v.name}' is the same with seeds 0 and 1`);
  }
  // Each tensor is seeded by its name: two tensors of the same shape get different values.
  const one = Buffer.from(await a.graph.initializer('shared_ones')!.initializer!.bytes());
  assert.ok(!one.equals(Buffer.from(await a.graph.initializer('ln_bias')!.initializer!.bytes())));
});

test("synth refuses the input's own folder (also through a symlink) and leaves it unchanged", async (t) => {
  const dir = tempDir(t);
  const graph = graphOnly(dir);
  fs.symlinkSync(dir, path.join(path.dirname(dir), `${path.basename(dir)}-link`));
  t.after(() => fs.rmSync(`${dir}-link`, { force: true }));
  const before = hashDir(dir);
  for (const out of [dir, `${dir}/.`, `${dir}-link`]) {
    await assert.rejects(synthesizeWeights(graph, out), (e: unknown) => e instanceof SdxlOptError && e.code === 'UNSAFE_PATH');
  }
  assert.deepEqual(hashDir(dir), before);
});

test('synth refuses overlapping tensors and dtypes it cannot fill, leaving no files', async (t) => {
  const dir = tempDir(t);
  const model = (inits: ReturnType<typeof externalTensor>[]) =>
    buildModel({ nodes: [node('Identity', ['x'], ['y'])], inputs: [valueInfo('x', DataType.FLOAT, [1])], outputs: [valueInfo('y', DataType.FLOAT, [1])], initializers: inits });
  writeModelFile(path.join(dir, 'overlap.onnx'), model([externalTensor('a', DataType.FLOAT, [100], 'w.bin', 0), externalTensor('b', DataType.FLOAT, [100], 'w.bin', 396)]));
  writeModelFile(path.join(dir, 'fp8.onnx'), model([externalTensor('a', DataType.FLOAT8E4M3FN, [100], 'w.bin', 0)]));
  await assert.rejects(synthesizeWeights(path.join(dir, 'overlap.onnx'), path.join(dir, 'o1')), (e: unknown) => e instanceof SdxlOptError && e.code === 'EXTERNAL_DATA' && /overlap/.test(e.message));
  await assert.rejects(synthesizeWeights(path.join(dir, 'fp8.onnx'), path.join(dir, 'o2')), (e: unknown) => e instanceof SdxlOptError && e.code === 'UNSUPPORTED');
  assert.ok(!fs.existsSync(path.join(dir, 'o1')) && !fs.existsSync(path.join(dir, 'o2')), 'refused before writing anything');
});

test('norm scales of the full SDXL UNet export are found through Identity nodes and the GroupNorm pattern', async () => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const names = [...normScaleInitializers(model.graph)].map((v) => v.name).sort();
  // TorchScript keeps one copy of identical initializers (all GroupNorm gammas of a width, all LayerNorm weights)
  // and reads it through Identity nodes: 2 LayerNorm weights and 6 GroupNorm gammas serve all 254 norm layers.
  assert.equal(names.length, 8);
  assert.equal(names.filter((n) => n.startsWith('onnx::Mul_')).length, 6);
  assert.equal(names.filter((n) => n.endsWith('norm1.weight')).length, 2);
});

test('float16 and bfloat16 conversion rounds to nearest even', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00],
    [0.02, 0x251f],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [3 * 2 ** -25, 0x0002],
    [6.1e-5, 0x03ff],
  ];
  for (const [v, bits] of cases) assert.equal(float16Bits(v), bits, `float16(${v})`);
  assert.equal(bfloat16Bits(1), 0x3f80);
  assert.equal(bfloat16Bits(-3), 0xc040);
  assert.equal(bfloat16Bits(1 + 2 ** -8), 0x3f80, 'a tie rounds to even');
  assert.equal(bfloat16Bits(1 + 3 * 2 ** -8), 0x3f82);
});

test('the synth command writes the model and says where', async (t) => {
  const dir = tempDir(t);
  const graph = graphOnly(dir);
  const cli = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'synth', graph, path.join(dir, 'cli-out'), '--seed', '3']);
  assert.match(stdout, /wrote .*cli-out\/model\.onnx/);
  assert.match(stdout, /12 initializers \(2 norm scales around 1\)/);
  await synthesizeWeights(graph, path.join(dir, 'lib-out'), { seed: 3 });
  assert.equal(sha256File(path.join(dir, 'cli-out', 'weights.bin')), sha256File(path.join(dir, 'lib-out', 'weights.bin')));
  const refused = await promisify(execFile)(process.execPath, [cli, 'synth', graph, dir]).catch((e: { code: number; stderr: string }) => e);
  assert.equal((refused as { code: number }).code, 2);
  assert.match((refused as { stderr: string }).stderr, /^error: .*own folder/);
});
