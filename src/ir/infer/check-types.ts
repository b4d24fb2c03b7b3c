/**
 * The after-pass check: does every recorded output type still follow from the node's inputs? Inference runs over a
 * scratch copy of the types (the graph is not changed); recorded types are what each node's readers see.
 */
import type { Graph } from '../graph.js';
import { analyzeTypes } from './infer.js';

/** Problems, one line each: outputs whose recorded type contradicts inference, and inputs that cannot go together. */
export function checkTypes(graph: Graph): string[] {
  const { report } = analyzeTypes(graph);
  return report.issues.map((i) => `${i.node}: ${i.message}`);
}
