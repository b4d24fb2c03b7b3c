/**
 * Hostile and broken inputs: external-data locations that leave the model's folder, data files that disagree with
 * the model, truncated and corrupted protobuf, destinations that are the inputs themselves, paths that are not
 * files. Each must end in an SdxlOptError with the right code, never another exception and never a hang, and no
 * operation may change its inputs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { SdxlOptError, type ErrorCode } from '../src/errors.js';
import { modelFromBytes, readModel } from '../src/io/read.js';
import { writeModel } from '../src/io/write.js';
import { MAX_MATERIALIZED_BYTES } from '../src/ir/tensor.js';
import type { TensorProto } from '../src/onnx/types.js';
import { buildModel, DataType, externalTensor, f32Bytes, f32Sequence, node, valueInfo, writeModelFile } from './helpers/build-model.js';
import { runCorruptionCases, type Damage } from './helpers/corrupt.js';
import { fixture } from './helpers/fixtures.js';
import { hashDir, tempDir } from './helpers/temp-dir.js';

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SdxlOptError, `expected SdxlOptError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Asserts that `fn` leaves every file in `dirs` as it was. */
async function leavesUnchanged(dirs: string[], fn: () => Promise<void>): Promise<void> {
  const before = dirs.map(hashDir);
  await fn();
  assert.deepEqual(dirs.map(hashDir), before, 'an input folder changed');
}

/** model.onnx in `dir` reading one float32 [256] weight `w` through `tensor`. */
function oneWeightModel(dir: string, tensor: TensorProto): string {
  const file = path.join(dir, 'model.onnx');
  writeModelFile(
    file,
    buildModel({
      nodes: [node('Add', ['x', 'w'], ['y'])],
      inputs: [valueInfo('x', DataType.FLOAT, [256])],
      outputs: [valueInfo('y', DataType.FLOAT, [256])],
      initializers: [tensor],
    }),
  );
  return file;
}

const WEIGHTS = f32Bytes(f32Sequence(256, 5)); // 1024 bytes

function modelDir(t: TestContext): { root: string; dir: string; outside: string } {
  const root = tempDir(t);
  const dir = path.join(root, 'model');
  const outside = path.join(root, 'elsewhere');
  fs.mkdirSync(dir);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(dir, 'w.bin'), WEIGHTS);
  fs.writeFileSync(path.join(outside, 'secret.bin'), WEIGHTS);
  return { root, dir, outside };
}

// ---- locations that leave the model's folder ------------------------------------------------------------------

const UNSAFE_LOCATIONS: [string, (outside: string) => string][] = [
  ['an absolute path', (outside) => path.join(outside, 'secret.bin')],
  ["a path climbing with '..'", () => '../elsewhere/secret.bin'],
  ["a path with '..' in the middle", () => 'sub/../../elsewhere/secret.bin'],
  ["a backslash path with '..'", () => '..\\elsewhere\\secret.bin'],
  ['a Windows drive path', () => 'C:/elsewhere/secret.bin'],
];

for (const [what, location] of UNSAFE_LOCATIONS) {
  test(`external data location that is ${what} is refused with UNSAFE_PATH`, async (t) => {
    const { root, dir, outside } = modelDir(t);
    const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], location(outside), 0, 1024));
    await leavesUnchanged([dir, outside, root], () => rejectsWith(readModel(file), 'UNSAFE_PATH', /location/));
  });
}

test('external data through a symlink that resolves outside the folder is refused with UNSAFE_PATH', async (t) => {
  const { dir, outside } = modelDir(t);
  fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'link.bin'));
  fs.symlinkSync(outside, path.join(dir, 'linkdir'));
  fs.symlinkSync('../elsewhere/secret.bin', path.join(dir, 'relative-link.bin'));
  for (const location of ['link.bin', 'linkdir/secret.bin', 'relative-link.bin']) {
    const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], location, 0, 1024));
    await leavesUnchanged([dir, outside], () => rejectsWith(readModel(file), 'UNSAFE_PATH', /outside the model's directory/));
  }
});

