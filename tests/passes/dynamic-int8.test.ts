import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import * as ort from 'onnxruntime-node';
import { defaultParams } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import type { Model } from '../../src/ir/model.js';
import { DataType } from '../../src/onnx/dtype.js';
import { validateModels } from '../../src/runtime/index.js';
import { ModelSession } from '../../src/runtime/session.js';
import { probeModels } from '../../passes/lib/int8/probe.js';
import { dynamicInt8, SEED_FILTER, type DynamicInt8Params } from '../../passes/dynamic-int8.js';
import { fixture, fixtureFeeds } from '../helpers/fixtures.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { passContext } from '../helpers/pass-context.js';
import { cudaUnavailable, sdxlError, SMALL_DIMS } from '../helpers/runtime-fixtures.js';
import { floatTensor, opCounts, tinyModel, type TinyModel } from '../helpers/tiny-model.js';

const SMALL = 'sdxl-unet-small-ts17.onnx';
/** The same model and weights from the dynamo exporter (opset 18): a third of the nodes, so sessions load faster. */
const SMALL_DYNAMO = 'sdxl-unet-small-dynamo18.onnx';
/** The small UNet's dims (its recorded inputs: batch 2, 16×16 latents, 77 tokens). */
const SMALL_UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };
const FULL_DIMS = { batch: 2, height: 128, width: 128, sequence: 77 };

/** Every (in, out) of the small UNet's 139 layers with constant weights, with counts (124 MatMul, 15 Gemm). */
const SMALL_SHAPES = { '64x64': 80, '32x64': 22, '64x512': 11, '256x64': 11, '128x64': 8, '128x32': 3, '128x128': 2, '32x128': 1, '64x128': 1 };

/** Runs the pass for a recipe whose target is `recipeTarget` (cuda, as in the recipes, unless a test says). */
async function run(model: Model, params: Partial<DynamicInt8Params>, dims: Record<string, number> = SMALL_UNET_DIMS, logs: string[] = [], recipeTarget: 'cuda' | 'cpu' = 'cuda') {
  return dynamicInt8.run({ ...passContext(model, dims, logs), target: recipeTarget }, { ...defaultParams(dynamicInt8), ...params });
}

function byPrefix(counts: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([k]) => k.startsWith(prefix)).map(([k, n]) => [k.slice(prefix.length), n]));
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * The model's out_sample on ORT CPU with one intra-op thread: test files run two at a time on two cores, and two
 * spinning thread pools starve each other.
 */
