/**
 * The graph's structural invariants, checked from scratch: what every pass must leave true. The engine runs this
 * after each pass; a problem here is a bug in the pass that ran last, so the messages name nodes and values, and
 * are stable (no positions or counters) so that problems already present in the input can be told apart.
 *
 * Rules:
 *  1. Node names are unique (empty names are allowed, as in ONNX).
 *  2. Value names are unique, and the graph's name table maps each name to the value that bears it.
 *  3. Each node's outputs name the node as their producer.
 *  4. Every input a node reads is defined: produced by a node in the graph, a graph input, or an initializer
 *     (a value whose producer was removed from the graph is dangling).
 *  5. Nodes are in topological order: a producer comes before each node that reads its output.
 *  6. Every graph output is produced by a node in the graph, or is a graph input or initializer.
 *  7. Use lists agree with node inputs: each (node, slot) reading a value is in the value's uses once, and each use
 *     is such a reading by a node still in the graph.
 */
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Value } from './value.js';

/** At most this many problems are listed; the rest are counted. */
const MAX_PROBLEMS = 50;

export function checkGraph(graph: Graph): string[] {
  const problems = new ProblemList();
  const position = new Map<Node, number>();
  const nodeNames = new Map<string, Node>();
  const valueOwners = new Map<string, Value>();
  const reads = new Map<Value, number>();
  const nodes = graph.nodes();
  nodes.forEach((n, i) => position.set(n, i));

  // `what` is a function: messages are built only for problems, not for every value of a healthy graph.
  const claimName = (v: Value, what: () => string): void => {
    const other = valueOwners.get(v.name);
    if (other && other !== v) problems.add(`value name '${v.name}' is used by two values (${what()})`);
    valueOwners.set(v.name, v);
    if (graph.value(v.name) !== v) problems.add(`the graph's name table does not map '${v.name}' to the value of that name (${what()})`);
  };

  for (const v of graph.inputs) claimName(v, () => 'graph input');
  for (const v of graph.initializers()) {
    claimName(v, () => 'initializer');
    if (!v.initializer) problems.add(`initializer '${v.name}' has no tensor`);
  }

  for (const [i, node] of nodes.entries()) {
    if (node.graph !== graph) problems.add(`${node} is listed in the graph but does not belong to it`);
    if (node.name) {
      const other = nodeNames.get(node.name);
      if (other && other !== node) problems.add(`node name '${node.name}' is used by two nodes (${other.opType} and ${node.opType})`);
      nodeNames.set(node.name, node);
    }
    for (const out of node.outputs) {
      if (out.producer !== node) problems.add(`${node} lists output '${out.name}', whose producer is ${out.producer ?? 'nothing'}`);
      claimName(out, () => `output of ${node}`);
    }
    const check = (v: Value, slot: number): void => {
      const what = (): string => (slot >= 0 ? `input ${slot} of ${node}` : `a subgraph of ${node}`);
      if (!isDefined(graph, v, position)) {
        problems.add(`${what()} reads '${v.name}', which no node in the graph, graph input or initializer defines (dangling)`);
      } else if (v.producer && position.get(v.producer)! >= i) {
        problems.add(`${what()} reads '${v.name}' before its producer ${v.producer} (nodes are not in topological order)`);
      }
      reads.set(v, (reads.get(v) ?? 0) + 1);
    };
    node.inputs.forEach((v, slot) => v && check(v, slot));
    node.implicitInputs.forEach((v) => check(v, -1));
  }

  // Use lists: each use must be a distinct reading by a node in the graph, and there must be as many uses as
  // readings; together that makes the use list exactly the set of readings.
  for (const v of new Set([...graph.values(), ...reads.keys()])) {
    const uses = v.uses();
    const seen = uses.length > 1 ? new Set<string>() : undefined;
    for (const use of uses) {
      const at = position.get(use.node);
      if (at === undefined) {
        problems.add(`the use list of '${v.name}' names ${use.node}, which is not in the graph`);
        continue;
      }
      if (seen) {
        const key = `${at}:${use.index}`;
        if (seen.has(key)) problems.add(`the use list of '${v.name}' records ${use.node} at slot ${use.index} twice`);
        seen.add(key);
      }
      const readsIt = use.index >= 0 ? use.node.inputs[use.index] === v : use.node.implicitInputs.includes(v);
      if (!readsIt) problems.add(`the use list of '${v.name}' says ${use.node} reads it at slot ${use.index}, but it does not`);
    }
    const expected = reads.get(v) ?? 0;
    if (v.useCount !== expected) problems.add(`the use list of '${v.name}' has ${v.useCount} uses, but ${expected} node inputs read it`);
  }

  for (const out of graph.outputs) {
    if (!isDefined(graph, out, position)) problems.add(`graph output '${out.name}' is not produced by any node in the graph`);
    else if (graph.value(out.name) !== out) problems.add(`graph output '${out.name}' is not in the graph's name table`);
  }
  return problems.list();
}

function isDefined(graph: Graph, v: Value, position: ReadonlyMap<Node, number>): boolean {
  if (v.producer) return position.has(v.producer);
  if (v.graph !== graph) return false;
  return v.isGraphInput || (v.initializer !== undefined && graph.initializer(v.name) === v) || v.sparseInitializer !== undefined;
}

class ProblemList {
  private readonly items: string[] = [];
  private readonly seen = new Set<string>();
  private extra = 0;

  add(message: string): void {
    if (this.seen.has(message)) return;
    this.seen.add(message);
    if (this.items.length < MAX_PROBLEMS) this.items.push(message);
    else this.extra++;
  }

  list(): string[] {
    return this.extra ? [...this.items, `... and ${this.extra} more problems`] : [...this.items];
  }
}
