/**
 * External data in every form a model may use: aligned files written by writeModel, inline raw_data, typed fields,
 * several data files, embedded weights. Each is read, rewritten and read again, comparing every tensor's bytes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ExternalData, externalEntries } from '../src/io/external-data.js';
import { readModel, sourceOf } from '../src/io/read.js';
import { StagedWriter } from '../src/io/staged-writer.js';
import { writeModel } from '../src/io/write.js';
import type { Model } from '../src/ir/model.js';
import { decodeModel } from '../src/onnx/codec.js';
import type { TensorProto } from '../src/onnx/types.js';
import {
  buildModel,
  DataType,
  externalTensor,
  f32Bytes,
  f32Sequence,
  floatDataTensor,
  int32DataTensor,
  int64DataTensor,
  node,
  rawTensor,
  valueInfo,
  writeModelFile,
} from './helpers/build-model.js';
import { fixture } from './helpers/fixtures.js';
import { smallUnetIo } from './helpers/recorded-io.js';
import { maxAbsDiff, runOnCpu } from './helpers/ort-run.js';
import { hashDir, tempDir } from './helpers/temp-dir.js';

/** name → bytes of every initializer. */
async function tensorBytes(model: Model): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const v of model.graph.initializers()) out.set(v.name, Buffer.from(await v.initializer!.bytes()));
  return out;
}

function initializerProtos(file: string): TensorProto[] {
  return decodeModel(fs.readFileSync(file), file).graph!.initializer ?? [];
}

function assertSameTensors(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, bytes] of expected) assert.ok(actual.get(name)!.equals(bytes), `initializer '${name}' differs`);
}

test("externalData 'always': same tensors read back, 4096-aligned offsets, and ORT gives the inline model's output", async (t) => {
  const dir = tempDir(t);
  const source = fixture('sdxl-unet-small-ts17.onnx');
  const original = await readModel(source);
  const expected = await tensorBytes(original);
  const out = path.join(dir, 'model.onnx');
  const result = await writeModel(original, out, { externalData: 'always' });
  assert.equal(result.dataFile, path.join(dir, 'model.onnx_data'));
  assert.deepEqual([...hashDir(dir).keys()], ['model.onnx', 'model.onnx_data']);

  const protos = initializerProtos(out);
  const external = protos.filter((p) => p.data_location === 1);
  assert.equal(external.length, result.externalTensors);
  assert.ok(external.length > 100, `${external.length} external tensors`);
  let end = 0;
  for (const p of external) {
    const e = externalEntries(p);
    assert.equal(e.get('location'), 'model.onnx_data');
    const offset = Number(e.get('offset'));
    assert.equal(offset % 4096, 0, `'${p.name}' at offset ${offset}`);
    assert.ok(offset >= end, `'${p.name}' overlaps the tensor before it`);
    end = offset + Number(e.get('length'));
    assert.ok(!Object.hasOwn(p, 'raw_data'), `'${p.name}' keeps raw_data`);
  }
  assert.equal(fs.statSync(result.dataFile!).size, end);
  for (const p of protos.filter((q) => q.data_location !== 1)) {
    assert.ok((p.raw_data?.byteLength ?? 0) < 1024, `'${p.name}' stayed inline with ${p.raw_data?.byteLength} bytes`);
  }

  const reread = await readModel(out);
  assert.equal(reread.graph.initializers().filter((v) => v.initializer!.data instanceof ExternalData).length, external.length);
  assert.deepEqual(sourceOf(reread)!.dataFiles, [fs.realpathSync(result.dataFile!)]);
  assertSameTensors(await tensorBytes(reread), expected);

  const { inputs } = smallUnetIo();
  const inline = (await runOnCpu(source, inputs)).get('out_sample')!;
  const fromExternal = (await runOnCpu(out, inputs)).get('out_sample')!;
  assert.equal(maxAbsDiff(fromExternal, inline), 0);
});

