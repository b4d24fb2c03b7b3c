import assert from 'node:assert/strict';
import { test } from 'node:test';
import Long from 'long';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { TensorProto } from '../../src/onnx/types.js';
import { fuseGelu } from '../../passes/fuse-gelu.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { opCountsWithDomain, runFusion } from '../helpers/fusion-support.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { floatTensor, tinyModel, type TinyModel, type TinyNode } from '../helpers/tiny-model.js';

const F = DataType.FLOAT;

/** x = y + b, then the Gelu nodes given, ending in 'out'. Constants: c_sqrt2, c_isqrt2, c_half, c_one, c_two. */
function geluSpec(nodes: TinyNode[], o: { dtype?: DataType; extraOutputs?: string[] } = {}): TinyModel {
  const dtype = o.dtype ?? F;
  return {
    inputs: [['y', dtype, [2, 3, 8]]],
    outputs: [['out', dtype], ...(o.extraOutputs ?? []).map((n) => [n, dtype] as [string, DataType])],
    nodes: [{ op: 'Add', inputs: ['y', 'b'], outputs: ['x'] }, ...nodes],
    initializers: [
      constant('b', Array.from(seededFloats(8, 3)), [8], dtype),
      constant('c_sqrt2', [Math.SQRT2], [], dtype),
      constant('c_isqrt2', [Math.SQRT1_2], [], dtype),
      constant('c_half', [0.5], [], dtype),
      constant('c_one', [1], [], dtype),
      constant('c_two', [2], [], dtype),
    ],
  };
}

function constant(name: string, values: number[], dims: number[], dtype: DataType): TensorProto {
  if (dtype === F) return floatTensor(name, values, dims);
  return { name, data_type: DataType.DOUBLE, dims: dims.map((d) => Long.fromNumber(d)), raw_data: new Uint8Array(Float64Array.from(values).buffer) };
}

const n = (op: string, inputs: string[], out: string): TinyNode => ({ op, inputs, outputs: [out] });

const FORMS: Record<string, TinyNode[]> = {
  torchscript: [n('Div', ['x', 'c_sqrt2'], 'd'), n('Erf', ['d'], 'e'), n('Add', ['e', 'c_one'], 'a'), n('Mul', ['x', 'a'], 'm'), n('Mul', ['m', 'c_half'], 'out')],
  dynamo: [n('Div', ['x', 'c_sqrt2'], 'd'), n('Erf', ['d'], 'e'), n('Add', ['e', 'c_one'], 'a'), n('Mul', ['c_half', 'a'], 'h'), n('Mul', ['x', 'h'], 'out')],
  halfFirst: [n('Mul', ['x', 'c_isqrt2'], 'd'), n('Erf', ['d'], 'e'), n('Add', ['c_one', 'e'], 'a'), n('Mul', ['x', 'c_half'], 'hx'), n('Mul', ['hx', 'a'], 'out')],
};

const feeds = () => ({ y: new ort.Tensor('float32', seededFloats(48, 6).map((v) => 3 * v), [2, 3, 8]) });

test('fuse-gelu: every grouping of x·0.5·(1+erf(x/√2)) becomes BiasGelu with the Add before it; same outputs on ORT CPU', async () => {
  for (const [form, nodes] of Object.entries(FORMS)) {
    const model = tinyModel(geluSpec(nodes));
    const result = await runFusion(fuseGelu, model);
    assert.deepEqual(result.counts, { candidates: 1, gelu: 0, bias_gelu: 1, quick_gelu: 0 }, form);
    assert.deepEqual(opCountsWithDomain(model), { 'com.microsoft:BiasGelu': 1 }, form);
    assert.deepEqual(model.graph.outputs.map((v) => v.name), ['out']);
    const error = await compareOnCpu(tinyModel(geluSpec(nodes)), model, feeds());
    assert.ok(error < 1e-6, `${form}: relative L2 ${error}`);
  }
});

test('fuse-gelu: a bias Add read elsewhere too stays, and the Gelu alone fuses', async () => {
  const spec = geluSpec(FORMS.torchscript!, { extraOutputs: ['x'] });
  const model = tinyModel(spec);
  const result = await runFusion(fuseGelu, model);
  assert.deepEqual(result.counts, { candidates: 1, gelu: 1, bias_gelu: 0, quick_gelu: 0 });
  assert.deepEqual(opCountsWithDomain(model), { Add: 1, 'com.microsoft:Gelu': 1 });
  assert.ok((await compareOnCpu(tinyModel(spec), model, feeds())) < 1e-6);
});

