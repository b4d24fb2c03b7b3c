/** The cast pass: when it fires, what it leaves in which type for which target, its Casts, weights, types and parity. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { cast } from '../../passes/cast.js';
import { SdxlOptError } from '../../src/errors.js';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import { checkTypes, inferTypes } from '../../src/ir/infer/index.js';
import type { Model } from '../../src/ir/model.js';
import { PASS_STAMP_KEY, type Node } from '../../src/ir/node.js';
import { InlineData, MappedData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { float16ToNumber } from '../../src/numeric/float-convert.js';
import { precisionProblems } from '../../src/precision/consistency.js';
import { narrowBytes } from '../../src/precision/convert-tensor.js';
import { probeOverflow } from '../../src/precision/overflow-probe.js';
import { runOnCpu } from '../../src/precision/ort-cpu.js';
import { ModelBuilder, nodeNamed, runPass, similarity, tempDir } from '../helpers/precision-graphs.js';
import { cudaAvailable, runFirstOutput, smallUnetInputs } from '../helpers/ort-session.js';
import { runForCuda } from '../helpers/layout-parity.js';
import { channelsLast } from '../../passes/channels-last.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../fixtures/${name}`, import.meta.url));
const SMALL_TS = fixture('sdxl-unet-small-ts17.onnx');
const SMALL_DYNAMO = fixture('sdxl-unet-small-dynamo18.onnx');
const SMALL_IO = fixture('sdxl-unet-small-io.json');
const VAE = fixture('sdxl-vae-decoder-tiny-ts17.onnx');

const { FLOAT: F32, FLOAT16: F16, BFLOAT16: BF16, INT64 } = DataType;

function castsOf(model: Model): Node[] {
  return model.graph.nodes().filter((n) => n.is('Cast') && n.metadata(PASS_STAMP_KEY) === 'cast');
}

/** x → MatMul(W) → Add(b) → y, float32. */
function linear(opset = 17): { b: ModelBuilder; y: ReturnType<ModelBuilder['output']> } {
  const b = new ModelBuilder(opset);
  const x = b.input('x', F32, ['batch', 4]);
  const h = b.op('MatMul', [x, b.weight('W', [4, 8])], {}, { name: 'matmul' });
  const y = b.output(b.op('Add', [h, b.weight('bias', [8])], {}, { name: 'add' }));
  return { b, y };
}

