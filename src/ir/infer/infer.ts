/** The two ways to run inference: recording types on the values, or into a map that leaves the graph as it is. */
import type { Graph } from '../graph.js';
import type { TensorType, Value } from '../value.js';
import { walkGraph, type InferenceReport, type TypeStore } from './engine.js';

export interface InferOptions {
  /** Sizes for symbolic dims of the graph inputs ({ batch: 2, height: 128 }); those dims become numbers. */
  dims?: Readonly<Record<string, number>>;
}

const onValues: TypeStore = {
  get: (v: Value) => v.type,
  set: (v: Value, t) => {
    v.type = t;
  },
};

/**
 * Infers element types and shapes, node by node in topological order, and records them on the values. Recorded
 * types (value_info) are kept unless inference knows more; a contradiction is reported, not thrown.
 */
export function inferTypes(graph: Graph, options: InferOptions = {}): InferenceReport {
  return walkGraph(graph, onValues, { dims: options.dims });
}

/**
 * Inference that leaves the graph as it is: types go to a map, read back through `typeOf` (recorded types where
 * inference adds nothing). For reports that fix dims without specializing the model, and for checking.
 */
export function analyzeTypes(graph: Graph, options: InferOptions = {}): { report: InferenceReport; typeOf(v: Value): TensorType | undefined } {
  const types = new Map<Value, TensorType>();
  const typeOf = (v: Value) => (types.has(v) ? types.get(v) : v.type);
  const report = walkGraph(graph, { get: typeOf, set: (v, t) => void types.set(v, t) }, { dims: options.dims });
  return { report, typeOf };
}