test('fuse-gelu: must not fire on other Erf uses or a Gelu without its 0.5, nor in a type the kernel lacks', async () => {
  const cases: [string, TinyNode[], RegExp][] = [
    ['x / 2', [n('Div', ['x', 'c_two'], 'd'), n('Erf', ['d'], 'e'), n('Add', ['e', 'c_one'], 'a'), n('Mul', ['x', 'a'], 'm'), n('Mul', ['m', 'c_half'], 'out')], /does not read x \/ √2/],
    ['1 - erf', [n('Div', ['x', 'c_sqrt2'], 'd'), n('Erf', ['d'], 'e'), n('Sub', ['c_one', 'e'], 'a'), n('Mul', ['x', 'a'], 'm'), n('Mul', ['m', 'c_half'], 'out')], /not followed by \+ 1/],
    ['no 0.5', [n('Div', ['x', 'c_sqrt2'], 'd'), n('Erf', ['d'], 'e'), n('Add', ['e', 'c_one'], 'a'), n('Mul', ['x', 'a'], 'm'), n('Relu', ['m'], 'out')], /not multiplied by x and 0.5/],
    ['· 2', [n('Div', ['x', 'c_sqrt2'], 'd'), n('Erf', ['d'], 'e'), n('Add', ['e', 'c_one'], 'a'), n('Mul', ['x', 'a'], 'm'), n('Mul', ['m', 'c_two'], 'out')], /something other than x and 0.5/],
  ];
  for (const [what, nodes, reason] of cases) {
    const model = tinyModel(geluSpec(nodes));
    const result = await runFusion(fuseGelu, model);
    assert.equal(result.changed, false, what);
    assert.equal(opCountsWithDomain(model).Erf, 1, what);
    assert.match(result.reasons!.join(), reason, what);
  }
  const double = await runFusion(fuseGelu, tinyModel(geluSpec(FORMS.torchscript!, { dtype: DataType.DOUBLE })));
  assert.equal(double.changed, false);
  assert.match(double.reasons!.join(), /CPU BiasGelu does not take double/);
});

for (const name of ['sdxl-unet-small-ts17.onnx', 'sdxl-unet-small-dynamo18.onnx']) {
  test(`fuse-gelu: ${name}: the 11 GEGLU Gelus become Gelu; same outputs on ORT CPU`, async (t) => {
    let counts: Record<string, number> = {};
    const parity = await parityOnFixture(name, async (m) => (counts = (await runFusion(fuseGelu, m)).counts));
    t.diagnostic(`${name}: ${JSON.stringify(counts)}, relative L2 ${parity.error}`);
    // The Gelu's input is a half of the GEGLU projection, not a bias Add: Gelu, not BiasGelu.
    assert.deepEqual(counts, { candidates: 11, gelu: 11, bias_gelu: 0, quick_gelu: 0 });
    assert.ok(parity.error < 1e-5, `relative L2 ${parity.error}`);
  });
}

test('fuse-gelu: full SDXL UNet graph: 70 (none are left when fuse-bias-split-gelu runs first: fusions-pipeline)', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const started = performance.now();
  const result = await runFusion(fuseGelu, model, {}, { target: 'cuda' });
  t.diagnostic(`full UNet: ${JSON.stringify(result.counts)} in ${(performance.now() - started).toFixed(0)} ms`);
  assert.deepEqual(result.counts, { candidates: 70, gelu: 70, bias_gelu: 0, quick_gelu: 0 });
});

test('fuse-gelu: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture('sdxl-unet-small-dynamo18.onnx'));
  assert.equal((await runFusion(fuseGelu, model)).changed, true);
  assert.equal((await runFusion(fuseGelu, model)).changed, false);
});

test("fuse-gelu: the text encoders: CLIP-L's quick_gelu becomes QuickGelu(alpha 1.702), bigG's Erf Gelu BiasGelu; the VAE's SiLUs stay", async () => {
  const { loadFixture, parityOnCpu } = await import('../helpers/attention-support.js');
  const { TEXT_ENCODER, TEXT_ENCODER_2, tokenFeeds } = await import('../helpers/text-encoder.js');
  const clipL = loadFixture(TEXT_ENCODER);
  const l = await runFusion(fuseGelu, clipL);
  assert.deepEqual(l.counts, { candidates: 0, gelu: 0, bias_gelu: 0, quick_gelu: 2 });
  const quick = clipL.graph.nodes().filter((n) => n.is('QuickGelu', 'com.microsoft'));
  assert.deepEqual(quick.map((n) => n.attrFloat('alpha')!.toFixed(3)), ['1.702', '1.702']);
  assert.equal(opCountsWithDomain(clipL).Sigmoid, undefined);
  assert.ok((await parityOnCpu(loadFixture(TEXT_ENCODER), clipL, tokenFeeds(2))) < 1e-6);

  const bigG = loadFixture(TEXT_ENCODER_2);
  const g = await runFusion(fuseGelu, bigG);
  assert.deepEqual(g.counts, { candidates: 2, gelu: 0, bias_gelu: 2, quick_gelu: 0 });
  assert.ok((await parityOnCpu(loadFixture(TEXT_ENCODER_2), bigG, tokenFeeds(2))) < 1e-5);

  const vae = loadFixture('sdxl-vae-decoder-tiny-ts17.onnx');
  const v = await runFusion(fuseGelu, vae);
  assert.equal(v.changed, false);
  assert.equal(opCountsWithDomain(vae).Sigmoid, 17);
});