async function outSample(model: Model): Promise<Float32Array> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-int8-'));
  try {
    await writeModel(model, path.join(dir, 'model.onnx'));
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    try {
      return (await session.run(fixtureFeeds(SMALL_DYNAMO))).out_sample!.data as Float32Array;
    } finally {
      await session.release();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let reference: Promise<Float32Array> | undefined;
const referenceOutput = () => (reference ??= readModel(fixture(SMALL_DYNAMO)).then(outSample));

/** Quantizes a fresh small UNet and returns the cosine and relative L2 of its output against the float model's. */
async function smallUnetParity(params: Partial<DynamicInt8Params>): Promise<{ cos: number; rel: number; model: Model }> {
  const model = await readModel(fixture(SMALL_DYNAMO));
  await run(model, { filter: { min_in_features: 0, exclude_shapes: [] }, ...params });
  const out = await outSample(model);
  const ref = await referenceOutput();
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    diff += (out[i]! - ref[i]!) ** 2;
    norm += ref[i]! ** 2;
  }
  return { cos: cosine(out, ref), rel: Math.sqrt(diff / norm), model };
}

test('dynamic-int8: fires on the small UNet with exact counts per shape (must fire)', async () => {
  const model = await readModel(fixture(SMALL));
  const before = opCounts(model);
  const logs: string[] = [];
  const result = await run(model, { filter: { min_in_features: 16, exclude_shapes: [[64, 64]] } }, SMALL_UNET_DIMS, logs);
  assert.equal(result.changed, true);
  assert.deepEqual([result.counts.candidates, result.counts.quantized, result.counts.excluded, result.counts.unsupported], [139, 59, 80, 0]);
  const { '64x64': _excluded, ...rest } = SMALL_SHAPES;
  assert.deepEqual(byPrefix(result.counts, 'quantized.'), rest);
  assert.deepEqual(byPrefix(result.counts, 'excluded.'), { '64x64': 80 });
  const after = opCounts(model);
  assert.equal(after.MatMulInteger, 59);
  assert.equal(after.QuantizeLinear, 59, 'target cuda, tensor scale: one QuantizeLinear per layer');
  assert.equal(after.MatMul, before.MatMul! - 44, 'the 44 MatMul layers outside 64x64 are gone');
  assert.equal(after.Gemm, undefined, 'all 15 Gemm layers are quantized');
  assert.equal(after.DynamicQuantizeLinear, undefined);
  // float32 weights of 4 bytes became int8 of 1 byte plus a float32 scale per output channel
  assert.ok(result.counts.bytes_saved! > 0);
  assert.match(logs.join('\n'), /quantized 32x64 ×22.*excluded 64x64 ×80/);
  const stamped = model.graph.nodes().filter((n) => n.metadata('sdxl_opt.pass') === 'dynamic-int8');
  assert.ok(stamped.length >= 59 * 8, 'new nodes are stamped with the pass');
});

test('dynamic-int8: min_in_features keeps small layers float; a field left out keeps its default', async () => {
  const model = await readModel(fixture(SMALL_DYNAMO));
  const result = await run(model, { filter: { min_in_features: 32, exclude_shapes: [] } });
  assert.equal(result.counts.quantized, 139 - 22 - 1, 'in = 32 is not > 32: 32x64 ×22 and 32x128 ×1 stay float');
  assert.deepEqual(byPrefix(result.counts, 'excluded.'), { '32x64': 22, '32x128': 1 });
  // exclude_shapes left out: the seed's list, which holds none of the small UNet's shapes
  const seedList = await run(await readModel(fixture(SMALL_DYNAMO)), { filter: { min_in_features: 16 } as DynamicInt8Params['filter'] });
  assert.equal(seedList.counts.quantized, 139);
});

test("dynamic-int8: the seed's default filter on the full SDXL UNet graph (weights never read)", async () => {
  // The graph-only fixture has no data file: reading any weight byte would throw, so this also proves laziness.
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const logs: string[] = [];
  const result = await run(model, {}, FULL_DIMS, logs);
  assert.deepEqual([result.counts.candidates, result.counts.quantized, result.counts.excluded], [743, 537, 206]);
  assert.deepEqual(byPrefix(result.counts, 'quantized.'), {
    '1280x1280': 381, // 372 MatMul (attention, projections) + 9 Gemm (time embeddings)
    '1280x10240': 60, // GEGLU in, level 2
    '5120x1280': 60, // feed-forward out, level 2
    '2048x640': 20, // cross-attention k, v from the text embeddings, level 1
    '2560x640': 10, // feed-forward out, level 1
    '1280x320': 5, // time-embedding projections (Gemm transB)
    '320x1280': 1, // time embedding linear_1 (Gemm transB)
  });
  assert.deepEqual(byPrefix(result.counts, 'excluded.'), { '2048x1280': 120, '640x640': 70, '640x5120': 10, '1280x640': 5, '2816x1280': 1 });
  // 537 float32 weights removed, int8 + scales added: about 5.3 GB of the 10.3 GB
  assert.ok(result.counts.bytes_saved! > 5.5e9 && result.counts.bytes_saved! < 5.6e9, String(result.counts.bytes_saved));
  const int8 = model.graph.initializers().filter((v) => v.initializer!.dtype === DataType.INT8 && v.initializer!.dims.length === 2);
  assert.equal(int8.length, 537);
  assert.ok(int8.every((v) => v.initializer!.data.inMemory === undefined), 'int8 weights are computed when written, not now');
});

test('dynamic-int8: nothing fires when every shape is excluded (must not fire)', async () => {
  const model = await readModel(fixture(SMALL_DYNAMO));
  const before = model.graph.nodeCount;
  const initializers = model.graph.initializers().length;
  const all = Object.keys(SMALL_SHAPES).map((k) => k.split('x').map(Number));
  const result = await run(model, { filter: { min_in_features: 0, exclude_shapes: all } });
  assert.equal(result.changed, false);
  assert.deepEqual([result.counts.candidates, result.counts.quantized, result.counts.excluded], [139, 0, 139]);
  assert.equal(model.graph.nodeCount, before);
  assert.equal(model.graph.initializers().length, initializers, 'no constant left behind');
  assert.ok(result.reasons?.some((r) => /139× shapes in exclude_shapes/.test(r)), String(result.reasons));
  // And the seed's default list on the small UNet's shapes excludes nothing, but a huge min_in_features does.
  assert.equal((await run(await readModel(fixture(SMALL_DYNAMO)), { filter: { min_in_features: 100_000, exclude_shapes: [] } })).changed, false);
});

test('dynamic-int8: running twice changes nothing the second time (quantized layers are not candidates again)', async () => {
  for (const target of ['cuda', 'cpu'] as const) {
    const model = await readModel(fixture(SMALL_DYNAMO));
    const first = await run(model, { target, filter: { min_in_features: 16, exclude_shapes: [[64, 64]] } });
    assert.equal(first.counts.quantized, 59);
    const ops = opCounts(model);
    const second = await run(model, { target, filter: { min_in_features: 16, exclude_shapes: [[64, 64]] } });
    assert.equal(second.changed, false);
    assert.deepEqual([second.counts.candidates, second.counts.quantized], [80, 0], 'only the excluded 64x64 layers are candidates');
    assert.deepEqual(opCounts(model), ops);
  }
});

test('dynamic-int8: target cpu on ORT CPU matches the float32 small UNet (cosine ≥ 0.99)', async () => {
  const { cos, rel, model } = await smallUnetParity({ target: 'cpu' });
  const ops = opCounts(model);
  assert.equal(ops.DynamicQuantizeLinear, 139);
  assert.equal(ops.MatMulIntegerToFloat, 139);
  assert.equal(model.opsets.get('com.microsoft'), 1);
  // Seen: cosine 0.99995, relative L2 0.010 (onnxruntime-node 1.29.0 CPU).
  assert.ok(cos >= 0.999, `cosine ${cos}`);
  assert.ok(rel < 0.03, `relative L2 ${rel}`);
});

test('dynamic-int8: the target cuda form computes the same on ORT CPU (per-tensor and per-row scales)', async () => {
  for (const activation_scale of ['tensor', 'row'] as const) {
    const { cos, rel, model } = await smallUnetParity({ target: 'cuda', activation_scale });
    const ops = opCounts(model);
    assert.equal(ops.MatMulInteger, 139);
    assert.equal(ops.DynamicQuantizeLinear, undefined);
    assert.equal(ops.MatMulIntegerToFloat, undefined);
    assert.equal(model.graph.nodes().some((n) => n.domain === 'com.microsoft'), false, 'no contrib op: ORT has none of them on CUDA');
    for (const n of model.graph.nodes().filter((x) => x.opType === 'MatMulInteger')) {
      assert.equal(n.inputs.length, 2, 'no zero points (CUDA reads them from host memory; both sides are symmetric)');
      assert.deepEqual(n.inputs.map((v) => v!.type?.dtype), [DataType.INT8, DataType.INT8]);
    }
    assert.equal(ops.QuantizeLinear, activation_scale === 'tensor' ? 139 : undefined);
    assert.equal(ops.Round, activation_scale === 'row' ? 139 : undefined);
    // Seen: tensor cosine 0.99994 / relative L2 0.011; row cosine 0.99997 / relative L2 0.008.
    assert.ok(cos >= 0.999, `${activation_scale}: cosine ${cos}`);
    assert.ok(rel < 0.03, `${activation_scale}: relative L2 ${rel}`);
  }
});

/** x [2, 3, 8] · W [8, 6] and Gemm(x2 [4, 8], W stored [6, 8], transB, C [6]). */
function tinyLayers(dtype: DataType = DataType.FLOAT, opset = 17): TinyModel {
  const w = Array.from(seededFloats(48, 3));
  const t = (name: string, values: number[], dims: number[]) => ({ ...floatTensor(name, values, dims), data_type: dtype, raw_data: dtype === DataType.FLOAT ? floatTensor(name, values, dims).raw_data : new Uint8Array(values.length * 2) });
  return {
    opset,
    inputs: [['x', dtype, [2, 3, 8]], ['x2', dtype, [4, 8]]],
    outputs: [['y', dtype], ['y2', dtype]],
    initializers: [t('w', w, [8, 6]), t('wt', w, [6, 8]), t('c', Array.from(seededFloats(6, 5)), [6])],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] },
      { op: 'Gemm', inputs: ['x2', 'wt', 'c'], outputs: ['y2'], attrs: { transB: 1 } },
    ],
  };
}