test('external tensors stream in chunks of any size, across chunk boundaries', async (t) => {
  const dir = tempDir(t);
  const weights = f32Sequence(1000, 7);
  fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.concat([Buffer.alloc(13, 0xee), f32Bytes(weights), Buffer.alloc(5, 0xee)]));
  writeModelFile(
    path.join(dir, 'm.onnx'),
    buildModel({
      nodes: [node('Add', ['x', 'w'], ['y'])],
      inputs: [valueInfo('x', DataType.FLOAT, [1000])],
      outputs: [valueInfo('y', DataType.FLOAT, [1000])],
      initializers: [externalTensor('w', DataType.FLOAT, [1000], 'w.bin', 13, 4000)],
    }),
  );
  const data = (await readModel(path.join(dir, 'm.onnx'))).graph.initializer('w')!.initializer!.data;
  for (const chunk of [1, 7, 4000, 1 << 20]) {
    const parts: Buffer[] = [];
    for await (const c of data.chunks(chunk)) {
      assert.ok(c.byteLength <= chunk);
      parts.push(Buffer.from(c)); // a chunk may be reused: copy it
    }
    assert.ok(Buffer.concat(parts).equals(f32Bytes(weights)), `chunk size ${chunk}`);
  }
});

/** A model holding one tensor in each inline form, all read by an Add chain so ORT can check them too. */
function inlineFormsModel() {
  const fp16Bits = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x8000]; // 1, -2, ~1/3, tiny subnormal, max, -0
  const raw = f32Sequence(300, 3);
  const floats = Array.from(f32Sequence(300, 4));
  const int64s = [0, 1, -1, 2 ** 40, -(2 ** 52), 7];
  const int32s = Array.from({ length: 300 }, (_, i) => (i * 2654435761) | 0);
  return {
    model: buildModel({
      nodes: [node('Add', ['x', 'w_raw'], ['y0']), node('Add', ['y0', 'w_float_data'], ['y'])],
      inputs: [valueInfo('x', DataType.FLOAT, [300])],
      outputs: [valueInfo('y', DataType.FLOAT, [300])],
      initializers: [
        rawTensor('w_raw', DataType.FLOAT, [300], f32Bytes(raw)),
        floatDataTensor('w_float_data', [300], floats),
        int64DataTensor('shape_int64_data', [6], int64s),
        int32DataTensor('big_int32_data', DataType.INT32, [300], int32s),
        int32DataTensor('half_int32_data', DataType.FLOAT16, [6], fp16Bits),
        int32DataTensor('bf16_int32_data', DataType.BFLOAT16, [2], [0x3f80, 0xc040]), // 1, -3
      ],
    }),
    expected: new Map<string, Buffer>([
      ['w_raw', Buffer.from(f32Bytes(raw))],
      ['w_float_data', Buffer.from(f32Bytes(floats))],
      ['shape_int64_data', Buffer.from(BigInt64Array.from(int64s.map(BigInt)).buffer)],
      ['big_int32_data', Buffer.from(Int32Array.from(int32s).buffer)],
      ['half_int32_data', Buffer.from(Uint16Array.from(fp16Bits).buffer)],
      ['bf16_int32_data', Buffer.from(Uint16Array.from([0x3f80, 0xc040]).buffer)],
    ]),
  };
}

test('inline raw_data and typed fields (float_data, int64_data, int32_data with fp16/bf16 bits) read as little-endian bytes', async (t) => {
  const dir = tempDir(t);
  const { model, expected } = inlineFormsModel();
  const file = path.join(dir, 'forms.onnx');
  const bytes = writeModelFile(file, model);
  const read = await readModel(file);
  assertSameTensors(await tensorBytes(read), expected);

  // Unchanged, they are written back as they were: typed fields stay typed fields.
  await writeModel(read, path.join(dir, 'same.onnx'));
  assert.ok(fs.readFileSync(path.join(dir, 'same.onnx')).equals(bytes));
});

