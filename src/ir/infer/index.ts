/**
 * Type and shape inference for the graph IR. `inferTypes` fills `value.type` for every value it can; symbolic dims
 * stay symbolic unless `dims` names them. Passes ask `shapeOf` / `dtypeOf`, which throw naming the value, and the
 * pass framework runs `checkTypes` after each pass.
 */
export { inferTypes, analyzeTypes, type InferOptions } from './infer.js';
export type { InferenceIssue, InferenceReport } from './engine.js';
export type { KnownTensor } from './rule.js';
export { shapeOf, dtypeOf, staticShapeOf } from './accessors.js';
export { checkTypes } from './check-types.js';
export { substituteDim, sameDim } from './dim-expr.js';
