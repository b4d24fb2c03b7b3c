/**
 * Structure-aware mutators: they change a decoded ModelProto (the JS object the codec yields) in ways a hostile or
 * broken exporter could, and the fuzzer encodes it again. Each returns a short description of what it did, or
 * undefined when the model has nothing it applies to. Files beside the model (external data) are theirs to change.
 */
import Long from 'long';
import { AttributeType, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type TypeProto } from '../../src/onnx/types.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { Rng } from './rng.js';
import type { FileSpec } from './seeds.js';
import { definedNames, graphsOf, initializersOf, nodesOf, tensorsOf, valueInfosOf } from './proto-walk.js';

export interface StructureContext {
  rng: Rng;
  files: Record<string, FileSpec>;
}

export type StructureMutator = (m: ModelProto, cx: StructureContext) => string | undefined;

/** int64 values at the edges: sign, 2^31, 2^32, 2^53 (the last exact double), 2^62, 2^63. */
export const EXTREME_INT64 = [
  '0', '1', '-1', '-2', '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740991', '9007199254740992',
  '9007199254740993', '4611686018427387904', '9223372036854775807', '-9223372036854775808', '-9007199254740993',
] as const;

const ODD_DATA_TYPES = [0, 8, 14, 15, 21, 22, 23, 25, 27, 28, 29, 30, 31, 64, 255, -1, 2147483647, -2147483648];

/** Decimal strings an external_data offset or length must refuse or handle. */
const ODD_SIZES = ['', '-1', '1e3', ' 8', '08', '0x10', '4096', '1000000', '9007199254740991', '9007199254740993', '9223372036854775807', '18446744073709551615', '99999999999999999999999', 'NaN', '٣'];

const LOCATIONS = [
  'data.bin', '../data.bin', '/etc/hostname', 'C:\\data.bin', 'c:data.bin', '\\\\server\\share\\x', 'sub/../data.bin', 'sub/../../x', '',
  '.', './', 'sub', 'missing.bin', 'data.bin/x', 'a\u0000b', 'link-out', 'loop', 'ok/../../../etc/passwd', 'x'.repeat(300),
  'dir-as-file', 'données.bin', '..\\data.bin', 'sub//more.bin', '/', 'NUL', '~/.ssh/id_rsa',
];

const big = (s: string): Long => Long.fromString(s);

const pickOr = <T>(cx: StructureContext, items: readonly T[]): T | undefined => (items.length ? cx.rng.pick(items) : undefined);

function tensorLabel(t: TensorProto): string {
  return `tensor '${t.name ?? ''}'`;
}

/** A tensor's raw_data when it has some: protobufjs answers an absent bytes field with a shared empty array. */
function rawOf(t: TensorProto): Uint8Array | undefined {
  return t.raw_data instanceof Uint8Array && t.raw_data.length ? t.raw_data : undefined;
}

function elementCount(t: TensorProto): number {
  return (t.dims ?? []).reduce<number>((a, d) => a * Long.fromValue(d).toNumber(), 1);
}

// ---- tensors --------------------------------------------------------------------------------------------------------

const hugeDim: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const value = cx.rng.pick(EXTREME_INT64);
  t.dims ??= [];
  const i = cx.rng.int(t.dims.length + 1);
  if (i === t.dims.length) t.dims.push(big(value));
  else t.dims[i] = big(value);
  return `${tensorLabel(t)} dim ${i} = ${value}`;
};

const manyDims: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const n = cx.rng.pick([64, 1000, 20000]);
  const d = cx.rng.pick(['0', '1', '2', '-1']);
  t.dims = Array.from({ length: n }, () => big(d));
  return `${tensorLabel(t)} gets ${n} dims of ${d}`;
};

const dataType: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const code = cx.rng.chance(0.5) ? cx.rng.pick(ODD_DATA_TYPES) : cx.rng.int(29);
  t.data_type = code;
  return `${tensorLabel(t)} data_type = ${code}`;
};

