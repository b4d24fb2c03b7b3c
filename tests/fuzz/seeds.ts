/**
 * The models mutants start from: the small real fixtures with their weights moved to an external data file (so
 * byte mutations land on graph structure rather than on weights, and the external-data path is exercised with real
 * offsets), and hand-built models that cover what the fixtures lack: every dtype in typed fields, If/Loop subgraphs
 * with outer-scope reads, IR-3 initializers listed as inputs, sparse initializers, functions, symlinked data files.
 */
import fs from 'node:fs';
import Long from 'long';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/dtype.js';
import { AttributeType, type GraphProto, type ModelProto, type TensorProto } from '../../src/onnx/types.js';
import { entry, floats, graphAttr, info, L, model, node, tensor, utf8 } from './build.js';

/** A file beside the model: bytes (`cacheKey` marks an unmodified seed file a worker may hard-link), a symlink or a directory. */
export type FileSpec = { kind: 'bytes'; bytes: Uint8Array; cacheKey?: string } | { kind: 'symlink'; target: string } | { kind: 'dir' };

export interface Seed {
  name: string;
  /** How often mutants start from this seed, relative to the others. */
  weight: number;
  model: Uint8Array;
  files: Record<string, FileSpec>;
}

/**
 * The fixtures used, their weights, and how many of their first nodes to keep: a whole UNet takes the reader about
 * half a second in a busy worker, too close to the hang limit and too slow for thousands of inputs; its first few
 * hundred nodes carry the same op patterns (GroupNorm as InstanceNorm, the first attention block). The 13,741-node
 * full UNet graph is left out for the same reason.
 */
const FIXTURES: readonly [file: string, weight: number, maxNodes: number][] = [
  ['sdxl-vae-decoder-tiny-ts17.onnx', 20, Infinity],
  ['sdxl-unet-small-ts17.onnx', 8, 500],
  ['sdxl-unet-small-dynamo18.onnx', 6, 300],
];

export const FIXTURE_DIR = new URL('../../../fixtures/', import.meta.url);

/** Encoded bytes as a plain Uint8Array of their own (a Buffer's slice() is a view: a mutator could write into a seed). */
const encode = (m: ModelProto): Uint8Array => new Uint8Array(encodeModel(m));

export function buildSeeds(): Seed[] {
  const seeds: Seed[] = [
    { name: 'tiny', weight: 12, model: encode(tinyModel()), files: {} },
    { name: 'dtypes', weight: 10, model: encode(dtypesModel()), files: {} },
    { name: 'control-flow', weight: 14, model: encode(controlFlowModel()), files: {} },
    externalSeed(),
    { name: 'legacy', weight: 8, model: encode(legacyModel()), files: {} },
    { name: 'shape-chain', weight: 12, model: encode(shapeChainModel()), files: {} },
  ];
  for (const [file, weight, maxNodes] of FIXTURES) seeds.push(slimFixture(file, weight, maxNodes));
  return seeds;
}

/**
 * A fixture cut to its first `maxNodes` nodes (exporters write nodes in topological order, so the cut is closed
 * under producers), with every initializer over 256 bytes moved to 'weights.bin'.
 */
function slimFixture(file: string, weight: number, maxNodes: number): Seed {
  const proto = decodeModel(fs.readFileSync(new URL(file, FIXTURE_DIR)), file);
  const g = proto.graph!;
  if ((g.node?.length ?? 0) > maxNodes) cutGraph(g, maxNodes);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of proto.graph?.initializer ?? []) {
    const raw = t.raw_data;
    if (!raw || raw.length <= 256) continue;
    delete t.raw_data;
    t.data_location = 1;
    t.external_data = [entry('location', 'weights.bin'), entry('offset', String(offset)), entry('length', String(raw.length))];
    chunks.push(raw);
    offset += raw.length;
  }
  const weights = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    weights.set(c, at);
    at += c.length;
  }
  const name = file.replace(/^sdxl-/, '').replace(/\.onnx$/, '');
  return { name, weight, model: encode(proto), files: { 'weights.bin': { kind: 'bytes', bytes: weights, cacheKey: `${name}/weights.bin` } } };
}

/** Keeps the first `n` nodes, the inputs and initializers they read, and makes their unread outputs graph outputs. */
function cutGraph(g: GraphProto, n: number): void {
  const nodes = g.node!.slice(0, n);
  const read = new Set(nodes.flatMap((x) => x.input ?? []));
  const produced = nodes.flatMap((x) => x.output ?? []).filter((o) => o !== '');
  const producedSet = new Set(produced);
  g.node = nodes;
  g.input = (g.input ?? []).filter((v) => read.has(v.name ?? ''));
  g.initializer = (g.initializer ?? []).filter((t) => read.has(t.name ?? ''));
  g.value_info = (g.value_info ?? []).filter((v) => producedSet.has(v.name ?? ''));
  g.output = produced.filter((o) => !read.has(o)).map((name) => ({ name }));
}

