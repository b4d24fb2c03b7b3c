/**
 * The exporters' form of scaled dot-product attention, found from its Softmax:
 *
 *   q (B,S,D) → Reshape (B,S,N,H) → [layout ops] → (B,N,S,H) ─┐
 *   k (B,L,D) → Reshape (B,L,N,H) → [layout ops] → (B,N,H,L) ─┴ MatMul → [×/÷ scalars] → Softmax(last axis) ─┐
 *   v (B,L,D) → Reshape (B,L,N,H) → [layout ops] → (B,N,L,H) ─────────────────────────────────────────────────┴ MatMul
 *   → (B,N,S,H) → Transpose → (B,S,N,H) → Reshape → (B,S,D)
 *
 * Layout ops are Transposes, Identity, no-op Casts and the dynamo exporter's 3-D round trip for Kᵀ; Q and K may
 * each be multiplied (or divided) by scalars, in any position: TorchScript multiplies both by sqrt(1/sqrt(H)),
 * dynamo by a constant 0.42..., older exports divide the scores by sqrt(H). Every scalar must be known (a
 * constant, or a shape computation inference evaluated); their product is the attention's scale. The number of
 * heads is read from the head-split Reshape's target, never from weights.
 */
import { sameDim } from '../../src/ir/infer/dim-expr.js';
import type { Node } from '../../src/ir/node.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { Value } from '../../src/ir/value.js';
import { batchedSwapSource, headSplit, isHeadMerge, permute, sameLabels, transposePerm, type Labels } from './head-layout.js';
import { passesThrough, scalarFactor, type KnownValues } from './scalars.js';

export interface AttentionMatch {
  softmax: Node;
  /** (B, S, D), (B, L, D), (B, L, D): the tensors before the head split. */
  query: Value;
  key: Value;
  value: Value;
  /** The (B, S, D) tensor after the head merge: what MultiHeadAttention's output replaces. */
  output: Value;
  /** The head-merge Reshape (the last node of the pattern). */
  merge: Node;
  numHeads: number;
  headSize: number;
  /** The product of every scalar on Q, on K and on the scores. */
  scale: number;
  /** What is added to the scaled scores before the Softmax (a causal or padding mask, a position bias). */
  mask?: Value;
}

export type AttentionMatchResult = AttentionMatch | { reason: string };

const SPLIT: Labels = ['B', 'S', 'N', 'H'];
const Q_LAYOUT: Labels = ['B', 'N', 'S', 'H'];
const K_LAYOUT: Labels = ['B', 'N', 'H', 'S'];
const MERGED: Labels = ['B', 'S', 'N', 'H'];
const FLOAT_TYPES: readonly number[] = [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16];

/** A tensor's head split found walking back from where attention reads it. */
interface Traced {
  input: Value;
  heads: number;
  headSize: number;
  factor: number;
}

/** How far back a Q/K/V path may go before the head split (real exports need at most 6 nodes). */
const MAX_PATH = 16;

function traceToHeadSplit(start: Value, role: string, layout: Labels, scalable: boolean, known: KnownValues): Traced | { reason: string } {
  let factor = 1;
  const perms: number[][] = [];
  let at = start;
  for (let step = 0; step < MAX_PATH; step++) {
    const p = at.producer;
    if (!p) return { reason: `${role} comes from ${at.isGraphInput ? 'graph input' : 'constant'} ${at}, not from a head split` };
    const scaled = scalable ? scalarFactor(p, known) : undefined;
    if (scaled) {
      factor *= scaled.factor;
      at = scaled.input;
    } else if (passesThrough(p)) {
      at = p.input(0)!;
    } else if (p.is('Transpose')) {
      const perm = transposePerm(p);
      if (perm?.length !== 4) return { reason: `${role} goes through ${p}, which is not a 4-D transpose` };
      perms.push(perm);
      at = p.input(0)!;
    } else if (p.is('Reshape')) {
      const swapped = batchedSwapSource(p, known);
      if (swapped) {
        perms.push([0, 1, 3, 2]);
        at = swapped;
        continue;
      }
      const split = headSplit(p, known);
      if ('reason' in split) return { reason: `${role}: ${split.reason}` };
      // Perms were collected walking backwards; the tensor went through them in the other order.
      const labels = perms.reduceRight((l, perm) => permute(l, perm), SPLIT);
      if (!sameLabels(labels, layout)) {
        return { reason: `${role} reaches the attention MatMul as (${labels.join(', ')}), expected (${layout.join(', ')})` };
      }
      return { ...split, factor };
    } else {
      return { reason: `${role} goes through ${p}, which is not a head split, a transpose or a scalar scale` };
    }
  }
  return { reason: `${role} goes through more than ${MAX_PATH} nodes before a head split` };
}

/** Whether `v` is a MatMul's result through scalar scales and pass-through ops. */
function reachesMatMul(v: Value | undefined, known: KnownValues): boolean {
  for (let step = 0; v && step < MAX_PATH; step++) {
    const p = v.producer;
    if (!p) return false;
    if (p.is('MatMul')) return true;
    v = scalarFactor(p, known)?.input ?? (passesThrough(p) ? p.input(0) : undefined);
  }
  return false;
}

/**
 * The scores' scalars, walking back from the Softmax to the Q·Kᵀ MatMul, and the additive mask on the way (one
 * Add whose other operand is not computed from the scores). A mask scaled together with the scores is not taken.
 */
