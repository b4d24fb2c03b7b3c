/**
 * What the fuzzer found, one test each, built from distilled versions of the saved inputs: a model with many
 * same-named nodes took the reader quadratic time (a 240 kB file, 100 s); some errors said what was wrong but not
 * where (which file, which value, which graph); inference allocated arrays sized by hostile shape lengths, and
 * inspect followed inputs a malformed node lacks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SdxlOptError } from '../src/errors.js';
import { inspectModel } from '../src/inspect.js';
import { modelFromBytes, readModel } from '../src/io/read.js';
import { topologicalOrder } from '../src/ir/graph.js';
import { inferTypes } from '../src/ir/infer/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import { DataType } from '../src/onnx/dtype.js';
import { AttributeType, type ModelProto } from '../src/onnx/types.js';
import { entry, graphAttr, info, L, model, node, tensor } from './fuzz/build.js';

const FILE = path.join(os.tmpdir(), 'fuzz-regression.onnx');

function read(m: ModelProto) {
  return modelFromBytes(encodeModel(m), FILE);
}

/** The SdxlOptError `run` throws (failing the test when it throws something else or nothing). */
function errorOf(run: () => unknown): SdxlOptError {
  try {
    run();
  } catch (e) {
    if (e instanceof SdxlOptError) return e;
    throw e;
  }
  assert.fail('expected an SdxlOptError');
}

/** Milliseconds `run` takes. The bound below is about 10× what the fixed reader needs and a quarter of the old time. */
function timed(run: () => void): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

test('many same-named nodes with omitted outputs read in linear time, each output named uniquely', () => {
  // fuzz: amplify × 20000 Dropout nodes named 'same' with outputs ['', ''] hung the reader: each fresh name was
  // found by trying same_unused_output_1, _2, ... from the start. 3,000 such nodes (a 72 kB file) took about 9 s.
  const n = 3000;
  const nodes = Array.from({ length: n }, () => node('Dropout', ['x'], ['', ''], 'same'));
  const proto = model({ node: nodes, input: [info('x', DataType.FLOAT, [1])], output: [info('x', DataType.FLOAT, [1])] });
  read(model({ node: nodes.slice(0, 10), input: [info('x', DataType.FLOAT, [1])], output: [info('x', DataType.FLOAT, [1])] })); // warm up the JIT
  let names: string[] = [];
  const ms = timed(() => {
    names = read(proto).graph.nodes().flatMap((nd) => nd.outputs.map((v) => v.name));
  });
  assert.equal(names.length, 2 * n);
  assert.equal(new Set(names).size, 2 * n);
  assert.deepEqual(names.slice(0, 3), ['same_unused_output', 'same_unused_output_1', 'same_unused_output_2']);
  assert.ok(ms < 2500, `reading took ${Math.round(ms)} ms`);
});

test('unique names keep counting after a hint was used, and never reuse a taken name', () => {
  const proto = model({ node: [node('Relu', ['x'], ['same_unused_output_2'], 'taken'), node('Dropout', ['x'], ['', ''], 'same'), node('Dropout', ['x'], [''], 'same')], input: [info('x', DataType.FLOAT, [1])], output: [info('x', DataType.FLOAT, [1])] });
  const g = read(proto).graph;
  assert.deepEqual(
    g.nodes().flatMap((nd) => nd.outputs.map((v) => v.name)),
    ['same_unused_output_2', 'same_unused_output', 'same_unused_output_1', 'same_unused_output_3'],
  );
  assert.equal(g.uniqueValueName('same_unused_output'), 'same_unused_output_4');
});

// The two below were quadratic scans seen while writing the fuzzer's amplify mutator, not hangs at fuzz sizes
// (10,000 of each cost ~50 ms more); the tests check the behaviour the set-based code must keep.

test('an IR-3 model whose initializers are also inputs gives each input its default value', () => {
  const n = 2000;
  const proto = model(
    {
      input: Array.from({ length: n }, (_, i) => info(`in${i}`, DataType.FLOAT, [0])),
      initializer: Array.from({ length: n }, (_, i) => tensor(`in${i}`, DataType.FLOAT, [0])),
      output: [info('in0', DataType.FLOAT, [0])],
    },
    3,
    9,
  );
  const g = read(proto).graph;
  assert.equal(g.inputs.length, n);
  assert.equal(g.initializers().length, n);
  assert.ok(g.inputs.every((v, i) => v.initializer !== undefined && v === g.initializer(`in${i}`)));
  // An initializer named like an input that already has one is a second definition.
  const twice = model({ input: [info('w', DataType.FLOAT, [0])], initializer: [tensor('w', DataType.FLOAT, [0]), tensor('w', DataType.FLOAT, [0])], output: [info('w', DataType.FLOAT, [0])] }, 3, 9);
  assert.match(errorOf(() => read(twice)).message, /value 'w' is defined twice/);
});

