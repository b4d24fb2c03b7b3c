/**
 * Scalar factors in a graph: a Mul or Div by a one-element tensor whose value is known, either a constant (an
 * initializer or Constant node) or computed from shapes (the TorchScript exports' 1/sqrt(sqrt(head_size)), which
 * inference evaluates). Attention fusion multiplies these into the MultiHeadAttention `scale`.
 */
import type { KnownTensor } from '../../src/ir/infer/index.js';
import { knownFromTensor } from '../../src/ir/infer/known-values.js';
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';

export type KnownValues = ReadonlyMap<Value, KnownTensor>;

/** Inference records an initializer's contents only when a rule asked for them; constants are read here too. */
function knownOf(v: Value, known: KnownValues): KnownTensor | undefined {
  const k = known.get(v);
  if (k) return k;
  return v.isConstant && v.initializer ? knownFromTensor(v.initializer) : undefined;
}

/** The value of a one-element tensor, and its rank; undefined when it has more elements or is not known. */
export function scalarOf(v: Value | undefined, known: KnownValues): { value: number; rank: number } | undefined {
  if (!v) return undefined;
  const k = knownOf(v, known);
  if (!k || k.data.length !== 1) return undefined;
  const x = k.data[0];
  return typeof x === 'number' && Number.isFinite(x) ? { value: x, rank: k.dims.length } : undefined;
}

/**
 * When `node` multiplies its other input by a known scalar (Mul by c, or Div by c), that input and the factor.
 * The scalar's rank must not exceed the other input's, so the op changes values only, not the shape.
 */
export function scalarFactor(node: Node, known: KnownValues): { input: Value; factor: number } | undefined {
  const [a, b] = node.inputs;
  if (!a || !b || node.inputs.length !== 2) return undefined;
  const fits = (s: { rank: number }, other: Value) => other.rank === undefined || s.rank <= other.rank;
  if (node.is('Mul')) {
    const sa = scalarOf(a, known);
    const sb = scalarOf(b, known);
    if (sb && !sa && fits(sb, a)) return { input: a, factor: sb.value };
    if (sa && !sb && fits(sa, b)) return { input: b, factor: sa.value };
    return undefined;
  }
  if (node.is('Div')) {
    const sb = scalarOf(b, known);
    if (sb && sb.value !== 0 && !scalarOf(a, known) && fits(sb, a)) return { input: a, factor: 1 / sb.value };
  }
  return undefined;
}

/** Ops that pass a tensor through unchanged: Identity, and a Cast to the type it already has. */
export function passesThrough(node: Node): boolean {
  if (node.is('Identity')) return node.inputs.length === 1;
  if (node.is('Cast')) {
    const from = node.input(0)?.dtype;
    return from !== undefined && node.attrInt('to') === from;
  }
  return false;
}