const rawData: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const have = rawOf(t)?.length ?? 0;
  const choice = cx.rng.int(5);
  if (choice === 0) t.raw_data = (rawOf(t) ?? new Uint8Array()).subarray(0, cx.rng.int(have + 1));
  else if (choice === 1) t.raw_data = cx.rng.bytes(have + cx.rng.range(1, 9));
  else if (choice === 2) t.raw_data = new Uint8Array();
  else if (choice === 3) t.raw_data = cx.rng.bytes(cx.rng.int(64)); // raw_data beside typed fields
  else delete t.raw_data;
  return `${tensorLabel(t)} raw_data ${have} → ${t.raw_data?.length ?? 'absent'} bytes`;
};

const typedData: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const count = Math.max(0, Math.min(elementCount(t), 64));
  const n = cx.rng.pick([0, count, count + 1, Math.max(0, count - 1), 3]);
  const field = cx.rng.pick(['float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'string_data'] as const);
  if (cx.rng.chance(0.5)) delete t.raw_data;
  switch (field) {
    case 'float_data':
      t.float_data = Array.from({ length: n }, () => cx.rng.pick([0, -0, 1.5, NaN, Infinity, -Infinity, 3.4e38]));
      break;
    case 'int32_data':
      t.int32_data = Array.from({ length: n }, () => cx.rng.pick([0, -1, 65535, 65536, 2147483647, -2147483648, 300]));
      break;
    case 'double_data':
      t.double_data = Array.from({ length: n }, () => cx.rng.pick([0, NaN, 1e308, -5e-324]));
      break;
    case 'int64_data':
    case 'uint64_data':
      t[field] = Array.from({ length: n }, () => big(cx.rng.pick(EXTREME_INT64)));
      break;
    case 'string_data':
      t.string_data = Array.from({ length: n }, () => cx.rng.pick([new Uint8Array(), Uint8Array.from([0xff, 0xfe]), cx.rng.bytes(5)]));
      break;
  }
  return `${tensorLabel(t)} ${field} holds ${n} values for ${elementCount(t)} elements`;
};

/** Points a tensor at external data, with entries drawn from hostile and ordinary values, and maybe writes the file. */
const externalize: StructureMutator = (m, cx) => {
  const t = pickOr(cx, cx.rng.chance(0.8) ? initializersOf(m) : tensorsOf(m));
  if (!t) return undefined;
  const rng = cx.rng;
  const location = rng.chance(0.6) ? 'data.bin' : rng.pick(LOCATIONS);
  const raw = rawOf(t);
  const length = raw?.length ?? rng.int(64);
  const fileSize = rng.pick([length, length + 16, Math.max(0, length - 1), 0, 4096]);
  const offset = rng.pick([0, fileSize - length, fileSize, fileSize + 1, 16]);
  const entries = [
    { key: 'location', value: location },
    { key: 'offset', value: rng.chance(0.7) ? String(Math.max(0, offset)) : rng.pick(ODD_SIZES) },
    { key: 'length', value: rng.chance(0.7) ? String(length) : rng.pick(ODD_SIZES) },
  ].filter(() => rng.chance(0.9));
  if (rng.chance(0.1)) entries.push({ key: 'checksum', value: 'abc' });
  if (rng.chance(0.1)) entries.push({ key: 'location', value: rng.pick(LOCATIONS) });
  t.external_data = entries;
  t.data_location = rng.chance(0.9) ? 1 : rng.pick([0, 2, -1, 7]);
  if (rng.chance(0.8)) delete t.raw_data;
  if (location === 'data.bin' && rng.chance(0.85)) {
    const bytes = rng.bytes(Math.max(0, fileSize));
    if (raw) bytes.set(raw.subarray(0, Math.max(0, Math.min(raw.length, bytes.length - Math.max(0, offset)))), Math.min(Math.max(0, offset), bytes.length));
    cx.files['data.bin'] = { kind: 'bytes', bytes };
  }
  return `${tensorLabel(t)} → external ${JSON.stringify(entries)} (data_location ${t.data_location})`;
};

const externalEntries: StructureMutator = (m, cx) => {
  const ext = tensorsOf(m).filter((t) => t.external_data?.length);
  const t = pickOr(cx, ext);
  if (!t) return undefined;
  const entries = t.external_data!;
  const e = cx.rng.pick(entries);
  const choice = cx.rng.int(5);
  if (choice === 0) e.value = e.key === 'location' ? cx.rng.pick(LOCATIONS) : cx.rng.pick(ODD_SIZES);
  else if (choice === 1) entries.splice(entries.indexOf(e), 1);
  else if (choice === 2) entries.push({ ...e, value: e.key === 'location' ? cx.rng.pick(LOCATIONS) : cx.rng.pick(ODD_SIZES) });
  else if (choice === 3) e.key = cx.rng.pick(['', 'Location', 'offset ', 'basepath', 'length']);
  else t.data_location = cx.rng.pick([0, 2, -1]);
  return `${tensorLabel(t)} external_data now ${JSON.stringify(entries)}`;
};

/** Changes a file beside the model: shorter, empty, a directory, a symlink out of the directory or into a loop, gone. */
const dataFile: StructureMutator = (_m, cx) => {
  const names = Object.keys(cx.files);
  const name = cx.rng.chance(0.8) && names.length ? cx.rng.pick(names) : cx.rng.pick(['link-out', 'loop', 'dir-as-file', 'data.bin']);
  const old = cx.files[name];
  const rng = cx.rng;
  const choice = rng.int(7);
  let what: string;
  if (choice === 0 && old?.kind === 'bytes') {
    const n = rng.int(old.bytes.length + 1);
    cx.files[name] = { kind: 'bytes', bytes: old.bytes.subarray(0, n) };
    what = `truncated to ${n} bytes`;
  } else if (choice === 1) {
    cx.files[name] = { kind: 'bytes', bytes: new Uint8Array() };
    what = 'emptied';
  } else if (choice === 2) {
    cx.files[name] = { kind: 'dir' };
    what = 'a directory';
  } else if (choice === 3) {
    const target = rng.pick(['/etc/hostname', '..', '../..', '.', '/dev/zero', '/proc/self/mem', '/nonexistent']);
    cx.files[name] = { kind: 'symlink', target };
    what = `a symlink to ${target}`;
  } else if (choice === 4) {
    cx.files[name] = { kind: 'symlink', target: name };
    what = 'a symlink to itself';
  } else if (choice === 5) {
    delete cx.files[name];
    what = 'removed';
  } else {
    cx.files[name] = { kind: 'bytes', bytes: rng.bytes(rng.pick([1, 7, 100, 5000])) };
    what = 'replaced with random bytes';
  }
  return `file '${name}' ${what}`;
};

// ---- graph structure ------------------------------------------------------------------------------------------------

const cycle: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m).filter(({ graph }) => (graph.node?.length ?? 0) > 0))?.graph;
  if (!g) return undefined;
  const nodes = g.node!;
  const k = Math.min(nodes.length, cx.rng.pick([1, 2, 3, 10]));
  const start = cx.rng.int(nodes.length - k + 1);
  const ring = nodes.slice(start, start + k).filter((n) => (n.output ?? []).some((o) => o));
  if (!ring.length) return undefined;
  ring.forEach((n, i) => {
    const from = ring[(i + ring.length - 1) % ring.length]!;
    const out = from.output!.find((o) => o)!;
    n.input = [...(n.input ?? []), out];
  });
  return `cycle through ${ring.length} node(s) from #${start}`;
};