test('a subgraph reading many outer values lists each once as an implicit input', () => {
  const n = 2000;
  const producers = Array.from({ length: n }, (_, i) => node('Relu', ['x'], [`outer${i}`]));
  const sum = node('Sum', [...producers.map((p) => p.output![0]!), 'outer0', 'x'], ['s']);
  const reader = node('If', ['c'], ['y'], 'if', [graphAttr('then_branch', { node: [sum], output: [info('s', DataType.FLOAT)] })]);
  const proto = model({ node: [...producers, reader], input: [info('x', DataType.FLOAT, [1]), info('c', DataType.BOOL, [])], output: [info('y', DataType.FLOAT)] });
  const implicit = read(proto).graph.nodes().at(-1)!.implicitInputs.map((v) => v.name);
  assert.equal(implicit.length, n + 1);
  assert.equal(new Set(implicit).size, n + 1);
  assert.deepEqual(implicit.slice(0, 2), ['outer0', 'outer1']);
  assert.equal(implicit.at(-1), 'x');
});

test('an int64 past 2^53 is refused with the file and the field that holds it', () => {
  // fuzz: hugeDim / valueType / versions mutants whose errors named no place.
  const base = () => model({ node: [node('Relu', ['x'], ['h'], 'relu')], input: [info('x', DataType.FLOAT, [1])], output: [info('h', DataType.FLOAT, [1])], value_info: [info('h', DataType.FLOAT, [1])] });
  const cases: [string, (m: ModelProto) => void, RegExp][] = [
    ['value info dim', (m) => (m.graph!.value_info![0]!.type!.tensor_type!.shape!.dim![0]!.dim_value = L('1152921504606846976')), /value info 'h'/],
    ['graph input dim', (m) => (m.graph!.input![0]!.type!.tensor_type!.shape!.dim![0]!.dim_value = L('-9223372036854775808')), /graph input 'x'/],
    ['graph output dim', (m) => {
      delete m.graph!.value_info;
      m.graph!.output![0]!.type!.tensor_type!.shape!.dim![0]!.dim_value = L('9007199254740993');
    }, /graph output 'h'/],
    ['initializer dim', (m) => (m.graph!.initializer = [tensor('W', DataType.FLOAT, [1], { dims: [L('9223372036854775807')] })]), /initializer 'W'/],
    ['opset version', (m) => (m.opset_import![0]!.version = L('9223372036854775807')), /fuzz-regression\.onnx$/],
    ['ir_version', (m) => (m.ir_version = L('4611686018427387904')), /fuzz-regression\.onnx$/],
  ];
  for (const [what, mutate, where] of cases) {
    const m = base();
    mutate(m);
    const e = errorOf(() => read(m));
    assert.equal(e.code, 'BAD_MODEL', what);
    assert.match(e.where ?? '', where, what);
    assert.match(e.where ?? '', /fuzz-regression\.onnx/, what);
    assert.match(e.message, /beyond what sdxl-opt can represent exactly/, what);
  }
});

test('a cycle is reported with its graph and a node that is on it, not one downstream of it', () => {
  // fuzz: cycle mutants. 'after' waits on the cycle b ⇄ c without being on it; it comes first in file order.
  const proto = model({
    name: 'main',
    node: [node('Relu', ['b'], ['after'], 'after'), node('Add', ['x', 'c'], ['b'], 'b'), node('Relu', ['b'], ['c'], 'c')],
    input: [info('x', DataType.FLOAT, [1])],
    output: [info('after', DataType.FLOAT, [1])],
  });
  const graph = read(proto).graph;
  const e = errorOf(() => topologicalOrder(graph));
  assert.equal(e.code, 'BAD_MODEL');
  assert.equal(e.where, "graph 'main'");
  assert.match(e.message, /the graph has a cycle through node '(b|c)'/);

  const self = read(model({ name: 'main', node: [node('Relu', ['y'], ['y'], 'loop')], output: [info('y', DataType.FLOAT)] })).graph;
  const selfError = errorOf(() => topologicalOrder(self));
  assert.equal(selfError.where, "graph 'main'");
  assert.match(selfError.message, /node 'loop' \(Relu\) reads its own output/);
});