describe('cast: when it fires', () => {
  test('a float32 linear layer runs in float16, its weights converted, its float32 inputs and outputs kept behind Casts', async () => {
    const { b } = linear();
    const { result } = await runPass(cast, b.model);
    assert.equal(result.changed, true);
    const g = b.graph;
    assert.equal(g.initializer('W')!.initializer!.dtype, F16);
    assert.equal(g.initializer('bias')!.initializer!.dtype, F16);
    assert.equal(nodeNamed(b.model, 'matmul').output(0).type?.dtype, F16);
    assert.equal(g.inputs[0]!.type?.dtype, F32);
    assert.equal(g.outputs[0]!.name, 'add_output_0', 'the output keeps its name');
    assert.equal(g.outputs[0]!.type?.dtype, F32);
    assert.equal(castsOf(b.model).length, 2);
    assert.equal(result.counts.casts_added, 2);
    assert.equal(result.counts.weights_converted, 2);
    assert.equal(result.counts.nodes_fp16, 2);
    assert.deepEqual(checkTypes(g), []);
    assert.deepEqual(precisionProblems(g), []);
  });

  test('keep_io_types false: inputs and outputs become float16, no Casts', async () => {
    const { b } = linear();
    const { result } = await runPass(cast, b.model, { keep_io_types: false });
    assert.equal(b.graph.inputs[0]!.type?.dtype, F16);
    assert.equal(b.graph.outputs[0]!.type?.dtype, F16);
    assert.equal(result.counts.casts_added, 0);
  });

  test('a graph with no float32 does nothing and says why', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', INT64, [4]);
    b.output(b.op('Add', [x, b.int64s('one', [1])]));
    const { result } = await runPass(cast, b.model);
    assert.equal(result.changed, false);
    assert.deepEqual(result.reasons, ['the graph has no float32 values']);
    assert.equal(b.graph.nodeCount, 1);
  });

  test('a float16 graph does nothing', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F16, [4]);
    b.output(b.op('Relu', [x]));
    const { result } = await runPass(cast, b.model);
    assert.equal(result.changed, false);
  });

  test('int64 shape computations are untouched; float arithmetic on shapes only stays float32', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [2, 'n', 8]);
    const shape = b.op('Shape', [x]);
    const n = b.op('Gather', [shape, b.int64s('i2', [2], [])], { axis: 0 });
    const twice = b.op('Mul', [n, b.int64s('two', [2], [])], {}, { name: 'int_mul' });
    const scale = b.op('Sqrt', [b.op('Cast', [n], { to: F32 }, { name: 'to_float' })], {}, { name: 'sqrt' });
    const scaled = b.op('Div', [x, scale], {}, { name: 'div' });
    b.output(scaled);
    b.output(twice);
    await runPass(cast, b.model);
    assert.equal(nodeNamed(b.model, 'int_mul').output(0).type?.dtype, INT64);
    assert.equal(nodeNamed(b.model, 'sqrt').output(0).type?.dtype, F32, 'Sqrt of a shape stays float32');
    assert.equal(nodeNamed(b.model, 'div').output(0).type?.dtype, F16);
    const toHalf = nodeNamed(b.model, 'div').input(1)!.producer!;
    assert.ok(toHalf.is('Cast') && toHalf.attrInt('to') === F16, 'the float32 scale reaches the float16 Div through a Cast');
  });
});

