/** `sdxl-opt inspect`: the report on the real fixtures, on small built graphs, and through the CLI. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { inspectModel, type InspectReport } from '../src/inspect.js';
import { readModel } from '../src/io/read.js';
import { Model } from '../src/ir/model.js';
import { DataType } from '../src/onnx/dtype.js';
import { GraphBuilder } from './helpers/graph-builder.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const SMALL_TS = fixture('sdxl-unet-small-ts17.onnx');
const FULL = fixture('sdxl-unet-full-graph-only.onnx');
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SDXL_DIMS = { batch: 2, height: 128, width: 128, sequence: 77 };

/** inspect leaves the model as it was, so the tests share one read. */
let small: Promise<Model> | undefined;
const smallModel = () => (small ??= readModel(SMALL_TS));

const shapeCount = (entries: { shape: unknown[]; count: number }[], shape: number[]) =>
  entries.find((e) => JSON.stringify(e.shape) === JSON.stringify(shape))?.count;

describe('inspect on the small TorchScript UNet', () => {
  test('counts nodes, ops, weights and attention blocks', async () => {
    const report = inspectModel(await smallModel(), { dims: { batch: 2, height: 16, width: 16, sequence: 77 } });
    assert.equal(report.nodeCount, 2820);
    assert.equal(report.opTypes.MatMul, 168);
    assert.equal(report.opTypes.Conv, 35);
    assert.equal(report.opTypes.Constant, 828);
    assert.deepEqual(report.opsets, { 'ai.onnx': 17 });
    assert.equal(report.irVersion, 8);
    assert.deepEqual(report.inputs[0], { name: 'sample', dtype: 'float', shape: [2, 4, 16, 16] });
    // 168 MatMuls: 44 attention products (22 blocks × 2) and 124 weight products.
    assert.equal(report.weightShapes.matmul.reduce((n, e) => n + e.count, 0), 124 + 15);
    assert.equal(shapeCount(report.weightShapes.matmul, [64, 64]), 80);
    assert.equal(report.weightShapes.conv.reduce((n, e) => n + e.count, 0), 35);
    assert.equal(shapeCount(report.weightShapes.conv, [4, 32, 3, 3]), 1);
    assert.equal(report.attention.blocks.length, 22);
    assert.deepEqual([report.attention.self, report.attention.cross], [11, 11]);
    const cross = report.attention.blocks.filter((b) => b.kind === 'cross');
    assert.ok(cross.every((b) => b.keySource === 'encoder_hidden_states' && b.keyLength === 77));
    assert.deepEqual(report.inference.issues, []);
    assert.equal(report.flops.unresolved, 0);
  });

  test('leaves the model as it was: dims are not written into its types', async () => {
    const model = await smallModel();
    inspectModel(model, { dims: { batch: 2, height: 16, width: 16, sequence: 77 } });
    assert.deepEqual(model.graph.inputs[0]!.type?.shape, ['batch', 4, 'height', 'width']);
    assert.equal(model.graph.nodes().find((n) => n.opType === 'Softmax')!.output(0).type, undefined);
  });

  test('without dims, FLOPs say which input dims are missing', async () => {
    const report = inspectModel(await smallModel());
    assert.ok(report.flops.unresolved > 0);
    assert.deepEqual(report.symbolicDims, ['batch', 'height', 'width', 'sequence']);
    assert.deepEqual(inspectModel(await smallModel(), { dims: { batch: 1, frames: 3 } }).ignoredDims, ['frames']);
  });
});

test('inspect on the full SDXL UNet, without its external data', async () => {
  const report = inspectModel(await readModel(FULL), { dims: SDXL_DIMS });
  assert.equal(report.nodeCount, 13741);
  assert.equal(report.parameters.count, 2_567_463_684);
  assert.equal(report.parameters.storedCount, 2_566_894_724);
  assert.equal(report.parameters.initializers, 1184);
  assert.deepEqual([report.attention.self, report.attention.cross], [70, 70]);
  assert.equal(shapeCount(report.weightShapes.matmul, [1280, 10240]), 60);
  assert.equal(shapeCount(report.weightShapes.conv, [1280, 1280, 3, 3]), 11);
  assert.equal(report.flops.unresolved, 0);
  // ONNX Runtime's symbolic shape inference, with the same 2·M·N·K and 2·out·Cin/g·kh·kw counts, gives exactly this.
  assert.equal(report.flops.total, 13_522_472_796_160);
  assert.equal(report.flops.byOp.Conv, 3_246_223_523_840);
  // The fixture README's attention estimate: about 1.6 T.
  assert.ok(Math.abs(report.flops.byKind.attention / 1.6e12 - 1) < 0.1, `attention ${report.flops.byKind.attention}`);
});