test('a symlink that stays inside the folder is followed', async (t) => {
  const { dir } = modelDir(t);
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.symlinkSync('../w.bin', path.join(dir, 'sub', 'w-link.bin'));
  const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], 'sub/w-link.bin', 0, 1024));
  const model = await readModel(file);
  assert.ok(Buffer.from(await model.graph.initializer('w')!.initializer!.bytes()).equals(WEIGHTS));
});

// ---- data files that disagree with the model ------------------------------------------------------------------

/** [what, offset, length, message, dims (default [256])] */
const BAD_EXTENTS: [string, number | string, number | string | undefined, RegExp, number[]?][] = [
  ['a data file shorter than offset + length', 4, 1024, /past the end/],
  ['an offset past the end of the file', 5000, 1024, /past the end/],
  ['an empty tensor at an offset past the end', 5000, undefined, /past the end/, [0, 256]],
  ['a length that disagrees with dtype × shape', 0, 1020, /does not match/],
  ['a length larger than dtype × shape', 0, 2048, /does not match/],
  ['a non-numeric offset', 'abc', 1024, /offset 'abc'/],
  ['a negative offset', '-4', 1024, /offset '-4'/],
  ['an offset in exponent notation', '1e3', 1024, /offset '1e3'/],
  ['a hexadecimal offset', '0x10', 1024, /offset '0x10'/],
  ['an offset with spaces', ' 4', 1024, /offset ' 4'/],
  ['an empty offset', '', 1024, /offset ''/],
  ['an offset beyond 2^53', '18446744073709551615', 1024, /offset/],
  ['a non-numeric length', 0, 'many', /length 'many'/],
  ['a fractional length', 0, '1024.0', /length '1024.0'/],
];

for (const [what, offset, length, message, dims] of BAD_EXTENTS) {
  test(`${what} is refused with EXTERNAL_DATA`, async (t) => {
    const { dir } = modelDir(t);
    const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, dims ?? [256], 'w.bin', offset, length));
    await leavesUnchanged([dir], () => rejectsWith(readModel(file), 'EXTERNAL_DATA', message));
  });
}

test('a data file that is a directory or a FIFO is refused with EXTERNAL_DATA, without opening it', { timeout: 20_000 }, async (t) => {
  const { dir } = modelDir(t);
  fs.mkdirSync(path.join(dir, 'w.dir'));
  execFileSync('mkfifo', [path.join(dir, 'w.fifo')]);
  for (const location of ['w.dir', 'w.fifo']) {
    const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], location, 0, 1024));
    await rejectsWith(readModel(file), 'EXTERNAL_DATA', /not a regular file/);
  }
});

test('a missing data file: metadata reads, bytes fail with EXTERNAL_DATA (and requireData fails at once)', async (t) => {
  const { dir } = modelDir(t);
  const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], 'absent.bin', 0, 1024));
  const model = await readModel(file);
  const w = model.graph.initializer('w')!.initializer!;
  assert.deepEqual([w.dtype, w.dims, w.byteLength], [DataType.FLOAT, [256], 1024]);
  await rejectsWith(w.bytes(), 'EXTERNAL_DATA', /absent\.bin.*missing/);
  await rejectsWith(readModel(file, { requireData: true }), 'EXTERNAL_DATA', /missing/);
});

test('a missing data file never allocates the size the model claims', async (t) => {
  const { dir } = modelDir(t);
  // The largest tensor bytes() would materialize, claimed by a model whose data file does not exist.
  const elements = MAX_MATERIALIZED_BYTES / 4;
  const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [elements], 'absent.bin', 0));
  const w = (await readModel(file)).graph.initializer('w')!.initializer!;
  const before = process.memoryUsage().arrayBuffers;
  await rejectsWith(w.bytes(), 'EXTERNAL_DATA', /missing/);
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew < 64 * 2 ** 20, `array buffers grew by ${grew} bytes`);
});

test('a model held in memory under a folder that does not exist reads; its external tensors are missing', async (t) => {
  const dir = tempDir(t);
  const vae = fs.readFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
  assert.equal(modelFromBytes(vae, path.join(dir, 'no', 'such', 'model.onnx')).graph.nodeCount, 380);
  const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], 'w.bin', 0, 1024));
  const model = modelFromBytes(fs.readFileSync(file), path.join(dir, 'no', 'such', 'model.onnx'));
  await rejectsWith(model.graph.initializer('w')!.initializer!.bytes(), 'EXTERNAL_DATA', /missing/);
});