describe('cast: the target decides (kernel table)', () => {
  /** x → Conv → InstanceNormalization → Resize → Relu → MatMul → y */
  function convNet(opset: number): ModelBuilder {
    const b = new ModelBuilder(opset);
    const x = b.input('x', F32, [1, 4, 8, 8]);
    const c = b.op('Conv', [x, b.weight('cw', [4, 4, 3, 3]), b.weight('cb', [4])], { pads: [1, 1, 1, 1] }, { name: 'conv' });
    const n = b.op('InstanceNormalization', [c, b.weight('scale', [4]), b.weight('shift', [4])], {}, { name: 'norm' });
    const r = b.op('Resize', [n, b.floats('roi', [0], []), b.floats('scales', [4], [1, 1, 2, 2])], { mode: 'nearest' }, { name: 'resize' });
    const a = b.op('Relu', [r], {}, { name: 'relu' });
    b.output(b.op('MatMul', [a, b.weight('mw', [16, 16])], {}, { name: 'matmul' }));
    return b;
  }

  test('bfloat16 at opset 17: Conv, InstanceNormalization and Resize run in float16 behind Casts; Relu and MatMul in bfloat16', async () => {
    const b = convNet(17);
    const { result } = await runPass(cast, b.model, { to: 'bfloat16' });
    const type = (name: string) => nodeNamed(b.model, name).output(0).type?.dtype;
    assert.equal(type('conv'), F16);
    assert.equal(type('norm'), F16);
    assert.equal(type('resize'), F16);
    assert.equal(type('relu'), BF16);
    assert.equal(type('matmul'), BF16);
    assert.equal(b.graph.initializer('cw')!.initializer!.dtype, F16);
    assert.equal(b.graph.initializer('mw')!.initializer!.dtype, BF16);
    assert.equal(b.graph.initializer('scales')!.initializer!.dtype, F32, "Resize's scales stay float32");
    const relu = nodeNamed(b.model, 'relu');
    assert.ok(relu.input(0)!.producer!.is('Cast') && relu.input(0)!.producer!.attrInt('to') === BF16);
    assert.equal(result.counts.nodes_fp16_fallback, 3);
    assert.deepEqual(precisionProblems(b.graph), []);
    assert.deepEqual(checkTypes(b.graph), []);
  });

  test('bfloat16 at opset 22: Conv runs in bfloat16; InstanceNormalization has no CUDA kernel at 22 and stays float32', async () => {
    const b = convNet(22);
    const { result } = await runPass(cast, b.model, { to: 'bfloat16' });
    assert.equal(nodeNamed(b.model, 'conv').output(0).type?.dtype, BF16);
    assert.equal(nodeNamed(b.model, 'norm').output(0).type?.dtype, F32);
    assert.equal(nodeNamed(b.model, 'resize').output(0).type?.dtype, F16);
    assert.ok((result.counts.nodes_fp32_no_kernel ?? 0) >= 1);
  });

  test("target 'cpu': ops without a float16 CPU kernel stay float32, MatMul goes float16", async () => {
    const b = convNet(17);
    await runPass(cast, b.model, {}, { target: 'cpu' });
    const type = (name: string) => nodeNamed(b.model, name).output(0).type?.dtype;
    assert.equal(type('conv'), F32);
    assert.equal(type('norm'), F32);
    assert.equal(type('relu'), F32);
    assert.equal(type('matmul'), F16);
    assert.equal(b.graph.initializer('cw')!.initializer!.dtype, F32, 'a float32 Conv keeps a float32 weight');
  });

  test("the 'target' param overrides the recipe's target", async () => {
    const b = convNet(17);
    await runPass(cast, b.model, { target: 'cpu' }, { target: 'cuda' });
    assert.equal(nodeNamed(b.model, 'conv').output(0).type?.dtype, F32);
  });

  test('com.microsoft GroupNorm: float16 data, gamma and beta stay float32; in bfloat16 models it is a float16 island', async () => {
    for (const to of ['float16', 'bfloat16'] as const) {
      const b = new ModelBuilder(17, { 'com.microsoft': 1 });
      const x = b.input('x', F32, [1, 8, 8, 32]);
      const g = b.op('GroupNorm', [x, b.weight('gamma', [32]), b.weight('beta', [32])], { groups: 4, activation: 1, epsilon: 1e-5 }, { domain: 'com.microsoft', name: 'gn' });
      b.output(b.op('MatMul', [g, b.weight('w', [32, 32])], {}, { name: 'mm' }));
      await runPass(cast, b.model, { to });
      assert.equal(nodeNamed(b.model, 'gn').output(0).type?.dtype, F16, to);
      assert.equal(b.graph.initializer('gamma')!.initializer!.dtype, F32, to);
      assert.equal(b.graph.initializer('beta')!.initializer!.dtype, F32, to);
      assert.equal(nodeNamed(b.model, 'mm').output(0).type?.dtype, to === 'float16' ? F16 : BF16);
      assert.deepEqual(precisionProblems(b.graph), [], to);
    }
  });

  test('Sin/Cos in a bfloat16 model at opset 17 run in float16 (the schema forbids bfloat16) when not kept float32', async () => {
    const b = new ModelBuilder(17);
    const x = b.input('x', F32, [4]);
    b.output(b.op('Sin', [x], {}, { name: 'sin' }));
    await runPass(cast, b.model, { to: 'bfloat16', keep_sin_cos_fp32: false });
    assert.equal(nodeNamed(b.model, 'sin').output(0).type?.dtype, F16);
  });

  test('block_ops, block_nodes and keep_fp32 (names or op types) keep nodes float32', async () => {
    for (const params of [{ block_ops: ['MatMul'] }, { block_nodes: ['matmul'] }, { keep_fp32: ['matmul'] }, { keep_fp32: ['MatMul'] }]) {
      const { b } = linear();
      const { result } = await runPass(cast, b.model, params);
      assert.equal(nodeNamed(b.model, 'matmul').output(0).type?.dtype, F32, JSON.stringify(params));
      assert.equal(b.graph.initializer('W')!.initializer!.dtype, F32);
      assert.equal(nodeNamed(b.model, 'add').output(0).type?.dtype, F16);
      assert.equal(result.counts.nodes_fp32_blocked, 1);
    }
  });

  test('a block entry that matches nothing is logged', async () => {
    const { b } = linear();
    const { logs } = await runPass(cast, b.model, { block_ops: ['Matmul'] });
    assert.ok(logs.some((l) => l.includes("'Matmul'") && l.includes('matches no node')), logs.join('\n'));
  });
});