// ---- hand-built seeds ---------------------------------------------------------------------------------------------

function tinyModel(): ModelProto {
  return model({
    name: 'tiny',
    node: [node('MatMul', ['x', 'W'], ['h'], 'mm'), node('Add', ['h', 'B'], ['a'], 'add'), node('Relu', ['a'], ['y'], 'relu')],
    initializer: [
      tensor('W', DataType.FLOAT, [4, 4], { raw_data: floats(Array.from({ length: 16 }, (_, i) => i / 8)) }),
      tensor('B', DataType.FLOAT, [4], { float_data: [0.5, -0.5, 1, -1] }),
    ],
    input: [info('x', DataType.FLOAT, ['batch', 4])],
    output: [info('y', DataType.FLOAT, ['batch', 4])],
    value_info: [info('h', DataType.FLOAT, ['batch', 4]), info('a', DataType.FLOAT)],
  });
}

/** One initializer of each element type, in the field ONNX exporters put it in; each is a graph output. */
function dtypesModel(): ModelProto {
  const ts: TensorProto[] = [
    tensor('f16', DataType.FLOAT16, [2], { int32_data: [15360, 0] }),
    tensor('bf16', DataType.BFLOAT16, [2], { raw_data: Uint8Array.from([0x80, 0x3f, 0, 0]) }),
    tensor('i8', DataType.INT8, [2], { int32_data: [-1, 5] }),
    tensor('u8', DataType.UINT8, [3], { raw_data: Uint8Array.from([1, 2, 255]) }),
    tensor('b', DataType.BOOL, [2], { int32_data: [1, 0] }),
    tensor('i16', DataType.INT16, [1], { int32_data: [-300] }),
    tensor('u16', DataType.UINT16, [1], { int32_data: [65535] }),
    tensor('i32', DataType.INT32, [2], { int32_data: [-7, 2147483647] }),
    tensor('i64', DataType.INT64, [2], { int64_data: [L(-5), L('9223372036854775807')] }),
    tensor('u32', DataType.UINT32, [1], { uint64_data: [L(4294967295)] }),
    tensor('u64', DataType.UINT64, [1], { uint64_data: [Long.fromString('18446744073709551615', true)] }),
    tensor('f64', DataType.DOUBLE, [2], { double_data: [Math.PI, -0] }),
    tensor('str', DataType.STRING, [2], { string_data: [utf8('a'), utf8('bç')] }),
    tensor('i4', DataType.INT4, [3], { raw_data: Uint8Array.from([0x21, 0x03]) }),
    tensor('f8', DataType.FLOAT8E4M3FN, [2], { raw_data: Uint8Array.from([0x38, 0xb8]) }),
    tensor('c64', DataType.COMPLEX64, [1], { raw_data: floats([1, -1]) }),
    tensor('scalar', DataType.FLOAT, [], { float_data: [1] }),
    tensor('empty', DataType.FLOAT, [0, 3]),
  ];
  const constant = node('Constant', [], ['k'], 'const', [{ name: 'value', type: AttributeType.TENSOR, t: tensor('', DataType.INT64, [2], { int64_data: [L(1), L(-1)] }) }]);
  return model({
    name: 'dtypes',
    node: [constant, node('Cast', ['i8'], ['i8_as_f'], 'cast', [{ name: 'to', type: AttributeType.INT, i: L(1) }])],
    initializer: ts,
    output: [...ts.map((t) => info(t.name!, t.data_type!, (t.dims ?? []).map((d) => Long.fromValue(d).toNumber()))), info('k', DataType.INT64, [2]), info('i8_as_f', DataType.FLOAT, [2])],
  });
}