test('a data file that shrinks after the model was read fails with EXTERNAL_DATA when read', async (t) => {
  const { dir } = modelDir(t);
  const file = oneWeightModel(dir, externalTensor('w', DataType.FLOAT, [256], 'w.bin', 0, 1024));
  const model = await readModel(file);
  fs.truncateSync(path.join(dir, 'w.bin'), 1000);
  await rejectsWith(model.graph.initializer('w')!.initializer!.bytes(), 'EXTERNAL_DATA', /ended at byte 1000/);
});

// ---- truncated and corrupted protobuf -------------------------------------------------------------------------

const MODEL_IS_BAD: readonly string[] = ['BAD_PROTOBUF', 'BAD_MODEL', 'BAD_TENSOR'];

function assertOnlyModelErrors(results: { damage: Damage; outcome: string; ms: number }[], allowOk: boolean): Map<string, number> {
  const tally = new Map<string, number>();
  for (const r of results) {
    tally.set(r.outcome, (tally.get(r.outcome) ?? 0) + 1);
    const fine = MODEL_IS_BAD.includes(r.outcome) || (allowOk && r.outcome === 'ok');
    assert.ok(fine, `${JSON.stringify(r.damage)}: ${r.outcome}`);
    assert.ok(r.ms < 5000, `${JSON.stringify(r.damage)} took ${r.ms} ms`);
  }
  return tally;
}

test('a truncated model fails with BAD_PROTOBUF or BAD_MODEL at every cut, inside fields included', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const vae = new Uint8Array(fs.readFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx')));
  const unet = new Uint8Array(fs.readFileSync(fixture('sdxl-unet-small-ts17.onnx')));
  // Every byte of the header and first nodes, the whole tail (outputs, opset_import), and points all through.
  const vaeCuts = [
    ...Array.from({ length: 1500 }, (_, i) => i),
    ...Array.from({ length: 200 }, (_, i) => vae.byteLength - 1 - i),
    ...Array.from({ length: 150 }, (_, i) => Math.floor(((i + 0.37) / 150) * vae.byteLength)),
  ];
  const unetCuts = Array.from({ length: 24 }, (_, i) => Math.floor(((i + 0.61) / 24) * unet.byteLength));
  for (const [bytes, cuts] of [
    [vae, vaeCuts],
    [unet, unetCuts],
  ] as const) {
    const results = await runCorruptionCases({ bytes, file: path.join(dir, 'model.onnx'), cases: cuts.map((cut) => ({ cut })) }, 100_000);
    const tally = assertOnlyModelErrors(results, false);
    t.diagnostic(`${cuts.length} cuts: ${JSON.stringify(Object.fromEntries(tally))}`);
  }
});

test('randomly corrupted models fail with BAD_PROTOBUF, BAD_MODEL or BAD_TENSOR, or read as a valid model', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const vae = new Uint8Array(fs.readFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx')));
  // About half the damage lands in weight bytes, where any value is valid: those models read fine.
  const cases = Array.from({ length: 300 }, (_, seed) => ({ seed: seed + 1 }));
  const results = await runCorruptionCases({ bytes: vae, file: path.join(dir, 'model.onnx'), cases }, 100_000);
  const tally = assertOnlyModelErrors(results, true);
  t.diagnostic(`300 corruptions: ${JSON.stringify(Object.fromEntries(tally))}`);
  assert.ok((tally.get('BAD_PROTOBUF') ?? 0) > 20, 'the corruption should break the protobuf often');
});

// ---- destinations that are inputs; paths that are not files ---------------------------------------------------

