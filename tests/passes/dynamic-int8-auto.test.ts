import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelTimer, ModelTiming } from '../../src/engine/measure.js';
import { defaultParams, type PassContext } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import type { Model } from '../../src/ir/model.js';
import { modelTimer } from '../../src/runtime/index.js';
import { dynamicInt8, type DynamicInt8Params } from '../../passes/dynamic-int8.js';
import { fixture } from '../helpers/fixtures.js';
import { runBytesOnCpu, seededFloats } from '../helpers/ort.js';
import { sdxlError } from '../helpers/runtime-fixtures.js';
import { floatTensor, opCounts, tinyModel } from '../helpers/tiny-model.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { modelToProto } from '../../src/ir/to-proto.js';
import { inlineTensorProto } from '../../src/ir/tensor-proto.js';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/dtype.js';

const SMALL_UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };
const AUTO: Partial<DynamicInt8Params> = { filter: 'auto', target: 'cpu' };

/** The layer shape a probe model holds: [rows, in, out] from its MatMul / MatMulInteger weight and input. */
function probeShape(model: Model): [number, number, number] {
  const x = model.graph.inputs[0]!.type!.shape as number[];
  const w = model.graph.initializers().find((v) => v.initializer!.dims.length === 2)!.initializer!.dims;
  return [x[0]!, x[1]!, w[1]!];
}

/** A timer that makes int8 twice as fast for layers with in ≥ 128 and slower otherwise, and records what it saw. */
function fakeTimer(provider: 'cpu' | 'cuda' = 'cpu'): ModelTimer & { seen: Model[][] } {
  const seen: Model[][] = [];
  return {
    provider,
    seen,
    async time(models: readonly Model[]): Promise<ModelTiming[]> {
      seen.push([...models]);
      return models.map((m) => {
        const int8 = m.graph.nodes().some((n) => n.opType === 'MatMulInteger' || n.opType === 'MatMulIntegerToFloat');
        const [, inn] = probeShape(m);
        return { medianMs: int8 ? (inn >= 128 ? 0.5 : 1.5) : 1, minMs: 0, cpuComputeOps: {} };
      });
    },
  };
}

function context(model: Model, measure: ModelTimer | undefined, logs: string[]): PassContext {
  return { model, graph: model.graph, dims: SMALL_UNET_DIMS, target: 'cpu', log: (m) => logs.push(m), progress: () => {}, measure };
}

test('dynamic-int8 auto: each (rows, in, out) is timed once, at the rows inference gives, and only faster shapes are quantized', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  const timer = fakeTimer();
  const logs: string[] = [];
  const result = await dynamicInt8.run(context(model, timer, logs), { ...defaultParams(dynamicInt8), ...AUTO });
  const shapes = timer.seen.map(([float]) => probeShape(float!).join('x')).sort();
  // rows: 2 × 8×8 tokens at level 1, 2 × 4×4 at level 2, 2 × 77 text tokens for cross-attention k/v, 2 for time embeddings
  assert.deepEqual(shapes, ['128x256x64', '128x64x512', '128x64x64', '154x32x64', '2x128x128', '2x128x32', '2x128x64', '2x32x128', '2x64x128', '32x256x64', '32x64x512', '32x64x64'].sort());
  for (const [float, int8] of timer.seen) {
    assert.equal(opCounts(float!).MatMul, 1);
    assert.equal(opCounts(int8!).MatMulIntegerToFloat, 1, 'the int8 model is the target form');
    assert.deepEqual(probeShape(float!), probeShape(int8!));
  }
  // in ≥ 128: 256x64 ×11, 128x64 ×8, 128x32 ×3, 128x128 ×2
  assert.equal(result.counts.quantized, 24);
  assert.deepEqual(
    Object.entries(result.counts).filter(([k]) => k.startsWith('quantized.')).sort(),
    [['quantized.128x128', 2], ['quantized.128x32', 3], ['quantized.128x64', 8], ['quantized.256x64', 11]],
  );
  assert.equal(result.counts['auto_us.128x256x64.float'], 1000);
  assert.equal(result.counts['auto_us.128x256x64.int8'], 500);
  assert.equal(logs.filter((l) => /auto on cpu: .* float 1\.000 ms, int8 (0\.500|1\.500) ms/.test(l)).length, 12);
  assert.ok(logs.some((l) => /154x32x64 \(×22\): .* \(50\.0%\) → float/.test(l)), logs.join('\n'));
  assert.ok(result.reasons?.some((r) => /115× int8 not 5% faster on cpu/.test(r)), String(result.reasons));
});