const duplicateName: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const names = definedNames(g);
  if (!names.length) return undefined;
  const name = cx.rng.pick(names);
  const choice = cx.rng.int(5);
  if (choice === 0 && g.node?.length) {
    const n = cx.rng.pick(g.node);
    n.output = [...(n.output ?? []), name];
    return `node '${n.name}' also outputs '${name}'`;
  }
  if (choice === 1 && g.input?.length) {
    g.input.push({ ...cx.rng.pick(g.input) });
    return 'a graph input listed twice';
  }
  if (choice === 2 && g.initializer?.length) {
    const t = cx.rng.pick(g.initializer);
    g.initializer.push({ ...t });
    return `initializer '${t.name}' listed twice`;
  }
  if (choice === 3) {
    g.input = [...(g.input ?? []), { name, type: { tensor_type: { elem_type: 1 } } }];
    return `graph input named like '${name}'`;
  }
  g.output = [...(g.output ?? []), { name }, { name }];
  return `graph output '${name}' listed twice more`;
};

const dangling: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const missing = cx.rng.pick(['nowhere', '', ' ', 'x'.repeat(1000), 'ẞ']);
  const choice = cx.rng.int(3);
  if (choice === 0 && g.node?.length) {
    const n = cx.rng.pick(g.node);
    n.input = [...(n.input ?? []), missing];
    return `node '${n.name}' reads '${missing.slice(0, 20)}'`;
  }
  if (choice === 1) {
    g.output = [...(g.output ?? []), { name: missing }];
    return `graph output '${missing.slice(0, 20)}'`;
  }
  g.node = [...(g.node ?? []), { op_type: 'If', input: [], output: ['if_out'], attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g: { node: [{ op_type: 'Identity', input: [missing], output: ['o'] }], output: [{ name: 'o' }] } }] }];
  return `a subgraph reads '${missing.slice(0, 20)}'`;
};

