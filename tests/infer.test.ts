/** inferTypes / checkTypes / shapeOf on the real fixtures, and the symbolic-dim arithmetic they rest on. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { SdxlOptError } from '../src/errors.js';
import { readModel } from '../src/io/read.js';
import { addDims, canonicalDim, floorDivDims, mulDims, substituteDim } from '../src/ir/infer/dim-expr.js';
import { checkTypes, dtypeOf, inferTypes, shapeOf, staticShapeOf } from '../src/ir/infer/index.js';
import type { Model } from '../src/ir/model.js';
import { DataType } from '../src/onnx/dtype.js';
import { GraphBuilder } from './helpers/graph-builder.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const SMALL_TS = fixture('sdxl-unet-small-ts17.onnx');
const SMALL_DYNAMO = fixture('sdxl-unet-small-dynamo18.onnx');
const FULL = fixture('sdxl-unet-full-graph-only.onnx');
const VAE = fixture('sdxl-vae-decoder-tiny-ts17.onnx');
const SMALL_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };

function shapeOfNode(model: Model, nodeName: string) {
  const node = model.graph.nodes().find((n) => n.name === nodeName);
  assert.ok(node, `node ${nodeName}`);
  return node.output(0).type?.shape;
}

describe('dim expressions', () => {
  test('equal expressions get equal names, however reached', () => {
    assert.equal(mulDims('height', 'width'), 'height*width');
    assert.equal(mulDims('width', 'height'), 'height*width');
    assert.equal(mulDims(2, 'h'), '2*h');
    assert.equal(canonicalDim('h*2'), '2*h');
    assert.equal(addDims('h', 'h'), '2*h');
    assert.equal(addDims(mulDims('h', 3), -3), '3*h-3');
  });

  test('floor division simplifies what it can and names the rest', () => {
    assert.equal(floorDivDims(mulDims('h', 'w'), 'w'), 'h');
    assert.equal(floorDivDims(mulDims(4, 'h'), 2), '2*h');
    assert.equal(floorDivDims(addDims(mulDims(2, 'h'), 1), 2), 'h');
    // A 3×3 stride-2 pad-1 conv: floor((h - 1) / 2) + 1 = floor((h + 1) / 2).
    assert.equal(addDims(floorDivDims(addDims('h', -1), 2), 1), 'floor((h+1)/2)');
    assert.equal(floorDivDims('h', 'w'), 'floor(h/w)');
    assert.equal(floorDivDims(7, 2), 3);
  });

  test('substitution reaches inside floors', () => {
    assert.equal(substituteDim('floor((h+1)/2)', { h: 17 }), 9);
    assert.equal(substituteDim('2*h*w', { h: 3 }), '6*w');
    assert.equal(substituteDim('batch', { batch: 2 }), 2);
    assert.equal(substituteDim('unrelated', { batch: 2 }), 'unrelated');
  });
});

describe('inferTypes on the TorchScript small UNet', () => {
  test('every value gets an element type and a full shape, symbolic where the inputs are', async () => {
    const model = await readModel(SMALL_TS);
    const report = inferTypes(model.graph);
    assert.equal(report.valueCount, 2825);
    assert.equal(report.complete, report.valueCount, `incomplete: ${report.incomplete.slice(0, 5).map(String).join(', ')}`);
    assert.deepEqual(report.unknownOps, {});
    assert.deepEqual(report.issues, []);
    // Shape → Gather → Unsqueeze → Concat → Reshape chains, through a stride-2 conv.
    assert.deepEqual(shapeOfNode(model, '/u/down_blocks.1/attentions.0/transformer_blocks.0/attn1/Reshape'), [
      'batch', 'floor((height+1)/2)*floor((width+1)/2)', 2, 32,
    ]);
    assert.deepEqual(shapeOfNode(model, '/u/down_blocks.1/attentions.0/transformer_blocks.0/attn2/Softmax'), [
      'batch', 2, 'floor((height+1)/2)*floor((width+1)/2)', 'sequence',
    ]);
    assert.deepEqual(shapeOfNode(model, '/u/up_blocks.0/upsamplers.0/Resize'), [
      'batch', 64, '2*floor((floor((height+1)/2)+1)/2)', '2*floor((floor((width+1)/2)+1)/2)',
    ]);
    assert.deepEqual(model.graph.outputs[0]!.type, { dtype: DataType.FLOAT, shape: ['batch', 4, 'height', 'width'] });
  });

  test('with dims every shape is numeric, and matches ONNX shape inference where it knows', async () => {
    const model = await readModel(SMALL_TS);
    const report = inferTypes(model.graph, { dims: SMALL_DIMS });
    assert.deepEqual(report.issues, []);
    const symbolic = model.graph.nodes().flatMap((n) => n.outputs).filter((v) => !v.type?.shape?.every((d) => typeof d === 'number'));
    assert.deepEqual(symbolic.map((v) => v.name), []);
    // From onnx.shape_inference.infer_shapes(data_prop=True) on this model with inputs fixed to these dims.
    assert.deepEqual(shapeOfNode(model, '/u/Expand'), [2]);
    assert.deepEqual(shapeOfNode(model, '/u/down_blocks.0/downsamplers.0/conv/Conv'), [2, 32, 8, 8]);
    assert.deepEqual(shapeOfNode(model, '/u/up_blocks.0/upsamplers.0/Resize'), [2, 64, 8, 8]);
    // Where ONNX gives up (unk__ dims), the dynamo export of the same model records these.
    assert.deepEqual(shapeOfNode(model, '/u/down_blocks.1/attentions.0/transformer_blocks.0/attn1/Softmax'), [2, 2, 64, 64]);
    assert.deepEqual(shapeOfNode(model, '/u/down_blocks.1/attentions.0/transformer_blocks.0/attn2/Softmax'), [2, 2, 64, 77]);
    assert.deepEqual(shapeOfNode(model, '/u/down_blocks.1/attentions.0/transformer_blocks.0/ff/net.0/Slice'), [2, 64, 256]);
    assert.deepEqual(model.graph.inputs[0]!.type?.shape, [2, 4, 16, 16]);
  });
});

test('inferTypes reproduces every value_info entry of the dynamo export from its inputs alone', async () => {
  const model = await readModel(SMALL_DYNAMO);
  const recorded = new Map(model.graph.nodes().flatMap((n) => n.outputs).map((v) => [v, v.type]));
  for (const v of recorded.keys()) if (!v.isGraphOutput) v.type = undefined;
  const report = inferTypes(model.graph);
  assert.deepEqual(report.issues, []);
  const differ = [...recorded].filter(([v, t]) => JSON.stringify(v.type) !== JSON.stringify(t)).map(([v]) => v.name);
  assert.equal(recorded.size, 1036);
  assert.deepEqual(differ, []);
});

test('the VAE decoder keeps its recorded output names where inference derives expressions', async () => {
  const model = await readModel(VAE);
  const report = inferTypes(model.graph);
  assert.equal(report.complete, report.valueCount);
  assert.deepEqual(report.issues, []);
  assert.deepEqual(model.graph.outputs[0]!.type?.shape, ['batch', 3, 'H', 'W']);
  const numeric = inferTypes(model.graph, { dims: { batch: 1, h: 8, w: 8 } });
  assert.deepEqual(numeric.issues, []);
  assert.deepEqual(model.graph.outputs[0]!.type?.shape, [1, 3, 16, 16]);
});

test('the full UNet: complete, consistent, and linear in graph size', async () => {
  const model = await readModel(FULL);
  const started = performance.now();
  const report = inferTypes(model.graph, { dims: { batch: 2, height: 128, width: 128, sequence: 77 } });
  const ms = performance.now() - started;
  assert.equal(model.graph.nodeCount, 13741);
  assert.equal(report.complete, report.valueCount);
  assert.deepEqual(report.issues, []);
  assert.deepEqual(model.graph.outputs[0]!.type?.shape, [2, 4, 128, 128]);
  // Measured well under 1 s; the bound is loose for a busy 2-core CI machine, and still catches a quadratic walk.
  assert.ok(ms < 5000, `inference took ${ms.toFixed(0)} ms`);
});

describe('checkTypes', () => {
  test('finds nothing wrong in the fixtures as exported', async () => {
    for (const file of [SMALL_TS, SMALL_DYNAMO, VAE]) {
      const model = await readModel(file);
      assert.deepEqual(checkTypes(model.graph), [], file);
    }
  });

  test('names a node whose recorded output contradicts its inputs, and changes nothing', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['batch', 77, 64]);
    const w = b.weight('w', DataType.FLOAT, [64, 32]);
    const y = b.node('MatMul', [x, w], {}, { types: [{ dtype: DataType.FLOAT, shape: ['batch', 77, 64] }] }).output(0);
    const problems = checkTypes(b.graph);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /node 'MatMul' \(MatMul\).*recorded as float\[batch, 77, 64\] but its inputs give float\[batch, 77, 32\]/);
    assert.deepEqual(y.type?.shape, ['batch', 77, 64]);
  });

  test('reports inputs that cannot go together', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 77, 64]);
    const w = b.weight('w', DataType.FLOAT, [48, 32]);
    b.op('MatMul', [x, w]);
    assert.match(checkTypes(b.graph).join('\n'), /MatMul inner dims differ: 64 vs 48/);
  });
});

describe('recorded types', () => {
  test('a contradiction is reported, not thrown, and the inferred type wins', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const y = b.node('Relu', [x], {}, { types: [{ dtype: DataType.FLOAT16, shape: [2, 3] }] }).output(0);
    const report = inferTypes(b.graph);
    assert.equal(report.issues.length, 1);
    assert.equal(report.issues[0]!.kind, 'contradiction');
    assert.equal(report.issues[0]!.value, y.name);
    assert.equal(y.type?.dtype, DataType.FLOAT);
  });

  test('a recorded name stays, a recorded number fills what inference cannot know', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['n', 8]);
    const y = b.node('Relu', [x], {}, { types: [{ dtype: DataType.FLOAT, shape: ['N', undefined] }] }).output(0);
    const unknown = b.node('MysteryOp', [x], {}, { domain: 'example.com', types: [{ dtype: DataType.FLOAT, shape: [4] }] }).output(0);
    const untyped = b.node('AnotherMystery', [x]).output(0);
    const report = inferTypes(b.graph);
    assert.deepEqual(y.type?.shape, ['N', 8]);
    assert.deepEqual(unknown.type?.shape, [4]);
    assert.equal(untyped.type, undefined);
    assert.deepEqual(report.unknownOps, { 'example.com:MysteryOp': 1, AnotherMystery: 1 });
    assert.deepEqual(report.incomplete, [untyped]);
  });
});

test('dims reach recorded types past a node without a rule', () => {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, ['batch', 8]);
  const mystery = b.node('Mystery', [x], {}, { types: [{ dtype: DataType.FLOAT, shape: ['batch', 8] }] }).output(0);
  const y = b.op('Relu', [mystery]);
  inferTypes(b.graph, { dims: { batch: 2 } });
  assert.deepEqual([x.type?.shape, mystery.type?.shape, y.type?.shape], [[2, 8], [2, 8], [2, 8]]);
});

describe('shapeOf / dtypeOf', () => {
  test('return what is known and throw naming the value otherwise', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['batch', 4]);
    const y = b.op('Mystery', [x]);
    inferTypes(b.graph);
    assert.deepEqual(shapeOf(x), ['batch', 4]);
    assert.equal(dtypeOf(x), DataType.FLOAT);
    assert.throws(() => staticShapeOf(x), (e: unknown) => e instanceof SdxlOptError && /'x'.*not static/.test(e.message));
    assert.throws(() => shapeOf(y), (e: unknown) => e instanceof SdxlOptError && e.message.includes(`'${y.name}'`) && e.where === "node 'Mystery' (Mystery)");
    assert.throws(() => dtypeOf(y), (e: unknown) => e instanceof SdxlOptError && /element type of 'Mystery_output_0' is unknown/.test(e.message));
  });
});