test('reading the bytes of a tensor whose data file is missing names the tensor', async () => {
  // fuzz: dataFile mutants that removed the data file, read without requireData.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-regression-'));
  try {
    const file = path.join(dir, 'model.onnx');
    const W = tensor('W', DataType.FLOAT, [2], { data_location: 1, external_data: [entry('location', 'gone.bin'), entry('offset', '0'), entry('length', '8')] });
    fs.writeFileSync(file, encodeModel(model({ initializer: [W], output: [info('W', DataType.FLOAT, [2])] })));
    const m = await readModel(file);
    const data = m.graph.initializer('W')!.initializer!.data;
    await assert.rejects(
      async () => {
        for await (const _ of data.chunks()) assert.fail('no bytes expected');
      },
      (e: unknown) => e instanceof SdxlOptError && e.code === 'EXTERNAL_DATA' && /initializer 'W'/.test(e.where ?? '') && /gone\.bin/.test(e.message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- type inference and inspect (targets 'infer' and 'inspect') ------------------------------------------------

test('inference leaves a rank unknown when a shape tensor claims 2^40 dims, instead of allocating them', () => {
  // fuzz: opSwap Concat → Resize made the Reshape target's recorded shape [2^40]: new Array(2^40) threw RangeError.
  for (const claimed of [1099511627776, -1, 4294967296]) {
    const proto = model({
      node: [node('Reshape', ['x', 's'], ['y'], 'reshape'), node('ConstantOfShape', ['s'], ['z'], 'fill'), node('Expand', ['x', 's'], ['e'], 'expand')],
      input: [info('x', DataType.FLOAT, [2, 3]), info('s', DataType.INT64, [claimed])],
      output: [info('y', DataType.FLOAT), info('z', DataType.FLOAT), info('e', DataType.FLOAT)],
    });
    const g = read(proto).graph;
    inferTypes(g);
    for (const name of ['y', 'z', 'e']) assert.equal(g.value(name)!.type?.shape, undefined, `${name} with a shape of length ${claimed}`);
  }
  const sane = read(model({ node: [node('Reshape', ['x', 's'], ['y'])], input: [info('x', DataType.FLOAT, [2, 3]), info('s', DataType.INT64, [3])], output: [info('y', DataType.FLOAT)] })).graph;
  inferTypes(sane);
  assert.deepEqual(sane.value('y')!.type?.shape, [undefined, undefined, undefined]);
});

test('inference of ConstantOfShape with negative target sizes does not count their elements', () => {
  // fuzz: a constant shape [-3, 2] reached ConstantOfShape; elementCount was -6 and new Array(-6) threw RangeError.
  const proto = model({
    node: [node('ConstantOfShape', ['s'], ['z'], 'fill'), node('Shape', ['z'], ['zs'], 'shape')],
    initializer: [tensor('s', DataType.INT64, [2], { int64_data: [L(-3), L(2)] })],
    output: [info('zs', DataType.INT64)],
  });
  const g = read(proto).graph;
  const report = inferTypes(g);
  assert.equal(g.value('z')!.type?.dtype, DataType.FLOAT);
  assert.ok(Array.isArray(report.issues));
});

test('inspect skips a MultiHeadAttention without its query and a Softmax without outputs', () => {
  // fuzz: rewire left MultiHeadAttention's first input empty; findAttention followed it and read undefined.producer.
  const proto = model(
    {
      node: [
        { ...node('MultiHeadAttention', ['', 'k', 'k'], ['attn'], 'mha', [{ name: 'num_heads', type: 2, i: L(2) }]), domain: 'com.microsoft' },
        node('MatMul', ['q', 'k'], ['scores'], 'qk'),
        node('Softmax', ['scores'], [], 'softmax'),
        node('MultiHeadAttention', ['q', 'k'], [], 'mha_no_output'),
      ],
      input: [info('q', DataType.FLOAT, [2, 8, 4]), info('k', DataType.FLOAT, [2, 4, 8])],
      output: [info('attn', DataType.FLOAT)],
    },
    8,
    17,
  );
  proto.graph!.node![3]!.domain = 'com.microsoft';
  proto.opset_import!.push({ domain: 'com.microsoft', version: L(1) });
  const report = inspectModel(read(proto), { dims: {} });
  assert.equal(report.attention.blocks.length, 1); // only the well-formed mha_no_output
  assert.equal(report.attention.blocks[0]!.node, 'mha_no_output');
  assert.equal(report.nodeCount, 4);
});

test('a non-string attribute named like a string one reads as absent, not as a TypeError', () => {
  // fuzz: Conv's auto_pad replaced by a GRAPH-typed attribute without `s`; protobufjs gives an absent bytes field
  // as a shared empty Array, which attrString handed to TextDecoder.
  const proto = model({
    node: [
      node('Conv', ['x', 'w'], ['y'], 'conv', [{ name: 'auto_pad', type: AttributeType.GRAPH }]),
      node('Resize', ['x', '', 'scales'], ['r'], 'resize', [{ name: 'mode', type: AttributeType.STRING, s: new TextEncoder().encode('nearest') }]),
    ],
    initializer: [tensor('w', DataType.FLOAT, [2, 3, 1, 1], { float_data: [1, 1, 1, 1, 1, 1] }), tensor('scales', DataType.FLOAT, [4], { float_data: [1, 1, 2, 2] })],
    input: [info('x', DataType.FLOAT, [1, 3, 4, 4])],
    output: [info('y', DataType.FLOAT), info('r', DataType.FLOAT)],
  });
  const g = read(proto).graph;
  const [conv, resize] = g.nodes();
  assert.equal(conv!.attrString('auto_pad'), undefined);
  assert.equal(resize!.attrString('mode'), 'nearest');
  inferTypes(g);
  assert.deepEqual(g.value('y')!.type?.shape, [1, 2, 4, 4]);
});
