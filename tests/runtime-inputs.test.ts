import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readModel } from '../src/io/read.js';
import { DataType } from '../src/onnx/dtype.js';
import { DimResolver, parseDims } from '../src/runtime/dims.js';
import { fromFloat16Bits, toFloat16Bits } from '../src/runtime/float16.js';
import { generateInputs, inputSpecsOf, type InputSpec } from '../src/runtime/inputs.js';
import { generateModelInputs } from '../src/runtime/index.js';
import { SeededRandom } from '../src/runtime/random.js';
import { SMALL_UNET, sdxlError } from './helpers/runtime-fixtures.js';

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('inputs: the same seed gives the same bytes, another seed other bytes', async () => {
  const specs = inputSpecsOf(await readModel(SMALL_UNET));
  assert.deepEqual(specs.map((s) => s.name), ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids']);
  assert.deepEqual(specs[0]!.shape, ['batch', 4, 'height', 'width'], 'symbolic dims are read as their names');
  const a = generateInputs(specs, new DimResolver({ height: 16, width: 16 }), 7, 'test');
  const b = generateInputs(specs, new DimResolver({ height: 16, width: 16 }), 7, 'test');
  const c = generateInputs(specs, new DimResolver({ height: 16, width: 16 }), 8, 'test');
  for (let i = 0; i < a.length; i++) assert.ok(bytesOf(a[i]!.data).equals(bytesOf(b[i]!.data)), `${a[i]!.name} differs between runs`);
  for (const name of ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds']) {
    const i = a.findIndex((x) => x.name === name);
    assert.ok(!bytesOf(a[i]!.data).equals(bytesOf(c[i]!.data)), `${name} did not change with the seed`);
  }
});

test('inputs: generateModelInputs gives what validate feeds, at the given dims', async () => {
  const inputs = await generateModelInputs(SMALL_UNET, { dims: { batch: 1, height: 8, width: 8, sequence: 5 }, seed: 3 });
  assert.deepEqual(
    inputs.map((i) => [i.name, i.type, i.dims]),
    [
      ['sample', 'float32', [1, 4, 8, 8]],
      ['timestep', 'float32', [1]],
      ['encoder_hidden_states', 'float32', [1, 5, 32]],
      ['text_embeds', 'float32', [1, 16]],
      ['time_ids', 'float32', [1, 6]],
    ],
  );
});

test('inputs: pinned bytes, so a change of generator (or platform) shows', () => {
  const [sample] = generateInputs([{ name: 'sample', dtype: DataType.FLOAT, shape: [4] }], new DimResolver(), 0, 'test');
  const [ts] = generateInputs([{ name: 'timestep', dtype: DataType.FLOAT, shape: [2] }], new DimResolver(), 0, 'test');
  // Values from this generator on the machine the test was written on; identical wherever the arithmetic is IEEE.
  assert.deepEqual(Array.from(sample!.data as Float32Array), PINNED_SAMPLE);
  assert.deepEqual(Array.from(ts!.data as Float32Array), PINNED_TIMESTEP);
});

test('inputs: SDXL inputs get realistic values at the default sizes', () => {
  const specs: InputSpec[] = [
    { name: 'sample', dtype: DataType.FLOAT, shape: ['batch', 4, 'height', 'width'] },
    { name: 'timestep', dtype: DataType.FLOAT, shape: ['batch'] },
    { name: 'encoder_hidden_states', dtype: DataType.FLOAT, shape: ['batch', 'sequence', 8] },
    { name: 'time_ids', dtype: DataType.FLOAT, shape: ['batch', 6] },
    { name: 'input_ids', dtype: DataType.INT64, shape: ['batch', 'sequence'] },
  ];
  const inputs = generateInputs(specs, new DimResolver(), 0, 'test');
  const by = new Map(inputs.map((i) => [i.name, i]));
  assert.deepEqual(by.get('sample')!.dims, [2, 4, 128, 128]);
  assert.deepEqual(by.get('encoder_hidden_states')!.dims, [2, 77, 8]);
  const sample = by.get('sample')!.data as Float32Array;
  const mean = sample.reduce((s, x) => s + x, 0) / sample.length;
  const variance = sample.reduce((s, x) => s + (x - mean) ** 2, 0) / sample.length;
  assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.02, `sample is not N(0,1): mean ${mean}, variance ${variance}`);
  const ts = by.get('timestep')!.data as Float32Array;
  assert.ok([...ts].every((t) => t >= 0 && t < 1000) && ts[0] !== ts[1]);
  assert.deepEqual(Array.from(by.get('time_ids')!.data as Float32Array), [1024, 1024, 0, 0, 1024, 1024, 1024, 1024, 0, 0, 1024, 1024]);
  const ids = by.get('input_ids')!;
  assert.equal(ids.type, 'int64');
  const idValues = Array.from(ids.data as BigInt64Array, Number);
  assert.equal(idValues[76], 49407);
  assert.equal(idValues[153], 49407);
  assert.ok(idValues.every((v) => v >= 0 && v < 49408));
  assert.ok(idValues.filter((v) => v === 49407).length === 2, 'the end-of-text id appears only at the end of each row');
});