test('writing onto the model file or its data file is refused, by any spelling, and changes nothing', async (t) => {
  const root = tempDir(t);
  const dir = path.join(root, 'in');
  fs.mkdirSync(dir);
  fs.copyFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx'), path.join(dir, 'vae.onnx'));
  const inline = await readModel(path.join(dir, 'vae.onnx'));
  await writeModel(inline, path.join(dir, 'ext.onnx'), { externalData: 'always' });
  const external = await readModel(path.join(dir, 'ext.onnx'));
  fs.symlinkSync(dir, path.join(root, 'in-link'));
  fs.mkdirSync(path.join(root, 'out'));
  fs.symlinkSync(path.join(dir, 'ext.onnx_data'), path.join(root, 'out', 'model.onnx_data'));

  const attempts: [string, () => Promise<unknown>][] = [
    ['the inline model onto itself', () => writeModel(inline, path.join(dir, 'vae.onnx'))],
    ['the model onto itself through ./', () => writeModel(inline, `${dir}/./vae.onnx`)],
    ['the model onto itself through a symlinked folder', () => writeModel(inline, path.join(root, 'in-link', 'vae.onnx'))],
    ['an external model onto itself', () => writeModel(external, path.join(dir, 'ext.onnx'))],
    ['another name whose data file is the input data file', () => writeModel(external, path.join(dir, 'other.onnx'), { dataFileName: 'ext.onnx_data' })],
    ['the model file onto the input data file', () => writeModel(external, path.join(dir, 'ext.onnx_data'), { externalData: 'never' })],
    ['a data file that is a symlink to the input data file', () => writeModel(external, path.join(root, 'out', 'model.onnx'))],
  ];
  const before = [hashDir(dir), hashDir(path.join(root, 'out'))];
  for (const [what, attempt] of attempts) {
    await assert.rejects(attempt(), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError, what);
      assert.equal(e.code, 'UNSAFE_PATH', `${what}: ${e.message}`);
      return true;
    });
  }
  assert.deepEqual([hashDir(dir), hashDir(path.join(root, 'out'))], before);
});

test('a data file name that leaves the folder or names the model file itself is refused', async (t) => {
  const root = tempDir(t);
  const model = await readModel(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
  fs.mkdirSync(path.join(root, 'out'));
  for (const dataFileName of ['../escape.bin', '/tmp/abs.bin', 'model.onnx']) {
    await rejectsWith(writeModel(model, path.join(root, 'out', 'model.onnx'), { externalData: 'always', dataFileName }), 'UNSAFE_PATH');
  }
  assert.deepEqual([...hashDir(root).entries()], [['out', 'directory']]);
  assert.deepEqual([...hashDir(path.join(root, 'out')).keys()], []);
});

test('a model path that is a directory or a FIFO is refused; so is a destination that is one', { timeout: 20_000 }, async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'folder.onnx'));
  execFileSync('mkfifo', [path.join(dir, 'fifo.onnx')]);
  await rejectsWith(readModel(path.join(dir, 'folder.onnx')), 'IO', /is a directory/);
  await rejectsWith(readModel(path.join(dir, 'fifo.onnx')), 'UNSAFE_PATH', /not a regular file/);
  await rejectsWith(readModel(path.join(dir, 'absent.onnx')), 'IO', /does not exist/);
  const model = await readModel(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
  await rejectsWith(writeModel(model, path.join(dir, 'folder.onnx')), 'UNSAFE_PATH', /not a regular file/);
  await rejectsWith(writeModel(model, path.join(dir, 'fifo.onnx')), 'UNSAFE_PATH', /not a regular file/);
  fs.mkdirSync(path.join(dir, 'x.onnx_data'));
  await rejectsWith(writeModel(model, path.join(dir, 'x.onnx'), { externalData: 'always' }), 'UNSAFE_PATH', /not a regular file/);
  assert.deepEqual([...hashDir(dir).entries()], [
    ['fifo.onnx', 'other'],
    ['folder.onnx', 'directory'],
    ['x.onnx_data', 'directory'],
  ]);
});

test('reading, rewriting and failing leave the fixtures unchanged', async (t) => {
  const out = tempDir(t);
  const fixtures = path.dirname(fixture('x'));
  await leavesUnchanged([fixtures], async () => {
    const model = await readModel(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
    await writeModel(model, path.join(out, 'a.onnx'), { externalData: 'always' });
    await writeModel(await readModel(path.join(out, 'a.onnx')), path.join(out, 'b.onnx'), { externalData: 'never' });
    await rejectsWith(writeModel(model, fixture('sdxl-vae-decoder-tiny-ts17.onnx')), 'UNSAFE_PATH');
    await rejectsWith(readModel(fixture('sdxl-unet-full-graph-only.onnx'), { requireData: true }), 'EXTERNAL_DATA');
  });
});
