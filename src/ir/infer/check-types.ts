/**
 * The after-pass check: does every recorded output type still follow from the node's inputs? Inference runs over a
 * scratch copy of the types (the graph is not changed); recorded types are what each node's readers see.
 */
import type { Graph } from '../graph.js';
import type { TensorType, Value } from '../value.js';
import { walkGraph } from './engine.js';

/** Problems, one line each: outputs whose recorded type contradicts inference, and inputs that cannot go together. */
export function checkTypes(graph: Graph): string[] {
  const scratch = new Map<Value, TensorType>();
  const report = walkGraph(graph, {
    get: (v) => (scratch.has(v) ? scratch.get(v) : v.type),
    set: (v, t) => {
      scratch.set(v, t);
    },
  });
  return report.issues.map((i) => `${i.node}: ${i.message}`);
}