function traceScores(softmax: Node, known: KnownValues): { matmul: Node; factor: number; mask?: Value } | { reason: string } {
  let factor = 1;
  let mask: Value | undefined;
  let at = softmax.input(0)!;
  for (let step = 0; step < MAX_PATH; step++) {
    if (at.useCount !== 1) return { reason: `the scores ${at} are also read outside the attention` };
    const p = at.producer;
    if (!p) return { reason: `its input ${at} is not computed from Q and K` };
    if (p.is('MatMul')) return { matmul: p, factor, ...(mask ? { mask } : {}) };
    const scaled = scalarFactor(p, known);
    if (scaled) {
      factor *= scaled.factor;
      at = scaled.input;
    } else if (passesThrough(p)) {
      at = p.input(0)!;
    } else if (p.is('Add') && p.inputs.length === 2) {
      const [a, b] = [p.input(0)!, p.input(1)!];
      const fromScores = [a, b].filter((x) => reachesMatMul(x, known));
      if (fromScores.length !== 1) return { reason: `its scores come from ${p}, which adds ${fromScores.length ? 'two products' : 'no product of Q and Kᵀ'}` };
      if (mask) return { reason: `its scores have two additive masks (${mask} and ${p})` };
      if (factor !== 1) return { reason: `its additive mask (${p}) is scaled with the scores` };
      at = fromScores[0]!;
      mask = at === a ? b : a;
    } else {
      return { reason: `its scores come from ${p}, not from a MatMul of Q and Kᵀ` };
    }
  }
  return { reason: 'its scores go through too many nodes' };
}

/** From the probabilities·V MatMul forward to the head merge. */
function traceMerge(context: Node, known: KnownValues): Node | { reason: string } {
  let labels: Labels = Q_LAYOUT;
  let at = context.output(0);
  for (let step = 0; step < MAX_PATH; step++) {
    const uses = at.uses();
    if (uses.length !== 1 || at.isGraphOutput || uses[0]!.index !== 0) return { reason: `the attention result ${at} is read by more than a head merge` };
    const next = uses[0]!.node;
    if (next.is('Transpose')) {
      const perm = transposePerm(next);
      if (perm?.length !== 4) return { reason: `the attention result goes through ${next}, not a 4-D transpose` };
      labels = permute(labels, perm);
      at = next.output(0);
    } else if (passesThrough(next)) {
      at = next.output(0);
    } else if (next.is('Reshape')) {
      if (!sameLabels(labels, MERGED)) return { reason: `the attention result reaches ${next} as (${labels.join(', ')}), not (B, S, N, H)` };
      if (!isHeadMerge(next, known)) return { reason: `${next} does not merge the heads back into (batch, seq, hidden)` };
      return next;
    } else {
      return { reason: `the attention result goes to ${next}, not to a head merge` };
    }
  }
  return { reason: 'the attention result goes through too many nodes' };
}

export function matchAttention(softmax: Node, known: KnownValues, opset: number): AttentionMatchResult {
  const scores = softmax.input(0);
  const rank = scores?.rank;
  if (!scores || rank !== 4) return { reason: `its input is not a 4-D (batch, heads, query, key) tensor (rank ${rank ?? 'unknown'})` };
  const axis = softmax.attrInt('axis', opset >= 13 ? -1 : 1);
  if (axis !== -1 && axis !== 3) return { reason: `it normalizes over axis ${axis}, not the key axis` };

  const s = traceScores(softmax, known);
  if ('reason' in s) return s;
  const probs = softmax.output(0);
  const probUses = probs.uses();
  const pv = probUses[0]?.node;
  if (probUses.length !== 1 || probs.isGraphOutput || !pv?.is('MatMul') || probUses[0]!.index !== 0) {
    return { reason: `its probabilities are not read by exactly one MatMul with V` };
  }

  const q = traceToHeadSplit(s.matmul.input(0)!, 'Q', Q_LAYOUT, true, known);
  if ('reason' in q) return q;
  const k = traceToHeadSplit(s.matmul.input(1)!, 'K', K_LAYOUT, true, known);
  if ('reason' in k) return k;
  const v = traceToHeadSplit(pv.input(1)!, 'V', Q_LAYOUT, false, known);
  if ('reason' in v) return v;
  if (q.heads !== k.heads || q.heads !== v.heads) return { reason: `Q, K and V are split into ${q.heads}, ${k.heads} and ${v.heads} heads` };
  if (q.headSize !== k.headSize || q.headSize !== v.headSize) {
    return { reason: `Q, K and V have head sizes ${q.headSize}, ${k.headSize} and ${v.headSize}` };
  }
  if (!sameDim(q.input.shape?.[0], k.input.shape?.[0]) && q.input.shape?.[0] !== undefined && k.input.shape?.[0] !== undefined) {
    return { reason: `Q and K have different batch sizes` };
  }
  const dtype = q.input.dtype;
  if (dtype === undefined || !FLOAT_TYPES.includes(dtype) || k.input.dtype !== dtype || v.input.dtype !== dtype) {
    return { reason: 'Q, K and V are not all float, float16 or bfloat16 of one type' };
  }

  const merge = traceMerge(pv, known);
  if ('reason' in merge) return merge;
  const scale = s.factor * q.factor * k.factor;
  if (!Number.isFinite(scale) || scale === 0) return { reason: `its scale works out to ${scale}` };
  return {
    softmax,
    query: q.input,
    key: k.input,
    value: v.input,
    output: merge.output(0),
    merge,
    numHeads: q.heads,
    headSize: q.headSize,
    scale,
    ...(s.mask ? { mask: s.mask } : {}),
  };
}