describe('cast: Casts', () => {
  test('Casts this pass made that undo each other disappear', async () => {
    // A model as an earlier run left it: y = MatMul(Cast(h16 → float32)) with the MatMul float32.
    const b = new ModelBuilder();
    const x = b.input('x', F16, [2, 4]);
    const h = b.op('Relu', [x], {}, { name: 'relu' });
    const up = b.node('Cast', [h], { to: F32 }, { name: 'up' });
    up.setMetadata(PASS_STAMP_KEY, 'cast');
    b.output(b.op('MatMul', [up.output(0), b.weight('W', [4, 4])], {}, { name: 'matmul' }));
    inferTypes(b.graph);
    const { result } = await runPass(cast, b.model, { keep_io_types: false });
    const mm = nodeNamed(b.model, 'matmul');
    assert.equal(mm.input(0), h, 'the MatMul reads the float16 value directly');
    assert.equal(result.counts.casts_cancelled, 2);
    assert.equal(castsOf(b.model).length, 0);
  });

  test("the model's own lossy Cast pair stays", async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [4]);
    const down = b.op('Cast', [x], { to: F16 }, { name: 'down' });
    const up = b.op('Cast', [down], { to: F32 }, { name: 'up' });
    b.output(b.op('Relu', [up], {}, { name: 'relu' }));
    await runPass(cast, b.model);
    assert.ok(b.graph.nodes().some((n) => n.name === 'down'));
    assert.ok(b.graph.nodes().some((n) => n.name === 'up'));
    assert.equal(nodeNamed(b.model, 'down').attrInt('to'), F16);
  });

  test('a Cast to float32 in the model becomes a Cast to what its readers need: one Cast, not two', async () => {
    const b = new ModelBuilder();
    const ids = b.input('ids', INT64, [4]);
    const f = b.op('Cast', [ids], { to: F32 }, { name: 'to_float' });
    b.output(b.op('Mul', [f, b.weight('w', [4])], {}, { name: 'mul' }));
    const { result } = await runPass(cast, b.model);
    assert.equal(nodeNamed(b.model, 'to_float').attrInt('to'), F16);
    assert.equal(nodeNamed(b.model, 'mul').input(0)!.producer!.name, 'to_float');
    assert.equal(result.counts.casts_retargeted, 1);
  });
});