/** If and Loop with subgraphs that read outer values, a nested If, and a subgraph initializer that shadows an outer name. */
function controlFlowModel(): ModelProto {
  const innerIf = node('If', ['cond'], ['e2'], 'inner_if', [
    graphAttr('then_branch', { name: 'inner_then', node: [node('Mul', ['x', 'one'], ['it'])], output: [info('it', DataType.FLOAT, [2])] }),
    graphAttr('else_branch', { name: 'inner_else', node: [node('Neg', ['x'], ['ie'])], output: [info('ie', DataType.FLOAT, [2])] }),
  ]);
  const ifNode = node('If', ['cond'], ['r'], 'if', [
    graphAttr('then_branch', { name: 'then', node: [node('Add', ['x', 'one'], ['t_out'])], output: [info('t_out', DataType.FLOAT, [2])] }),
    graphAttr('else_branch', {
      name: 'else',
      node: [innerIf, node('Add', ['e2', 'one'], ['e_out'])],
      initializer: [tensor('one', DataType.FLOAT, [2], { float_data: [2, 2] })], // shadows the outer 'one'
      output: [info('e_out', DataType.FLOAT, [2])],
    }),
  ]);
  const loop = node('Loop', ['', 'cond', 'x'], ['loop_out'], 'loop', [
    graphAttr('body', {
      name: 'body',
      node: [node('Add', ['v', 'one'], ['v2']), node('Identity', ['cond_in'], ['cond_out'])],
      input: [info('iter', DataType.INT64, []), info('cond_in', DataType.BOOL, []), info('v', DataType.FLOAT, [2])],
      output: [info('cond_out', DataType.BOOL, []), info('v2', DataType.FLOAT, [2])],
    }),
  ]);
  return model({
    name: 'control_flow',
    node: [ifNode, loop, node('Add', ['r', 'loop_out'], ['y'], 'sum')],
    initializer: [tensor('one', DataType.FLOAT, [2], { float_data: [1, 1] })],
    input: [info('cond', DataType.BOOL, []), info('x', DataType.FLOAT, [2])],
    output: [info('y', DataType.FLOAT, [2])],
  });
}

function externalSeed(): Seed {
  const ext = (location: string, offset?: number, length?: number): Partial<TensorProto> => ({
    data_location: 1,
    external_data: [
      entry('location', location),
      ...(offset === undefined ? [] : [entry('offset', String(offset))]),
      ...(length === undefined ? [] : [entry('length', String(length))]),
    ],
  });
  const proto = model({
    name: 'external',
    node: [node('MatMul', ['x', 'W'], ['h'], 'mm'), node('Add', ['h', 'B'], ['y'], 'add'), node('Mul', ['C', 'D'], ['z'], 'mul')],
    initializer: [
      tensor('W', DataType.FLOAT, [4, 4], ext('data.bin', 0, 64)),
      tensor('B', DataType.FLOAT, [4], ext('data.bin', 64, 16)),
      tensor('C', DataType.FLOAT, [2], ext('sub/more.bin')),
      tensor('D', DataType.FLOAT, [2], ext('link.bin', 8, 8)),
    ],
    input: [info('x', DataType.FLOAT, [1, 4])],
    output: [info('y', DataType.FLOAT, [1, 4]), info('z', DataType.FLOAT, [2])],
  });
  return {
    name: 'external',
    weight: 16,
    model: encode(proto),
    files: {
      'data.bin': { kind: 'bytes', bytes: floats(Array.from({ length: 20 }, (_, i) => i - 10)) },
      'sub/more.bin': { kind: 'bytes', bytes: floats([3, 4]) },
      'link.bin': { kind: 'symlink', target: 'data.bin' },
    },
  };
}

/**
 * The shape arithmetic exporters emit around attention and GroupNorm (Shape → Gather → Concat → Reshape, Range,
 * ConstantOfShape, Expand, Slice, Split), and the contrib ops fusions produce: food for inference and the evaluator.
 */