test('typed fields and raw_data go external and come back with the same bytes, then inline again', async (t) => {
  const dir = tempDir(t);
  const { model, expected } = inlineFormsModel();
  writeModelFile(path.join(dir, 'forms.onnx'), model);
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  const external = path.join(outDir, 'forms.onnx');
  const result = await writeModel(await readModel(path.join(dir, 'forms.onnx')), external, { externalData: 'always', sizeThreshold: 0 });
  assert.equal(result.externalTensors, 6);
  for (const p of initializerProtos(external)) {
    assert.equal(p.data_location, 1, `'${p.name}' is external`);
    assert.equal(p.float_data?.length ?? 0, 0);
    assert.equal(p.int32_data?.length ?? 0, 0);
    assert.equal(p.int64_data?.length ?? 0, 0);
    assert.equal(Number(externalEntries(p).get('offset')) % 4096, 0);
  }
  const reread = await readModel(external);
  assertSameTensors(await tensorBytes(reread), expected);

  const inline = path.join(dir, 'inline.onnx');
  await writeModel(reread, inline, { externalData: 'never' });
  assert.ok(initializerProtos(inline).every((p) => p.data_location !== 1 && Object.hasOwn(p, 'raw_data')));
  assertSameTensors(await tensorBytes(await readModel(inline)), expected);

  const x = { dtype: 'float32' as const, dims: [300], data: f32Sequence(300, 9) };
  const inputs = new Map([['x', x]]);
  const want = (await runOnCpu(path.join(dir, 'forms.onnx'), inputs)).get('y')!;
  assert.equal(maxAbsDiff((await runOnCpu(external, inputs)).get('y')!, want), 0);
  assert.equal(maxAbsDiff((await runOnCpu(inline, inputs)).get('y')!, want), 0);
});

test('a model whose tensors live in two data files (one in a subfolder, unaligned) reads, runs and rewrites into one', async (t) => {
  const dir = tempDir(t);
  const a = f32Sequence(512, 11);
  const b = f32Sequence(512, 12);
  const c = f32Sequence(512, 13);
  fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.concat([f32Bytes(a), f32Bytes(c)]));
  fs.mkdirSync(path.join(dir, 'weights'));
  fs.writeFileSync(path.join(dir, 'weights', 'b.bin'), Buffer.concat([Buffer.alloc(100), f32Bytes(b)]));
  const file = path.join(dir, 'two.onnx');
  writeModelFile(
    file,
    buildModel({
      nodes: [node('Mul', ['x', 'a'], ['xa']), node('Add', ['xa', 'b'], ['xab']), node('Sub', ['xab', 'c'], ['y'])],
      inputs: [valueInfo('x', DataType.FLOAT, [512])],
      outputs: [valueInfo('y', DataType.FLOAT, [512])],
      initializers: [
        externalTensor('a', DataType.FLOAT, [512], 'a.bin', 0, 2048),
        externalTensor('b', DataType.FLOAT, [512], 'weights/b.bin', 100), // no length: dtype × shape
        externalTensor('c', DataType.FLOAT, [512], 'a.bin', 2048, 2048),
      ],
    }),
  );
  const read = await readModel(file);
  const expected = new Map([
    ['a', Buffer.from(f32Bytes(a))],
    ['b', Buffer.from(f32Bytes(b))],
    ['c', Buffer.from(f32Bytes(c))],
  ]);
  assertSameTensors(await tensorBytes(read), expected);
  assert.deepEqual(new Set(sourceOf(read)!.dataFiles), new Set([fs.realpathSync(path.join(dir, 'a.bin')), fs.realpathSync(path.join(dir, 'weights', 'b.bin'))]));

  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  const out = path.join(outDir, 'two.onnx');
  const result = await writeModel(read, out); // 'auto' stays external because the input was
  assert.equal(result.externalTensors, 3);
  assert.deepEqual([...hashDir(outDir).keys()], ['two.onnx', 'two.onnx_data']);
  const locations = initializerProtos(out).map((p) => externalEntries(p));
  assert.deepEqual(locations.map((e) => [e.get('location'), e.get('offset')]), [['two.onnx_data', '0'], ['two.onnx_data', '4096'], ['two.onnx_data', '8192']]);
  assertSameTensors(await tensorBytes(await readModel(out)), expected);

  const inputs = new Map([['x', { dtype: 'float32' as const, dims: [512], data: f32Sequence(512, 14) }]]);
  const want = (await runOnCpu(file, inputs)).get('y')!;
  assert.equal(maxAbsDiff((await runOnCpu(out, inputs)).get('y')!, want), 0);
  const x = inputs.get('x')!.data;
  assert.equal(want[5], Math.fround(Math.fround(Math.fround(x[5]! * a[5]!) + b[5]!) - c[5]!));
});

