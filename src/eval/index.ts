/**
 * Evaluates ONNX operators on small in-memory tensors: the ops of shape chains and constant subgraphs. A node is
 * evaluated only when every input is known; anything the evaluator cannot do exactly as ONNX Runtime would (an
 * element type it does not compute in, undefined behavior, a result over the size cap) is refused with a reason.
 */
import type { Node } from '../ir/node.js';
import type { EvalContext, OpEvaluator } from './context.js';
import * as e from './elementwise.js';
import * as g from './generate.js';
import { CannotEvaluate, EVAL_DTYPES, type HostTensor } from './host-tensor.js';
import * as m from './movement.js';

export type { EvalContext, OpEvaluator } from './context.js';
export * from './host-tensor.js';

/** Default-domain operators the evaluator computes. */
const EVALUATORS: ReadonlyMap<string, OpEvaluator> = new Map<string, OpEvaluator>([
  ['Identity', m.identity],
  ['Reshape', m.reshape],
  ['Unsqueeze', m.unsqueeze],
  ['Squeeze', m.squeeze],
  ['Flatten', m.flatten],
  ['Transpose', m.transpose],
  ['Concat', m.concat],
  ['Slice', m.slice],
  ['Gather', m.gather],
  ['Expand', m.expand],
  ['Trilu', m.trilu],
  ['Cast', e.cast],
  ['Add', e.add],
  ['Sub', e.sub],
  ['Mul', e.mul],
  ['Div', e.div],
  ['Pow', e.pow],
  ['Min', e.min],
  ['Max', e.max],
  ['Neg', e.neg],
  ['Abs', e.abs],
  ['Sqrt', e.sqrt],
  ['Floor', e.floor],
  ['Ceil', e.ceil],
  ['Reciprocal', e.reciprocal],
  ['Equal', e.equal],
  ['Less', e.less],
  ['Greater', e.greater],
  ['And', e.and],
  ['Or', e.or],
  ['Not', e.not],
  ['Where', e.where],
  ['ConstantOfShape', g.constantOfShape],
  ['Range', g.range],
  ['ReduceProd', g.reduceProd],
  ['ReduceSum', g.reduceSum],
]);

export function canEvaluate(node: Node): boolean {
  return (node.domain === '' || node.domain === 'ai.onnx') && EVALUATORS.has(node.opType);
}

export type EvalOutcome = { outputs: HostTensor[] } | { refused: string };

/** Evaluates `ctx.node` on `inputs`; a refusal says why. */
export function evaluateNode(inputs: readonly (HostTensor | undefined)[], ctx: EvalContext): EvalOutcome {
  const evaluator = canEvaluate(ctx.node) ? EVALUATORS.get(ctx.node.opType) : undefined;
  if (!evaluator) return { refused: `${ctx.node.opType} is not evaluated` };
  try {
    const outputs = evaluator(inputs, ctx);
    for (const out of outputs) if (!EVAL_DTYPES.has(out.dtype)) return { refused: `result type ${out.dtype} is not evaluated` };
    return { outputs };
  } catch (err) {
    if (err instanceof CannotEvaluate) return { refused: err.message };
    throw err;
  }
}