test('dynamic-int8 auto: without the recipe dims the rows are unknown, and nothing is timed or quantized', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  const timer = fakeTimer();
  const result = await dynamicInt8.run({ ...context(model, timer, []), dims: {} }, { ...defaultParams(dynamicInt8), ...AUTO });
  assert.equal(timer.seen.length, 0);
  assert.equal(result.changed, false);
  assert.ok(result.reasons?.some((r) => /^139× rows unknown/.test(r)), String(result.reasons));
});

test('dynamic-int8 auto: a timing that ran int8 nodes on the CPU of a CUDA session keeps the shape float', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  const timer: ModelTimer = {
    provider: 'cuda',
    time: async (models) => models.map((_, i): ModelTiming => ({ medianMs: i ? 0.1 : 1, minMs: 0, cpuComputeOps: i ? { MatMulInteger: 1 } : {} })),
  };
  const logs: string[] = [];
  const result = await dynamicInt8.run(context(model, timer, logs), { ...defaultParams(dynamicInt8), filter: 'auto', target: 'cuda' });
  assert.equal(result.changed, false);
  assert.ok(logs.some((l) => /int8 ran on the CPU: MatMulInteger ×1 → float/.test(l)));
});

test('dynamic-int8 auto: without a timer, or with one for another provider, it refuses to guess', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  await assert.rejects(async () => dynamicInt8.run(context(model, undefined, []), { ...defaultParams(dynamicInt8), ...AUTO }), sdxlError('UNSUPPORTED', (e) => /no timer/.test(e.message)));
  await assert.rejects(
    async () => dynamicInt8.run(context(model, fakeTimer('cpu'), []), { ...defaultParams(dynamicInt8), filter: 'auto', target: 'cuda' }),
    sdxlError('BAD_PARAM', (e) => /timer runs on cpu/.test(e.message)),
  );
  assert.equal(opCounts(model).MatMulInteger, undefined, 'a refused run changes nothing');
});

test('dynamic-int8 auto: the probe models run on ORT CPU, and the int8 one computes the float one', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  const timer = fakeTimer();
  await dynamicInt8.run(context(model, timer, []), { ...defaultParams(dynamicInt8), ...AUTO });
  const [float, int8] = timer.seen.find(([f]) => probeShape(f!).join('x') === '154x32x64')!;
  const bytes = async (m: Model) => {
    const tensors = new Map<string, Uint8Array>();
    for (const v of m.graph.initializers()) tensors.set(v.name, await v.initializer!.bytes());
    return encodeModel(modelToProto(m, (name, t) => inlineTensorProto(name, t, tensors.get(name)!)));
  };
  const feeds = { x: new ort.Tensor('float32', seededFloats(154 * 32, 9), [154, 32]) };
  const a = (await runBytesOnCpu(await bytes(float!), feeds))[float!.graph.outputs[0]!.name]!.data as Float32Array;
  const b = (await runBytesOnCpu(await bytes(int8!), feeds))[int8!.graph.outputs[0]!.name]!.data as Float32Array;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += a[i]! ** 2;
  }
  assert.ok(Math.sqrt(diff / norm) < 0.02, `relative L2 ${Math.sqrt(diff / norm)}`);
});