describe('cast: weights', () => {
  test('weights convert lazily: the new tensor maps the old one chunk by chunk, and the written file holds the converted bits', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [1, 300]);
    const values = Array.from({ length: 300 * 300 }, (_, i) => Math.sin(i) * 3);
    b.output(b.op('MatMul', [x, b.floats('W', [300, 300], values)]));
    await runPass(cast, b.model);
    const w = b.graph.initializer('W')!.initializer!;
    assert.ok(w.data instanceof MappedData, 'a lazy mapping, not a materialized copy');
    let chunks = 0;
    for await (const chunk of w.data.chunks(4096)) {
      chunks++;
      assert.ok(chunk.byteLength <= 4096);
    }
    assert.equal(chunks, Math.ceil((300 * 300 * 4) / 4096), 'one output chunk per 4096-byte source chunk');
    const { dir, remove } = tempDir('sdxl-opt-cast-');
    try {
      await writeModel(b.model, path.join(dir, 'model.onnx'), { externalData: 'always' });
      const back = await readModel(path.join(dir, 'model.onnx'));
      const written = back.graph.initializer('W')!.initializer!;
      assert.equal(written.dtype, F16);
      const bytes = await written.bytes();
      assert.deepEqual(bytes, narrowBytes(new Uint8Array(Float32Array.from(values).buffer), F16));
      const halves = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      for (const i of [0, 1, 7, 1234, 89_999]) assert.ok(Math.abs(float16ToNumber(halves[i]!) - values[i]!) <= Math.abs(values[i]!) * 2 ** -11 + 2 ** -24);
    } finally {
      remove();
    }
  });

  test('float16 clamps and flushes are reported per tensor, counted as the writer converts them', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [1, 4]);
    let reads = 0;
    const bigBytes = new Uint8Array(Float32Array.from([1e5, -7e4, 1, 2, 3e-9, 0.5, 0, 1]).buffer);
    // A source that counts its reads: the report must come from the writer's read, not one of its own.
    const counted = new InlineData(bigBytes);
    const source = {
      byteLength: counted.byteLength,
      inMemory: undefined,
      describe: () => 'counted',
      chunks: (max?: number) => {
        reads++;
        return counted.chunks(max);
      },
    };
    const big = b.graph.addInitializer('big', new Tensor(F32, [4, 2], source));
    const h = b.op('MatMul', [x, big]);
    b.output(b.op('Add', [h, b.floats('fine', [2], [1, 2])]));
    const { result, logs } = await runPass(cast, b.model);
    assert.equal(reads, 0, 'the pass reads no weight');
    assert.equal(result.counts.weights_clamped, undefined, 'counts come once the model is written');
    const { dir, remove } = tempDir('sdxl-opt-cast-');
    try {
      await writeModel(b.model, path.join(dir, 'model.onnx'), { externalData: 'always', sizeThreshold: 0 });
    } finally {
      remove();
    }
    assert.equal(reads, 1);
    const late = await result.afterWrite!();
    assert.equal(reads, 1, 'the writer counted: nothing read again');
    assert.equal(late.counts.weights_clamped, 2);
    assert.equal(late.counts.weights_flushed, 1);
    assert.equal(late.counts.tensors_clamped, 1);
    assert.equal(late.counts.tensors_flushed, 1);
    assert.equal(late.counts.weights_scanned_again, 0);
    assert.ok(late.log.some((l) => l.includes('big') && l.includes('2 clamped') && l.includes('1 flushed')), late.log.join('\n'));
    assert.ok(!late.log.some((l) => l.includes('fine')));
    assert.ok(!logs.some((l) => l.includes('big')));
  });

  test('weights the writer did not read are scanned when the report is settled', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [1, 4]);
    const h = b.op('MatMul', [x, b.floats('big', [4, 2], [1e5, -7e4, 1, 2, 3e-9, 0.5, 0, 1])]);
    b.output(b.op('Add', [h, b.floats('fine', [2], [1, 2])]));
    const { result } = await runPass(cast, b.model);
    const late = await result.afterWrite!();
    assert.equal(late.counts.weights_clamped, 2);
    assert.equal(late.counts.weights_flushed, 1);
    assert.equal(late.counts.weights_scanned_again, 2);
    assert.match(late.summary ?? '', /2 weight values clamped in 1 tensor/);
  });

  test('scan_weights: false reports no clamps and reads nothing', async () => {
    const { b } = linear();
    const { result } = await runPass(cast, b.model, { scan_weights: false });
    assert.equal(result.afterWrite, undefined);
  });

  test('bfloat16 clamps and flushes are reported per tensor too', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [1, 4]);
    // 3.4028235e38 rounds past the largest bfloat16; 1e-45 (a float32 subnormal) rounds to zero; 1e-30 is kept.
    const h = b.op('MatMul', [x, b.floats('edge', [4, 2], [3.4028235e38, -3.4028235e38, 1e-45, 1e-30, 1, 2, 3, 4])]);
    b.output(b.op('Add', [h, b.floats('fine', [2], [1, 2])]));
    const { result } = await runPass(cast, b.model, { to: 'bfloat16' });
    // Nothing written here: settling the report scans what the writer did not read.
    const late = await result.afterWrite!();
    assert.deepEqual([late.counts.weights_clamped, late.counts.weights_flushed, late.counts.tensors_clamped, late.counts.tensors_flushed], [2, 1, 1, 1]);
    assert.ok(late.log.some((l) => /edge → bf16: 2 clamped, 1 flushed to zero$/.test(l)), late.log.join('\n'));
    assert.ok(!late.log.some((l) => l.includes('fine')));
  });

  test('a weight read by a float16 node and a float32 node gets a float16 copy', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', F32, [1, 4]);
    const w = b.weight('W', [4, 4]);
    const a = b.op('MatMul', [x, w], {}, { name: 'fast' });
    const c = b.op('MatMul', [x, w], {}, { name: 'slow' });
    b.output(b.op('Add', [a, c], {}, { name: 'sum' }));
    const { result } = await runPass(cast, b.model, { block_nodes: ['slow'] });
    assert.equal(result.counts.weight_copies, 1);
    assert.equal(nodeNamed(b.model, 'fast').input(1)!.initializer!.dtype, F16);
    assert.equal(nodeNamed(b.model, 'slow').input(1)!.initializer!.dtype, F32);
    assert.equal(nodeNamed(b.model, 'slow').input(1)!.name, 'W');
  });

  test('byte and node counts per type', async () => {
    const { b } = linear();
    const { result } = await runPass(cast, b.model, { to: 'bfloat16' });
    assert.equal(result.counts.bytes_bf16, (4 * 8 + 8) * 2);
    assert.equal(result.counts.bytes_fp32, 0);
    assert.equal(result.counts.nodes_bf16, 2);
    assert.equal(result.counts.nodes_fp32, 0);
  });
});

