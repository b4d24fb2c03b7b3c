/**
 * Type and shape inference for the graph IR. `inferTypes` fills `value.type` for every value it can; symbolic dims
 * stay symbolic unless `dims` names them. Passes ask `shapeOf` / `dtypeOf`, which throw naming the value.
 */
import type { Graph } from '../graph.js';
import type { Value } from '../value.js';
import { walkGraph, type InferenceReport, type TypeStore } from './engine.js';

export type { InferenceIssue, InferenceReport } from './engine.js';
export type { KnownTensor } from './rule.js';
export { shapeOf, dtypeOf, staticShapeOf } from './accessors.js';
export { checkTypes } from './check-types.js';

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