const emptyNames: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const choice = cx.rng.int(5);
  const n = pickOr(cx, g.node ?? []);
  if (choice === 0 && n) {
    n.op_type = cx.rng.pick(['', 'If', 'Loop', 'Constant', 'Unknown\u0000Op']);
    return `node op_type = '${n.op_type}'`;
  }
  if (choice === 1 && n?.output?.length) {
    n.output[cx.rng.int(n.output.length)] = '';
    return `node '${n.name}' output emptied`;
  }
  if (choice === 2 && g.initializer?.length) {
    cx.rng.pick(g.initializer).name = '';
    return 'initializer name emptied';
  }
  if (choice === 3 && g.input?.length) {
    cx.rng.pick(g.input).name = '';
    return 'graph input name emptied';
  }
  if (n) {
    delete n.name;
    delete n.op_type;
    return 'node name and op_type removed';
  }
  return undefined;
};

const remove: StructureMutator = (m, cx) => {
  const choice = cx.rng.int(6);
  if (choice === 0) {
    delete m.graph;
    return 'graph removed';
  }
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const list = cx.rng.pick(['node', 'initializer', 'input', 'output', 'value_info'] as const);
  const items = g[list] as unknown[] | undefined;
  if (!items?.length) return undefined;
  if (choice === 1) {
    delete g[list];
    return `all of ${list} removed`;
  }
  const at = cx.rng.int(items.length);
  items.splice(at, 1);
  return `${list} #${at} removed`;
};

const shuffleNodes: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const nodes = g.node ?? [];
  if (nodes.length < 2) return undefined;
  if (cx.rng.chance(0.5)) nodes.reverse();
  else
    for (let i = nodes.length - 1; i > 0; i--) {
      const j = cx.rng.int(i + 1);
      [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
    }
  return `${nodes.length} nodes reordered`;
};

const versions: StructureMutator = (m, cx) => {
  const value = big(cx.rng.pick(EXTREME_INT64));
  const choice = cx.rng.int(4);
  if (choice === 0) m.ir_version = value;
  else if (choice === 1 && m.opset_import?.length) cx.rng.pick(m.opset_import).version = value;
  else if (choice === 2) m.opset_import = [...(m.opset_import ?? []), { domain: '', version: value }, { version: value }];
  else delete m.opset_import;
  return `versions changed (${['ir_version', 'opset version', 'opset duplicated', 'opsets removed'][choice]}, ${value.toString()})`;
};

// ---- value infos and types ------------------------------------------------------------------------------------------

function deepType(depth: number): TypeProto {
  let t: TypeProto = { tensor_type: { elem_type: 1 } };
  for (let i = 0; i < depth; i++) t = i % 2 ? { sequence_type: { elem_type: t } } : { optional_type: { elem_type: t } };
  return t;
}