describe('cast: on the fixtures', () => {
  for (const [file, label] of [
    [SMALL_TS, 'TorchScript UNet'],
    [SMALL_DYNAMO, 'dynamo UNet'],
  ] as const) {
    for (const to of ['float16', 'bfloat16'] as const) {
      test(`${label}, ${to}: types check, inference agrees, and a second run changes nothing`, async () => {
        const model = await readModel(file);
        const first = await runPass(cast, model, { to });
        assert.equal(first.result.changed, true);
        assert.deepEqual(checkTypes(model.graph), []);
        assert.deepEqual(precisionProblems(model.graph), []);
        const report = inferTypes(model.graph);
        assert.deepEqual(report.issues, []);
        assert.equal(report.changed, 0, 'inference finds nothing to add to the types the pass recorded');
        const second = await runPass(cast, model, { to });
        assert.equal(second.result.changed, false);
        assert.ok((first.result.counts.nodes_fp32_sin_cos ?? 0) > 0);
      });
    }
  }

  test('TorchScript UNet: the timestep embedding (Sin, Cos and their argument) stays float32', async () => {
    const model = await readModel(SMALL_TS);
    await runPass(cast, model);
    const sin = model.graph.nodes().find((n) => n.is('Sin'))!;
    assert.equal(sin.output(0).type?.dtype, F32);
    assert.equal(sin.input(0)!.producer!.output(0).type?.dtype, F32, 'the Mul computing the phase');
    assert.equal(model.graph.inputs.find((v) => v.name === 'timestep')!.type?.dtype, F32);
  });
});

