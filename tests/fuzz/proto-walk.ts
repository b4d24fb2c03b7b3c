/** Finding the parts of a decoded ModelProto a structure mutator may change: graphs, nodes, tensors, value infos. */
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../src/onnx/types.js';

export interface GraphRef {
  graph: GraphProto;
  depth: number;
}

export interface NodeRef {
  node: NodeProto;
  graph: GraphProto;
}

function subgraphsOf(a: AttributeProto): GraphProto[] {
  return [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
}

/** The main graph and every subgraph below it (through node attributes), with their nesting depth. */
export function graphsOf(m: ModelProto): GraphRef[] {
  const out: GraphRef[] = [];
  const visit = (g: GraphProto, depth: number): void => {
    out.push({ graph: g, depth });
    if (depth > 50) return;
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) for (const s of subgraphsOf(a)) visit(s, depth + 1);
  };
  if (m.graph) visit(m.graph, 0);
  return out;
}

export function nodesOf(m: ModelProto): NodeRef[] {
  return graphsOf(m).flatMap(({ graph }) => (graph.node ?? []).map((node) => ({ node, graph })));
}

/** Every TensorProto: initializers, sparse values and indices, and attribute tensors. */
export function tensorsOf(m: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  for (const { graph } of graphsOf(m)) {
    out.push(...(graph.initializer ?? []));
    for (const s of graph.sparse_initializer ?? []) out.push(...[s.values, s.indices].filter((t): t is TensorProto => t !== undefined));
    for (const n of graph.node ?? []) for (const a of n.attribute ?? []) out.push(...(a.t ? [a.t] : []), ...(a.tensors ?? []));
  }
  return out;
}

export function initializersOf(m: ModelProto): TensorProto[] {
  return graphsOf(m).flatMap(({ graph }) => graph.initializer ?? []);
}

export function valueInfosOf(m: ModelProto): ValueInfoProto[] {
  return graphsOf(m).flatMap(({ graph }) => [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.value_info ?? [])]);
}

/** Names a graph defines: inputs, initializers, node outputs. */
export function definedNames(g: GraphProto): string[] {
  return [
    ...(g.input ?? []).map((v) => v.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ...(g.node ?? []).flatMap((n) => n.output ?? []),
  ].filter((n) => n !== '');
}