test('dynamic-int8 auto: end to end with the ORT timer on the CPU (one timed run each)', async () => {
  // Two layers: 64x256 at 512 rows (int8 usually pays on the CPU) and 16x16 at 2 rows (it usually does not).
  const F = DataType.FLOAT;
  const model = tinyModel({
    inputs: [['x', F, [512, 64]], ['s', F, [2, 24]]],
    outputs: [['y', F], ['t', F]],
    initializers: [floatTensor('w', Array.from(seededFloats(64 * 256, 4)), [64, 256]), floatTensor('v', Array.from(seededFloats(24 * 16, 5)), [24, 16])],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] },
      { op: 'MatMul', inputs: ['s', 'v'], outputs: ['t'] },
    ],
  });
  const logs: string[] = [];
  const timer = modelTimer({ provider: 'cpu', threads: 1 });
  const result = await dynamicInt8.run(context(model, timer, logs), { ...defaultParams(dynamicInt8), ...AUTO, auto_iters: 1, auto_warmup: 1, filter: 'auto' });
  assert.equal(logs.filter((l) => / auto on cpu: /.test(l)).length, 2, logs.join('\n'));
  for (const shape of ['512x64x256', '2x24x16']) {
    const f = result.counts[`auto_us.${shape}.float`]!;
    const q = result.counts[`auto_us.${shape}.int8`]!;
    assert.ok(f > 0 && q > 0, `${shape}: timings recorded`);
    const quantized = result.counts[`quantized.${shape.split('x').slice(1).join('x')}`] === 1;
    assert.equal(quantized, q <= f * 0.95, `${shape}: decided by its timing (${f} vs ${q} µs)`);
  }
});

test('dynamic-int8 auto: an int8 form that fails to run keeps its shapes float and the notes say why; the pass does not fail', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  const refusal = 'ONNX Runtime failed to run the model on cuda: CUBLAS failure 15: CUBLAS_STATUS_NOT_SUPPORTED ; GPU=0 ; file=integer_gemm.cc ; line=50';
  const timer: ModelTimer = {
    provider: 'cuda',
    time: async (models) => {
      if (models.some((m) => opCounts(m).MatMulInteger)) throw new Error(refusal);
      return models.map((): ModelTiming => ({ medianMs: 1, minMs: 1, cpuComputeOps: {} }));
    },
  };
  const logs: string[] = [];
  const result = await dynamicInt8.run({ ...context(model, timer, logs), target: 'cuda' }, { ...defaultParams(dynamicInt8), filter: 'auto' });
  assert.equal(result.changed, false);
  assert.equal(opCounts(model).MatMulInteger, undefined);
  assert.equal(result.counts.auto_failed, 139);
  assert.ok(result.reasons?.includes('139× the int8 form failed on cuda: CUBLAS_STATUS_NOT_SUPPORTED: stays float'), String(result.reasons));
  assert.ok(logs.includes('dynamic-int8: kept 139 layers (12 shapes) in float: the int8 form failed on cuda: CUBLAS_STATUS_NOT_SUPPORTED'), logs.join('\n'));
  assert.ok(logs.some((l) => /154x32x64 \(×22\): the int8 form failed on cuda: CUBLAS_STATUS_NOT_SUPPORTED → float \(.*line=50/.test(l)), logs.join('\n'));
});

test('dynamic-int8 auto: when the float layer fails as well, the failure is not blamed on int8', async () => {
  const F = DataType.FLOAT;
  const model = tinyModel({
    inputs: [['x', F, [8, 32]]],
    outputs: [['y', F]],
    initializers: [floatTensor('w', Array.from(seededFloats(32 * 16, 2)), [32, 16])],
    nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
  });
  const timer: ModelTimer = { provider: 'cpu', time: async () => { throw new Error('ONNX Runtime cannot load the model on cpu: out of memory'); } };
  const result = await dynamicInt8.run(context(model, timer, []), { ...defaultParams(dynamicInt8), ...AUTO });
  assert.equal(result.changed, false);
  assert.ok(result.reasons?.some((r) => /^1× the float layer failed on cpu too \(ONNX Runtime cannot load the model on cpu: out of memory\)/.test(r)), String(result.reasons));
});