describe('cast: parity on ONNX Runtime CPU', () => {
  let reference: Promise<Float32Array> | undefined;
  async function parity(target: 'cpu' | 'cuda', to: 'float16'): Promise<{ cosine: number; finite: boolean }> {
    const inputs = smallUnetInputs(SMALL_IO);
    reference ??= runFirstOutput(SMALL_TS, inputs);
    const model = await readModel(SMALL_TS);
    await runPass(cast, model, { to }, { target });
    const { dir, remove } = tempDir('sdxl-opt-cast-');
    try {
      await writeModel(model, path.join(dir, 'model.onnx'));
      return similarity(await reference, await runFirstOutput(path.join(dir, 'model.onnx'), inputs));
    } finally {
      remove();
    }
  }

  test("small UNet in float16 for target 'cpu' (unsupported ops kept float32): cosine ≥ 0.999 against float32", async () => {
    const { cosine, finite } = await parity('cpu', 'float16');
    assert.ok(finite);
    assert.ok(cosine >= 0.999, `cosine ${cosine}`);
  });

  test("small UNet in float16 for target 'cuda', run on the CPU (ORT adds Casts around ops without CPU float16 kernels): cosine ≥ 0.999", async () => {
    const { cosine, finite } = await parity('cuda', 'float16');
    assert.ok(finite);
    assert.ok(cosine >= 0.999, `cosine ${cosine}`);
  });

  test('small UNet on CUDA: float16 and bfloat16 against float32', async (t) => {
    if (!(await cudaAvailable(SMALL_TS))) {
      t.skip('CUDA provider not available');
      return;
    }
    const inputs = smallUnetInputs(SMALL_IO);
    const reference = await runFirstOutput(SMALL_TS, inputs, 'cuda');
    for (const [to, floor] of [['float16', 0.999], ['bfloat16', 0.99]] as const) {
      const model = await readModel(SMALL_TS);
      await runPass(cast, model, { to }, { target: 'cuda' });
      const { dir, remove } = tempDir('sdxl-opt-cast-');
      try {
        await writeModel(model, path.join(dir, 'model.onnx'));
        const { cosine, finite } = similarity(reference, await runFirstOutput(path.join(dir, 'model.onnx'), inputs, 'cuda'));
        assert.ok(finite, to);
        assert.ok(cosine >= floor, `${to}: cosine ${cosine}`);
      } finally {
        remove();
      }
    }
  });

  test('dynamo UNet on CUDA with CPU fallback disabled: every node of the float16 and bfloat16 models has a CUDA kernel in its type', async (t) => {
    if (!(await cudaAvailable(SMALL_TS))) {
      t.skip('CUDA provider not available');
      return;
    }
    const inputs = smallUnetInputs(SMALL_IO);
    const reference = await runFirstOutput(SMALL_DYNAMO, inputs, 'cuda');
    for (const [to, floor] of [['float16', 0.999], ['bfloat16', 0.99]] as const) {
      const model = await readModel(SMALL_DYNAMO);
      await runPass(cast, model, { to }, { target: 'cuda' });
      const { dir, remove } = tempDir('sdxl-opt-cast-');
      try {
        await writeModel(model, path.join(dir, 'model.onnx'));
        const { cosine, finite } = similarity(reference, await runFirstOutput(path.join(dir, 'model.onnx'), inputs, 'cuda', true));
        assert.ok(finite, to);
        assert.ok(cosine >= floor, `${to}: cosine ${cosine}`);
      } finally {
        remove();
      }
    }
  });
});