const valueType: StructureMutator = (m, cx) => {
  const vi = pickOr(cx, valueInfosOf(m));
  if (!vi) return undefined;
  const choice = cx.rng.int(6);
  if (choice === 0) {
    vi.type = { tensor_type: { elem_type: cx.rng.pick(ODD_DATA_TYPES), shape: { dim: [{ dim_value: big(cx.rng.pick(EXTREME_INT64)) }] } } };
  } else if (choice === 1) {
    const dim = vi.type?.tensor_type?.shape?.dim;
    if (!dim?.length) return undefined;
    const d = cx.rng.pick(dim);
    d.dim_value = big(cx.rng.pick(EXTREME_INT64));
    if (cx.rng.chance(0.3)) d.dim_param = 'both';
  } else if (choice === 2) {
    vi.type = deepType(cx.rng.pick([3, 20, 40]));
  } else if (choice === 3) {
    vi.type = cx.rng.pick<TypeProto>([
      { map_type: { key_type: 7, value_type: { tensor_type: { elem_type: 1 } } } },
      { sparse_tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: Long.fromNumber(-5) }] } } },
      { opaque_type: { domain: 'x', name: 'y' } },
      {},
    ]);
  } else if (choice === 4) {
    vi.type = { tensor_type: { elem_type: 1, shape: { dim: Array.from({ length: cx.rng.pick([100, 10000]) }, (_, i) => ({ dim_param: `d${i}` })) } } };
  } else {
    delete vi.type;
  }
  return `value info '${vi.name}' type changed (${choice})`;
};

// ---- attributes and subgraphs ---------------------------------------------------------------------------------------

const attributes: StructureMutator = (m, cx) => {
  const n = pickOr(cx, nodesOf(m))?.node;
  if (!n) return undefined;
  n.attribute ??= [];
  const a = pickOr(cx, n.attribute);
  const choice = cx.rng.int(5);
  if (choice === 0 && a) {
    a.type = cx.rng.pick([0, 1, 5, 10, 99, -1]);
    return `attribute '${a.name}' type = ${a.type}`;
  }
  if (choice === 1 && a) {
    n.attribute.push({ ...a });
    return `attribute '${a.name}' duplicated`;
  }
  if (choice === 2) {
    const graphs = Array.from({ length: cx.rng.pick([0, 1, 3]) }, (): GraphProto => ({ node: [{ op_type: 'Identity', input: ['x'], output: ['y'] }] }));
    n.attribute.push({ name: 'body', type: AttributeType.GRAPHS, graphs });
    return `node '${n.name}' gets ${graphs.length} graphs reading 'x'`;
  }
  if (choice === 3 && a) {
    a.g = { name: 'odd', node: [] };
    return `attribute '${a.name}' gets an empty graph`;
  }
  n.attribute.push({ name: '', type: AttributeType.TENSOR, t: { dims: [big(cx.rng.pick(EXTREME_INT64))], data_type: 1 } });
  return `node '${n.name}' gets a tensor attribute with a hostile dim`;
};

/** A subgraph that reads outer names it may or may not see: a value defined later, a sibling's, its own node's output. */
const scope: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const outer = definedNames(g);
  const read = cx.rng.chance(0.7) && outer.length ? cx.rng.pick(outer) : cx.rng.pick(['then_out', 'if_self', 'iter']);
  const sub: GraphProto = { node: [{ op_type: 'Identity', input: [read], output: ['then_out'] }], output: [{ name: 'then_out' }] };
  const ifNode: NodeProto = { op_type: 'If', name: 'fuzz_if', input: outer.slice(0, 1), output: ['if_self'], attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g: sub }] };
  const nodes = (g.node ??= []);
  nodes.splice(cx.rng.int(nodes.length + 1), 0, ifNode);
  return `an If reading '${read}' inserted`;
};

const sparse: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  if (!g) return undefined;
  const names = definedNames(g);
  const choice = cx.rng.int(4);
  const s =
    choice === 0
      ? {}
      : choice === 1
        ? { values: { name: cx.rng.pick([...names, 'sp']), data_type: 1, dims: [Long.fromNumber(1)], float_data: [1] } }
        : choice === 2
          ? { values: { name: 'sp2', data_type: 1, dims: [big(cx.rng.pick(EXTREME_INT64))] }, dims: [big(cx.rng.pick(EXTREME_INT64))] }
          : { values: { name: '' }, indices: { name: 'i', data_type: 99 } };
  g.sparse_initializer = [...(g.sparse_initializer ?? []), s];
  return `sparse initializer ${JSON.stringify(s, (_k, v: unknown) => (v instanceof Long ? v.toString() : v))}`;
};

// ---- amplification: many of something, to find quadratic work and unbounded allocation ------------------------------