function shapeChainModel(): ModelProto {
  const i64 = (name: string, values: number[], dims = [values.length]) => tensor(name, DataType.INT64, dims, { int64_data: values.map((v) => L(v)) });
  const p = model(
    {
      name: 'shape_chain',
      node: [
        node('Shape', ['x'], ['shape'], 'shape'),
        node('Gather', ['shape', 'zero'], ['batch'], 'gather_batch', [{ name: 'axis', type: AttributeType.INT, i: L(0) }]),
        node('Unsqueeze', ['batch', 'axes0'], ['batch1'], 'unsqueeze'),
        node('Concat', ['batch1', 'groups', 'minus1'], ['gn_shape'], 'concat', [{ name: 'axis', type: AttributeType.INT, i: L(0) }]),
        node('Reshape', ['x', 'gn_shape'], ['grouped'], 'reshape'),
        node('InstanceNormalization', ['grouped', 'gn_scale', 'gn_bias'], ['normed'], 'instnorm'),
        node('Reshape', ['normed', 'shape'], ['back'], 'reshape_back'),
        node('Slice', ['shape', 'two', 'four', 'zero'], ['hw'], 'slice_hw'),
        node('ReduceProd', ['hw'], ['tokens'], 'tokens', [{ name: 'keepdims', type: AttributeType.INT, i: L(1) }]),
        node('Concat', ['batch1', 'tokens', 'minus1'], ['seq_shape'], 'concat_seq', [{ name: 'axis', type: AttributeType.INT, i: L(0) }]),
        node('Transpose', ['back'], ['nhwc'], 'to_nhwc', [{ name: 'perm', type: AttributeType.INTS, ints: [0, 2, 3, 1].map((v) => L(v)) }]),
        node('Reshape', ['nhwc', 'seq_shape'], ['seq'], 'to_seq'),
        node('Split', ['seq', 'split_sizes'], ['q', 'k'], 'split', [{ name: 'axis', type: AttributeType.INT, i: L(2) }]),
        node('MultiHeadAttention', ['q', 'k', 'k'], ['attn'], 'mha', [{ name: 'num_heads', type: AttributeType.INT, i: L(1) }]),
        node('ConstantOfShape', ['seq_shape'], ['filled'], 'fill'),
        node('Range', ['zero_s', 'count', 'one_s'], ['positions'], 'range'),
        node('Expand', ['gn_scale', 'seq_shape'], ['expanded'], 'expand'),
        node('Tile', ['x', 'reps'], ['tiled'], 'tile'),
        node('GroupNorm', ['nhwc', 'gamma', 'beta'], ['gn'], 'groupnorm', [
          { name: 'groups', type: AttributeType.INT, i: L(2) },
          { name: 'epsilon', type: AttributeType.FLOAT, f: 1e-5 },
          { name: 'activation', type: AttributeType.INT, i: L(1) },
        ]),
      ],
      initializer: [
        i64('zero', [0], []), i64('axes0', [0]), i64('groups', [2]), i64('minus1', [-1]), i64('two', [2]), i64('four', [4]),
        i64('split_sizes', [2, 2]), i64('zero_s', [0], []), i64('count', [6], []), i64('one_s', [1], []), i64('reps', [1, 1, 2, 1]),
        tensor('gn_scale', DataType.FLOAT, [2], { float_data: [1, 1] }), tensor('gn_bias', DataType.FLOAT, [2], { float_data: [0, 0] }),
        tensor('gamma', DataType.FLOAT, [4], { float_data: [1, 1, 1, 1] }), tensor('beta', DataType.FLOAT, [4], { float_data: [0, 0, 0, 0] }),
      ],
      input: [info('x', DataType.FLOAT, ['batch', 4, 'height', 'width'])],
      output: [info('attn', DataType.FLOAT), info('filled', DataType.FLOAT), info('positions', DataType.INT64), info('expanded', DataType.FLOAT), info('tiled', DataType.FLOAT), info('gn', DataType.FLOAT)],
    },
    8,
    17,
  );
  for (const n of p.graph!.node!) if (n.op_type === 'MultiHeadAttention' || n.op_type === 'GroupNorm') n.domain = 'com.microsoft';
  p.opset_import!.push({ domain: 'com.microsoft', version: L(1) });
  return p;
}

/** IR 3: initializers are also graph inputs; plus a sparse initializer, a function, an omitted output, training info. */
function legacyModel(): ModelProto {
  const p = model(
    {
      name: 'legacy',
      node: [
        node('Gemm', ['x', 'W', ''], ['g'], 'gemm', [{ name: 'transB', type: AttributeType.INT, i: L(1) }]),
        node('Dropout', ['g'], ['d', ''], 'drop'),
        node('MyFn', ['d'], ['y'], 'call'),
      ],
      initializer: [tensor('W', DataType.FLOAT, [2, 2], { float_data: [1, 0, 0, 1] })],
      sparse_initializer: [
        { values: tensor('S', DataType.FLOAT, [2], { float_data: [1, 2] }), indices: tensor('S_idx', DataType.INT64, [2], { int64_data: [L(0), L(3)] }), dims: [L(4)] },
      ],
      input: [info('x', DataType.FLOAT, ['n', 2]), info('W', DataType.FLOAT, [2, 2]), { name: 'seq', type: { sequence_type: { elem_type: { tensor_type: { elem_type: DataType.FLOAT } } } } }],
      output: [info('y', DataType.FLOAT, ['n', 2]), info('S', DataType.FLOAT, [4])],
      doc_string: 'legacy seed',
    },
    3,
    9,
  );
  p.opset_import!.push({ domain: 'local', version: L(1) }, { domain: 'com.microsoft', version: L(1) });
  p.functions = [{ name: 'MyFn', domain: 'local', input: ['a'], output: ['b'], node: [node('Identity', ['a'], ['b'])], opset_import: [{ domain: '', version: L(9) }] }];
  p.graph!.node![2]!.domain = 'local';
  p.metadata_props = [entry('author', 'fuzz')];
  p.training_info = [{ algorithm: { name: 'train' } }];
  return p;
}
