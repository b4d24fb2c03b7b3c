/**
 * Structure-aware mutators of the graph: cycles, names defined twice or never, emptied and removed fields, node
 * order, versions, value types, attributes and subgraph scopes, sparse initializers, and amplification (thousands
 * of one thing, to expose quadratic work). Each returns what it did, or undefined when it does not apply.
 */
import Long from 'long';
import { AttributeType, type GraphProto, type NodeProto, type TypeProto } from '../../src/onnx/types.js';
import { big, EXTREME_INT64, ODD_DATA_TYPES, pickOr, type MutatorTable, type StructureMutator } from './mutator.js';
import { definedNames, graphsOf, nodesOf, valueInfosOf } from './proto-walk.js';

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

export const GRAPH_MUTATORS: MutatorTable = [
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