const amplify: StructureMutator = (m, cx) => {
  const g = m.graph;
  if (!g) return undefined;
  const n = cx.rng.pick([1000, 3000, 6000]);
  const choice = cx.rng.int(9);
  const nodes = (g.node ??= []);
  const anyName = definedNames(g)[0] ?? '';
  switch (choice) {
    case 0: // many same-named nodes with omitted outputs: each needs a fresh unique name
      for (let i = 0; i < n; i++) nodes.push({ op_type: 'Dropout', name: 'same', input: [anyName], output: ['', ''] });
      break;
    case 1: // many inputs that are also initializers (IR < 4)
      for (let i = 0; i < n; i++) {
        (g.input ??= []).push({ name: `in${i}` });
        (g.initializer ??= []).push({ name: `in${i}`, data_type: 1, dims: [Long.fromNumber(0)] });
      }
      break;
    case 2: // one node reading one value n times
      nodes.push({ op_type: 'Sum', name: 'wide', input: Array.from({ length: n }, () => anyName), output: ['wide_out'] });
      break;
    case 3: // many nodes, each with a subgraph reading many outer names
      for (let i = 0; i < Math.min(n, 2000); i++) {
        nodes.push({ op_type: 'If', input: [anyName], output: [`if${i}`], attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g: { node: [{ op_type: 'Identity', input: [anyName], output: [`o${i}`] }], output: [{ name: `o${i}` }] } }] });
      }
      break;
    case 4: // a long chain
      for (let i = 0; i < n; i++) nodes.push({ op_type: 'Relu', input: [i ? `c${i - 1}` : anyName], output: [`c${i}`] });
      break;
    case 5: // many value_info entries and graph outputs
      for (let i = 0; i < n; i++) {
        (g.value_info ??= []).push({ name: anyName });
        (g.output ??= []).push({ name: anyName });
      }
      break;
    case 6: // one subgraph reading many distinct outer names
      for (let i = 0; i < n; i++) nodes.push({ op_type: 'Relu', input: [anyName], output: [`outer${i}`] });
      nodes.push({
        op_type: 'If',
        input: [anyName],
        output: ['many_reads'],
        attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g: { node: [{ op_type: 'Sum', input: Array.from({ length: n }, (_, i) => `outer${i}`), output: ['s'] }], output: [{ name: 's' }] } }],
      });
      break;
    case 7: // many subgraph outer reads from one node
      nodes.push({
        op_type: 'If',
        input: [anyName],
        output: ['many_reads'],
        attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g: { node: Array.from({ length: n }, (_, i) => ({ op_type: 'Identity', input: [`outer${i % 50}`, anyName], output: [`r${i}`] })) } }],
      });
      for (let i = 0; i < 50; i++) nodes.push({ op_type: 'Relu', input: [anyName], output: [`outer${i}`] });
      break;
    default: // many metadata entries and attributes
      for (const node of nodes.slice(0, 10)) {
        node.metadata_props = Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: 'v' }));
        node.attribute = [...(node.attribute ?? []), ...Array.from({ length: Math.min(n, 2000) }, (_, i) => ({ name: `a${i}`, type: AttributeType.INT, i: Long.fromNumber(i) }))];
      }
  }
  return `amplified (${choice}) × ${n}`;
};

export const STRUCTURE_MUTATORS: readonly (readonly [name: string, mutate: StructureMutator, weight: number])[] = [
  ['hugeDim', hugeDim, 6],
  ['manyDims', manyDims, 1],
  ['dataType', dataType, 4],
  ['rawData', rawData, 4],
  ['typedData', typedData, 4],
  ['externalize', externalize, 8],
  ['externalEntries', externalEntries, 6],
  ['dataFile', dataFile, 5],
  ['cycle', cycle, 4],
  ['duplicateName', duplicateName, 4],
  ['dangling', dangling, 3],
  ['emptyNames', emptyNames, 3],
  ['remove', remove, 3],
  ['shuffleNodes', shuffleNodes, 3],
  ['versions', versions, 2],
  ['valueType', valueType, 4],
  ['attributes', attributes, 3],
  ['scope', scope, 4],
  ['sparse', sparse, 2],
  ['amplify', amplify, 2],
];