describe('inspect on built graphs', () => {
  function attentionModel(): Model {
    const b = new GraphBuilder();
    const { FLOAT16 } = DataType;
    const hidden = b.input('hidden', FLOAT16, ['batch', 'tokens', 640]);
    const context = b.input('encoder_hidden_states', FLOAT16, ['batch', 'sequence', 2048]);
    const q = b.op('MatMul', [hidden, b.weight('wq', FLOAT16, [640, 640])]);
    const k = b.op('MatMul', [context, b.weight('wk', FLOAT16, [2048, 640])]);
    const v = b.op('MatMul', [context, b.weight('wv', FLOAT16, [2048, 640])]);
    const cross = b.op('MultiHeadAttention', [q, k, v], { num_heads: 10 }, 'com.microsoft');
    const qkv = b.op('Reshape', [b.op('MatMul', [cross, b.weight('wqkv', FLOAT16, [640, 1920])]), b.int64s('t', [0, 0, 10, 3, 64])]);
    const self = b.op('MultiHeadAttention', [qkv], { num_heads: 10 }, 'com.microsoft');
    const g = b.op('Gemm', [b.input('temb', FLOAT16, ['batch', 1280]), b.weight('wt', FLOAT16, [640, 1280])], { transB: 1 });
    b.output(b.op('Add', [self, b.op('Unsqueeze', [g, b.int64s('ax', [1])])]));
    return new Model(b.graph, 10, new Map([['', 17], ['com.microsoft', 1]]));
  }

  test('finds MultiHeadAttention nodes, tells self from cross, and counts their FLOPs', () => {
    const report = inspectModel(attentionModel(), { dims: { batch: 2, tokens: 4096, sequence: 77 } });
    assert.equal(report.attention.multiHeadAttention, 2);
    assert.deepEqual(
      report.attention.blocks.map((b) => [b.kind, b.keySource, b.heads, b.queryLength, b.keyLength, b.headSize]),
      [
        ['cross', 'encoder_hidden_states', 10, 4096, 77, 64],
        ['self', 'MultiHeadAttention_output_0', 10, 4096, 4096, 64],
      ],
    );
    const attention = 2 * 2 * 2 * 4096 * (77 + 4096) * 640;
    assert.equal(report.flops.byOp['com.microsoft.MultiHeadAttention'], attention);
    assert.equal(report.flops.byKind.attention, attention);
    assert.equal(report.flops.byOp.Gemm, 2 * 2 * 640 * 1280);
    // Gemm with transB: (in, out) = (1280, 640).
    assert.deepEqual(shapeCount(report.weightShapes.matmul, [1280, 640]), 1);
    assert.deepEqual(report.inputs.map((i) => i.name), ['hidden', 'encoder_hidden_states', 'temb']);
  });
});

describe('sdxl-opt inspect (CLI)', () => {
  test('prints a human report', async () => {
    const { stdout } = await run('node', [MAIN, 'inspect', SMALL_TS, '--dims', 'batch=2,height=16,width=16,sequence=77']);
    assert.match(stdout, /^IR version {2}8 {4}opsets: ai\.onnx 17$/m);
    assert.match(stdout, /^producer {4}pytorch 2\.11\.0$/m);
    assert.match(stdout, /^ {2}sample +float +\[2, 4, 16, 16\]$/m);
    assert.match(stdout, /^nodes: 2,820$/m);
    assert.match(stdout, /^ {2}MatMul +168$/m);
    assert.match(stdout, /^ {2}\(64, 64\) +80$/m);
    assert.match(stdout, /^attention: 22 blocks \(11 self, 11 cross; 0 MultiHeadAttention\)$/m);
    assert.match(stdout, /^FLOPs at batch=2, height=16, width=16, sequence=77: \d+\.\d\d M$/m);
  });

  test('--json prints the report as JSON', async () => {
    const { stdout } = await run('node', [MAIN, 'inspect', SMALL_TS, '--json']);
    const report = JSON.parse(stdout) as InspectReport;
    assert.equal(report.nodeCount, 2820);
    assert.deepEqual(report.inputs[0]!.shape, ['batch', 4, 'height', 'width']);
    assert.equal(report.opTypes.Conv, 35);
  });

  test('a malformed --dims is a usage error naming the entry', async () => {
    await assert.rejects(run('node', [MAIN, 'inspect', SMALL_TS, '--dims', 'batch=two']), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /--dims entry 'batch=two' is not name=size/);
      return true;
    });
  });
});