test('an embedded-weights model stays embedded under auto, and goes external when asked', async (t) => {
  const dir = tempDir(t);
  const source = fixture('sdxl-vae-decoder-tiny-ts17.onnx');
  const model = await readModel(source);
  const expected = await tensorBytes(model);
  assert.ok(model.graph.initializers().every((v) => v.initializer!.data.inMemory !== undefined));

  const auto = await writeModel(model, path.join(dir, 'auto.onnx'));
  assert.equal(auto.dataFile, undefined);
  assert.equal(auto.externalTensors, 0);

  // A limit below the weights' size sends 'auto' external too.
  const overLimit = await writeModel(model, path.join(dir, 'limit.onnx'), { inlineLimit: 1024 });
  assert.equal(overLimit.dataFile, path.join(dir, 'limit.onnx_data'));

  const external = await writeModel(model, path.join(dir, 'ext.onnx'), { externalData: 'always', dataFileName: 'weights.bin' });
  assert.equal(external.dataFile, path.join(dir, 'weights.bin'));
  assert.ok(external.modelBytes < fs.statSync(source).size / 4, `model file is ${external.modelBytes} bytes`);
  assertSameTensors(await tensorBytes(await readModel(path.join(dir, 'ext.onnx'))), expected);
  assertSameTensors(await tensorBytes(await readModel(path.join(dir, 'limit.onnx'))), expected);
});

test('the staged writer turns any mix of pieces, padding, gaps and in-place bytes into the same file, through buffers of any size', async (t) => {
  const dir = tempDir(t);
  const pieces = [f32Bytes(f32Sequence(5, 1)), new Uint8Array(0), f32Bytes(f32Sequence(1, 2)), f32Bytes(f32Sequence(300, 3)), new Uint8Array([7])];
  const expected: number[] = [];
  const alignTo = (n: number) => {
    while (expected.length % n) expected.push(0);
  };
  for (const [i, p] of pieces.entries()) {
    alignTo(i === 3 ? 256 : 16);
    expected.push(...p);
  }
  // Then a gap of 100 bytes (zeros in the buffer, or a hole when it does not fit) and 10 bytes made in place.
  expected.push(...new Array<number>(100).fill(0), ...new Array<number>(10).fill(9));
  for (const bufferBytes of [1, 7, 64, 4096]) {
    const file = path.join(dir, `staged-${bufferBytes}.bin`);
    const fh = await fs.promises.open(file, 'wx');
    const writer = new StagedWriter(fh, file, bufferBytes);
    for (const [i, p] of pieces.entries()) {
      await writer.alignTo(i === 3 ? 256 : 16);
      await writer.append(p);
      p.fill(0xaa); // a caller may reuse its chunk once append returns
    }
    await writer.skipTo(writer.position + 100);
    await writer.produce(10, (into) => into.fill(9));
    await writer.finish();
    await fh.close();
    assert.equal(writer.position, expected.length);
    assert.deepEqual([...fs.readFileSync(file)], expected, `staging buffers of ${bufferBytes} bytes`);
    for (const [i, p] of pieces.entries()) p.set(i === 4 ? [7] : f32Bytes(f32Sequence(p.byteLength / 4, [1, 0, 2, 3][i]!)));
  }
});

test('alignment larger than any buffer and alignment 1 are honoured', async (t) => {
  const dir = tempDir(t);
  const model = await readModel(fixture('sdxl-vae-decoder-tiny-ts17.onnx'));
  const expected = await tensorBytes(model);
  for (const alignment of [1, 128 * 1024]) {
    const out = path.join(dir, `a${alignment}.onnx`);
    await writeModel(model, out, { externalData: 'always', alignment });
    const extents = initializerProtos(out)
      .filter((p) => p.data_location === 1)
      .map((p) => [Number(externalEntries(p).get('offset')), Number(externalEntries(p).get('length'))] as const);
    assert.ok(extents.every(([o]) => o % alignment === 0));
    if (alignment === 1) assert.ok(extents.every(([o], i) => i === 0 || o === extents[i - 1]![0] + extents[i - 1]![1]), 'packed without gaps');
    else assert.ok(extents.some(([o], i) => i > 0 && o > extents[i - 1]![0] + extents[i - 1]![1] + 4096), 'gaps up to 128 KiB');
    assertSameTensors(await tensorBytes(await readModel(out)), expected);
  }
});