describe('cast: overflow', () => {
  const DIMS = { batch: 1, h: 16, w: 16 };

  test('the VAE decoder fixture (random weights) has no activation near float16 range; the probe leaves the graph as it was', async () => {
    const model = await readModel(VAE);
    inferTypes(model.graph);
    const nodes = model.graph.nodeCount;
    const probe = await probeOverflow(model, { threshold: 0.25 * 65504, dims: DIMS, defaultDim: () => 1 });
    assert.equal(probe.overflowing.size, 0);
    assert.ok(probe.probed > 200);
    const largest = Math.max(...probe.maxAbs.values());
    assert.ok(largest > 1 && largest < 100, `largest activation ${largest}`);
    assert.equal(model.graph.nodeCount, nodes);
    assert.equal(model.graph.outputs.length, 1);
  });

  test("overflow_dims entries that are not name=size are refused before anything runs", async () => {
    const { b } = linear();
    await assert.rejects(runPass(cast, b.model, { overflow: 'auto', overflow_dims: ['h32'] }), (e: unknown) => e instanceof SdxlOptError && e.code === 'BAD_PARAM' && /h32/.test(e.message));
    assert.equal(b.graph.initializer('W')!.initializer!.dtype, F32, 'nothing changed');
  });

  test('overflow_provider cuda: the probe runs a channels-last VAE (CUDA-only ops) on CUDA; without CUDA one error names it', async (t) => {
    const model = await readModel(VAE);
    await runForCuda(channelsLast, model);
    const params = { overflow: 'auto' as const, overflow_provider: 'cuda' as const, overflow_dims: ['h=16', 'w=16'] };
    if (!(await cudaAvailable(VAE))) {
      t.diagnostic('CUDA provider not available: checking the refusal only');
      await assert.rejects(runPass(cast, model, params, { dims: DIMS }), (e: unknown) => e instanceof SdxlOptError && e.code === 'RUNTIME' && /on cuda/.test(e.message));
      return;
    }
    const { result, logs } = await runPass(cast, model, params, { dims: DIMS });
    assert.ok(logs.some((l) => l.startsWith('overflow probe on cuda:')), logs.join('\n'));
    assert.equal(result.counts.overflow_values ?? 0, 0, 'the fixture as exported does not overflow float16');
    assert.deepEqual(precisionProblems(model.graph), []);
  });

  test('a VAE whose conv_in is scaled by 2^16: plain float16 overflows; overflow: auto keeps the large values out of float16', async () => {
    const { dir, remove } = tempDir('sdxl-opt-cast-');
    const scaled = async () => {
      const model = await readModel(VAE);
      for (const name of ['v.decoder.conv_in.weight', 'v.decoder.conv_in.bias']) {
        const v = model.graph.initializer(name)!;
        const bytes = new Uint8Array(await v.initializer!.bytes()); // a copy: Buffer.slice would be a view
        const floats = new Float32Array(bytes.buffer, 0, bytes.byteLength / 4).map((x) => x * 2 ** 16);
        model.graph.setInitializerTensor(v, new Tensor(F32, v.initializer!.dims, new InlineData(new Uint8Array(floats.buffer))));
      }
      return model;
    };
    const run = async (model: Model, name: string) => {
      const file = path.join(dir, `${name}.onnx`);
      await writeModel(model, file);
      const spec = model.graph.inputs.map((v) => ({ name: v.name, dtype: v.type!.dtype, shape: v.type!.shape }));
      const [out] = await runOnCpu(file, spec, ['sample'], { dims: DIMS, fallbackDim: () => 1, seed: 7 });
      return Float32Array.from(out!.data as Float32Array);
    };
    try {
      const reference = await run(await scaled(), 'fp32');
      const plain = await scaled();
      await runPass(cast, plain, {}, { dims: DIMS });
      const naive = similarity(reference, await run(plain, 'fp16'));
      assert.ok(!naive.finite || naive.cosine < 0.99, `plain float16 should break: cosine ${naive.cosine}`);

      const guarded = await scaled();
      const { result, logs } = await runPass(cast, guarded, { overflow: 'auto', overflow_dims: ['h=16', 'w=16'] }, { dims: DIMS });
      assert.ok((result.counts.overflow_values ?? 0) > 0);
      assert.ok((result.counts.nodes_kept_from_fp16_overflow ?? 0) > 0);
      assert.ok(logs.some((l) => l.startsWith('overflow probe on cpu:')));
      const convIn = guarded.graph.nodes().find((n) => n.name === '/decoder/conv_in/Conv')!;
      assert.equal(convIn.output(0).type?.dtype, F32);
      const safe = similarity(reference, await run(guarded, 'fp16-guarded'));
      assert.ok(safe.finite);
      assert.ok(safe.cosine >= 0.999, `cosine ${safe.cosine}`);
      assert.deepEqual(precisionProblems(guarded.graph), []);
    } finally {
      remove();
    }
  });
});
