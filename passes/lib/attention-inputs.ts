/**
 * Which tensors an unfused attention reads as Q, K and V, found from its Softmax without requiring the whole
 * pattern to be one MultiHeadAttention can take: the scores MatMul behind the Softmax (through scalar scales,
 * masks and reshapes), the MatMul after it, and behind each of their operands the first MatMul (or MatMul + Add)
 * through layout ops. This covers the UNet's 4-D form and the CLIP text encoders' 3-D (batch·heads) form with its
 * causal mask. What it returns are candidates: whether each is a projection with constant weights is checked after.
 */
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';
import { passesThrough } from './scalars.js';

const MAX_DEPTH = 12;

/** Ops a Q, K or V tensor goes through between its projection and the attention MatMuls, with their data inputs. */
function dataInputs(node: Node): (Value | undefined)[] | undefined {
  if (node.is('Transpose') || node.is('Reshape') || node.is('Squeeze') || node.is('Unsqueeze') || node.is('Div')) return [node.input(0)];
  if (node.is('Mul')) return [node.input(0), node.input(1)];
  if (passesThrough(node)) return [node.input(0)];
  return undefined;
}

function isProjectionOutput(v: Value): boolean {
  const p = v.producer;
  return !!p && (p.is('MatMul') || (p.is('Add') && p.inputs.some((x) => x?.producer?.is('MatMul'))));
}

/** The first MatMul (or MatMul + Add) result behind `v` through layout ops and scalings. */
function projectionBehind(v: Value | undefined, depth = 0): Value | undefined {
  if (!v || depth > MAX_DEPTH) return undefined;
  if (isProjectionOutput(v)) return v;
  const inputs = v.producer && dataInputs(v.producer);
  for (const x of inputs ?? []) {
    const found = projectionBehind(x, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The Q·Kᵀ MatMul behind a Softmax's input: through scalings, additive masks, reshapes and casts. */
function scoresMatMul(v: Value | undefined, depth = 0): Node | undefined {
  const p = v?.producer;
  if (!p || depth > MAX_DEPTH) return undefined;
  if (p.is('MatMul')) return p;
  const next = p.is('Add') ? [p.input(0), p.input(1)] : dataInputs(p);
  for (const x of next ?? []) {
    const found = scoresMatMul(x, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The MatMul reading the probabilities (through reshapes and casts) as its first operand. */
function contextMatMul(softmax: Node): Node | undefined {
  let at = softmax.output(0);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const uses = at.uses();
    if (uses.length !== 1) return undefined;
    const { node, index } = uses[0]!;
    if (node.is('MatMul')) return index === 0 ? node : undefined;
    if (!(node.is('Reshape') || passesThrough(node)) || index !== 0) return undefined;
    at = node.output(0);
  }
  return undefined;
}

export interface AttentionInputs {
  query: Value | undefined;
  key: Value;
  value: Value;
}

export function attentionInputs(softmax: Node): AttentionInputs | { reason: string } {
  const scores = scoresMatMul(softmax.input(0));
  if (!scores) return { reason: 'no Q·Kᵀ MatMul behind it' };
  const context = contextMatMul(softmax);
  if (!context) return { reason: 'its probabilities are not read by one MatMul with V' };
  const key = projectionBehind(scores.input(1));
  if (!key) return { reason: `K (${scores.input(1)}) does not come from a MatMul through layout ops` };
  const value = projectionBehind(context.input(1));
  if (!value) return { reason: `V (${context.input(1)}) does not come from a MatMul through layout ops` };
  return { query: projectionBehind(scores.input(0)), key, value };
}
