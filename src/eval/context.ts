/** What an operator evaluation sees: the node (attributes), the opset it is read at, and the size cap. */
import type { Node } from '../ir/node.js';
import type { DataType } from '../onnx/dtype.js';
import { byteSize, refuse, type HostTensor } from './host-tensor.js';

export interface EvalContext {
  readonly node: Node;
  /** Default-domain opset version: attributes became inputs at some versions (Unsqueeze 13, Slice 10...). */
  readonly opset: number;
  /** The largest result, in bytes, worth computing: anything larger is refused before it is allocated. */
  readonly maxBytes: number;
}

/** Evaluates one operator; inputs are undefined where omitted (optional inputs). */
export type OpEvaluator = (inputs: readonly (HostTensor | undefined)[], ctx: EvalContext) => HostTensor[];

/** Refuses, before allocating, a result over the cap. */
export function checkSize(ctx: EvalContext, dtype: DataType, count: number): void {
  const bytes = byteSize(dtype, count);
  if (bytes > ctx.maxBytes) refuse(`the result would take ${bytes} bytes, over the ${ctx.maxBytes}-byte cap`);
}

export function required(inputs: readonly (HostTensor | undefined)[], i: number, ctx: EvalContext): HostTensor {
  const t = inputs[i];
  if (!t) refuse(`${ctx.node.opType} input ${i} is missing`);
  return t;
}