test('dynamic-int8: a Gemm with transB and bias and a batched MatMul keep their values (both targets)', async () => {
  const feeds = { x: new ort.Tensor('float32', seededFloats(48, 1).map((v) => v * 3), [2, 3, 8]), x2: new ort.Tensor('float32', seededFloats(32, 2), [4, 8]) };
  for (const target of ['cuda', 'cpu'] as const) {
    for (const activation_scale of ['tensor', 'row'] as const) {
      const model = tinyModel(tinyLayers());
      const result = await run(model, { target, activation_scale, filter: { min_in_features: 0, exclude_shapes: [] } }, {});
      assert.deepEqual(byPrefix(result.counts, 'quantized.'), { '8x6': 2 });
      assert.deepEqual(model.graph.outputs.map((v) => v.name), ['y', 'y2'], 'outputs keep their names');
      const error = await compareOnCpu(tinyModel(tinyLayers()), model, feeds);
      assert.ok(error < 0.02, `${target}/${activation_scale}: relative L2 ${error}`);
    }
  }
});

test('dynamic-int8: weights read from external data are quantized as the model is written', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-int8-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await writeModel(tinyModel(tinyLayers()), path.join(dir, 'float.onnx'), { externalData: 'always', sizeThreshold: 0 });
  const model = await readModel(path.join(dir, 'float.onnx'));
  await run(model, { target: 'cpu', filter: { min_in_features: 0, exclude_shapes: [] } }, {});
  const int8 = model.graph.initializers().filter((v) => v.initializer!.dtype === DataType.INT8 && v.initializer!.dims.length === 2);
  const sources = int8.map((v) => v.initializer!.data.describe()).sort();
  assert.match(sources[0]!, /^int8 of float\.onnx_data @ \d+\+192$/);
  assert.match(sources[1]!, /^int8 of float\.onnx_data @ \d+\+192, transposed$/);
  const feeds = { x: new ort.Tensor('float32', seededFloats(48, 1), [2, 3, 8]), x2: new ort.Tensor('float32', seededFloats(32, 2), [4, 8]) };
  assert.ok((await compareOnCpu(tinyModel(tinyLayers()), model, feeds)) < 0.02);
});