test('inputs: float16 inputs are the rounded bits of the same values', () => {
  const spec = (dtype: number): InputSpec => ({ name: 'x', dtype, shape: [64] });
  const [f32] = generateInputs([spec(DataType.FLOAT)], new DimResolver(), 3, 'test');
  const [f16] = generateInputs([spec(DataType.FLOAT16)], new DimResolver(), 3, 'test');
  assert.equal(f16!.type, 'float16');
  assert.ok(f16!.data instanceof Uint16Array);
  const a = f32!.data as Float32Array;
  const b = f16!.data as Uint16Array;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(fromFloat16Bits(b[i]!) - a[i]!) <= Math.abs(a[i]!) * 2 ** -11 + 2 ** -25);
});

test('inputs: bfloat16 is refused with a reason', () => {
  assert.throws(
    () => generateInputs([{ name: 'sample', dtype: DataType.BFLOAT16, shape: [1] }], new DimResolver(), 0, 'm.onnx'),
    sdxlError('UNSUPPORTED', (e) => /bfloat16/.test(e.message) && /'sample'/.test(e.message)),
  );
});

test('dims: unknown names, unnamed axes and bad values are errors that say what to pass', () => {
  const gen = (shape: (number | string | undefined)[], dims: Record<string, number> = {}) =>
    generateInputs([{ name: 'x', dtype: DataType.FLOAT, shape }], new DimResolver(dims), 0, 'm.onnx');
  assert.throws(() => gen([2, 'frames']), sdxlError('BAD_PARAM', (e) => /'x'/.test(e.message) && /'frames'/.test(e.message) && /--dims frames=N/.test(e.hint ?? '')));
  assert.deepEqual(gen([2, 'frames'], { frames: 5 })[0]!.dims, [2, 5]);
  assert.throws(() => gen([2, undefined]), sdxlError('BAD_PARAM', (e) => /--dims x\.1=N/.test(e.hint ?? '')));
  assert.deepEqual(gen([2, undefined], { 'x.1': 3 })[0]!.dims, [2, 3]);
  assert.deepEqual(gen(['batch', 4, 'h', 'w'], { height: 8 })[0]!.dims, [2, 4, 8, 128]);
  assert.throws(() => new DimResolver({ batch: 0 }), sdxlError('BAD_PARAM'));
  assert.deepEqual(parseDims('batch=1, height=64'), { batch: 1, height: 64 });
  assert.throws(() => parseDims('batch:1'), sdxlError('BAD_PARAM'));
  const resolver = new DimResolver({ heigth: 64, height: 32 });
  resolver.shapeOf('x', ['height'], 'm.onnx');
  assert.deepEqual(resolver.unusedGiven(), ['heigth']);
});

test('float16: conversion rounds to nearest even and keeps specials', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up past the largest half: Infinity
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // a tie between 0 and the smallest subnormal: even is 0
    [3 * 2 ** -26, 0x0001],
    [1 + 2 ** -11, 0x3c00], // tie: stays even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: rounds up to even
    [-0, 0x8000],
    [Infinity, 0x7c00],
  ];
  for (const [value, bits] of cases) assert.equal(toFloat16Bits(value), bits, `${value}`);
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
  for (const bits of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xfbff]) assert.equal(toFloat16Bits(fromFloat16Bits(bits)), bits);
});

test('random: the normal generator has mean 0 and variance 1', () => {
  const r = new SeededRandom(42);
  let s = 0;
  let s2 = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.02);
  assert.ok(Math.abs(s2 / n - 1) < 0.02);
});

const PINNED_SAMPLE = [-0.6098499298095703, -1.4393073320388794, 0.9570288062095642, 0.2904524803161621];
const PINNED_TIMESTEP = [175.94212341308594, 392.189453125];