test('dynamic-int8: float16 and bfloat16 layers quantize in a type CUDA has kernels for', async () => {
  const quantizeInput = (model: Model) => model.graph.nodes().find((n) => n.opType === 'QuantizeLinear')!.input(0)!.type!.dtype;
  const cases: [DataType, number, DataType][] = [
    [DataType.FLOAT16, 17, DataType.FLOAT], // CUDA QuantizeLinear takes float16 only from opset 19
    [DataType.FLOAT16, 19, DataType.FLOAT16],
    [DataType.BFLOAT16, 21, DataType.FLOAT], // no bfloat16 QuantizeLinear on CUDA at any opset
  ];
  for (const [dtype, opset, expected] of cases) {
    const model = tinyModel(tinyLayers(dtype, opset));
    await run(model, { filter: { min_in_features: 0, exclude_shapes: [] } }, {});
    assert.equal(quantizeInput(model), expected, `${dtype} at opset ${opset}`);
    const outputs = model.graph.outputs.map((v) => v.producer!);
    assert.deepEqual(outputs.map((n) => n.opType), ['Cast', 'Add'], 'the result goes back to the layer type (then + C)');
    assert.equal(model.graph.outputs[0]!.type?.dtype, dtype);
    const matmul = model.graph.nodes().find((n) => n.opType === 'MatMulInteger')!;
    assert.equal(matmul.output().consumers()[0]!.attrInt('to'), DataType.FLOAT, 'int32 products are scaled in float32 (float16 would overflow)');
  }
  // per-row scales: CUDA Round has float16 (any opset) but no bfloat16
  const row16 = tinyModel(tinyLayers(DataType.FLOAT16, 17));
  await run(row16, { activation_scale: 'row', filter: { min_in_features: 0, exclude_shapes: [] } }, {});
  assert.equal(row16.graph.nodes().find((n) => n.opType === 'Round')!.input(0)!.type!.dtype, DataType.FLOAT16);
});

test('dynamic-int8: bad exclude_shapes are refused with a hint', async () => {
  const model = await readModel(fixture(SMALL_DYNAMO));
  await assert.rejects(async () => run(model, { filter: { min_in_features: 16, exclude_shapes: [[64, 64, 1]] } }), sdxlError('BAD_PARAM', (e) => /\[in, out\]/.test(e.message)));
  const typo = { min_in_features: 16, exclude_shape: [] } as unknown as DynamicInt8Params['filter'];
  await assert.rejects(async () => run(model, { filter: typo }), sdxlError('BAD_PARAM', (e) => /'exclude_shape'/.test(e.message)));
  assert.deepEqual(defaultParams(dynamicInt8).filter, SEED_FILTER);
});

test("dynamic-int8: target defaults to the recipe's target, and an explicit target wins", async () => {
  assert.equal(defaultParams(dynamicInt8).target, 'auto');
  const forms: Record<string, Record<string, number>> = {};
  for (const [recipeTarget, target] of [['cuda', undefined], ['cpu', undefined], ['cpu', 'cuda']] as const) {
    const model = await readModel(fixture(SMALL_DYNAMO));
    await run(model, { filter: { min_in_features: 0, exclude_shapes: [] }, ...(target ? { target } : {}) }, SMALL_UNET_DIMS, [], recipeTarget);
    const ops = opCounts(model);
    forms[`${recipeTarget}/${target ?? 'auto'}`] = { MatMulInteger: ops.MatMulInteger ?? 0, MatMulIntegerToFloat: ops.MatMulIntegerToFloat ?? 0 };
  }
  assert.deepEqual(forms, {
    'cuda/auto': { MatMulInteger: 139, MatMulIntegerToFloat: 0 },
    'cpu/auto': { MatMulInteger: 0, MatMulIntegerToFloat: 139 },
    'cpu/cuda': { MatMulInteger: 139, MatMulIntegerToFloat: 0 },
  });
});

/**
 * ORT 1.29's MatMulInteger on CUDA calls cublasGemmEx with int8 operands, and cuBLAS on the H100 refuses some shapes
 * (CUBLAS_STATUS_NOT_SUPPORTED, printed by ORT as "CUBLAS failure 15"; seen on the small UNet's cross-attention K
 * projection, while every full-size SDXL shape probed ran: notes/int8-kernels.md). That refusal is known: the run is
 * marked todo with the reason, visible in the output. Any other error fails.
 */
async function runOrKnownRefusal(t: TestContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!/CUBLAS_STATUS_NOT_SUPPORTED|CUBLAS failure 15\b/.test(message)) throw e;
    t.todo(`known: cuBLAS refuses ORT's int8 GEMM on this GPU (CUBLAS_STATUS_NOT_SUPPORTED): ${message.slice(0, 300)}`);
  }
}

test('dynamic-int8: the target cuda form runs its int8 nodes on CUDA (device job)', async (t) => {
  const why = cudaUnavailable();
  if (why) return t.skip(why);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-int8-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // One layer at an SDXL shape (4096 tokens, 320 → 640), float and int8, built as filter: auto builds them.
  const shell = { irVersion: 10, opsets: new Map([['', 17]]) };
  const layer = probeModels({ rows: 4096, in: 320, out: 640, dtype: DataType.FLOAT }, { target: 'cuda', activationScale: 'tensor', opset: 17 }, shell, 'dynamic-int8');
  const floatFile = path.join(dir, 'layer-float.onnx');
  const int8File = path.join(dir, 'layer-int8.onnx');
  await writeModel(layer.float, floatFile);
  await writeModel(layer.int8, int8File);

  await t.test('placement: every node of the int8 layer has a CUDA kernel (CPU fallback disabled)', async () => {
    const session = await ModelSession.open(int8File, { provider: 'cuda', strict: true });
    await session.close();
  });
  await t.test('the int8 layer runs on CUDA and computes the float layer', async (st) => {
    await runOrKnownRefusal(st, async () => {
      const report = await validateModels(floatFile, int8File, { provider: 'cuda' });
      assert.deepEqual(report.placement.candidate.cpuComputeOps, {}, 'nothing of the int8 layer computes on the CPU');
      assert.ok(report.outputs[0]!.cosine >= 0.999, `cosine ${report.outputs[0]!.cosine}`);
    });
  });
  await t.test('the small UNet, all layers int8, runs on CUDA with nothing more on the CPU', async (st) => {
    const model = await readModel(fixture(SMALL));
    await run(model, { target: 'cuda', filter: { min_in_features: 0, exclude_shapes: [] } });
    await writeModel(model, path.join(dir, 'int8.onnx'));
    await runOrKnownRefusal(st, async () => {
      const report = await validateModels(fixture(SMALL), path.join(dir, 'int8.onnx'), { provider: 'cuda', dims: SMALL_DIMS });
      // Whatever the float model already ran on the CPU aside, nothing more may land there (a MatMulInteger, or a
      // MatMulIntegerToFloat should ORT's CPU-only fusion reach CUDA nodes).
      const before = report.placement.reference?.cpuComputeOps ?? {};
      const added = Object.entries(report.placement.candidate.cpuComputeOps).filter(([op, n]) => n > (before[op] ?? 0));
      assert.deepEqual(added, [], `int8 nodes fell back to the CPU: ${JSON.stringify(added)}`);
      assert.ok(report.outputs[0]!.cosine >= 0.999, `cosine ${report.outputs[0]!.cosine}`);
    });
  });
});
