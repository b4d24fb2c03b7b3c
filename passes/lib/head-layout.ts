/**
 * Recognizing how exporters move attention heads around: the Reshape that splits (batch, seq, hidden) into
 * (batch, seq, heads, head_size), the Reshape that merges them back, and the dynamo exporter's "transpose the last
 * two axes of a 4-D tensor through a 3-D one" (Reshape to (b·n, l, h) → Transpose(0,2,1) → Reshape to (b, n, h, l)).
 * Shapes come from inference; when inference left a dim unknown, the Reshape's target (known values) is read.
 */
import { mulDims, sameDim } from '../../src/ir/infer/dim-expr.js';
import type { Node } from '../../src/ir/node.js';
import type { Dim, Value } from '../../src/ir/value.js';
import type { KnownValues } from './scalars.js';

/** Axis labels: the layout of a tensor, as a permutation of named axes. */
export type Labels = readonly string[];

export function permute(labels: Labels, perm: readonly number[]): Labels {
  return perm.map((i) => labels[i] ?? '?');
}

export function sameLabels(a: Labels, b: Labels): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A Transpose's permutation (the default reverses the axes). */
export function transposePerm(node: Node): number[] | undefined {
  const perm = node.attrInts('perm');
  if (perm) return perm;
  const rank = node.input(0)?.rank;
  return rank === undefined ? undefined : [...Array(rank).keys()].reverse();
}

/**
 * A Reshape's output dims: inferred, or else read from its target (0 copies the input dim unless allowzero).
 * `hole` is the index of a -1 the target leaves to be inferred (-1 when none).
 */
function reshapeDims(node: Node, known: KnownValues): { dims: Dim[]; hole: number } | undefined {
  const inferred = node.output(0).shape;
  if (inferred && inferred.every((d) => d !== undefined)) return { dims: inferred, hole: -1 };
  const target = node.input(1) && known.get(node.input(1)!);
  if (!target) return undefined;
  const input = node.input(0)?.shape;
  const allowZero = node.attrInt('allowzero', 0) !== 0;
  const holes = target.data.flatMap((t, i) => (t === -1 ? [i] : []));
  if (holes.length > 1) return undefined;
  const dims = target.data.map((t, i) => (t === 0 && !allowZero ? input?.[i] : t === -1 ? undefined : t));
  return { dims, hole: holes[0] ?? -1 };
}

/**
 * Whether a Reshape's output is `expected`. A single -1 in the target stands for whatever keeps the element count,
 * so it matches when every other dim does (the graph is valid, so the count is kept).
 */
function reshapeGives(node: Node, expected: readonly Dim[], known: KnownValues): boolean {
  const out = reshapeDims(node, known);
  if (!out || out.dims.length !== expected.length) return false;
  return out.dims.every((d, i) => i === out.hole || sameDim(d, expected[i]));
}

export interface HeadSplit {
  /** The (batch, seq, hidden) tensor before the split. */
  input: Value;
  heads: number;
  headSize: number;
}

/** `node` as (batch, seq, hidden) → (batch, seq, heads, head_size), heads read from its target. */
export function headSplit(node: Node, known: KnownValues): HeadSplit | { reason: string } {
  const input = node.input(0);
  const shape = input?.shape;
  if (!input || shape?.length !== 3) return { reason: `${node} reshapes a tensor of rank ${shape?.length ?? 'unknown'}, not (batch, seq, hidden)` };
  const hidden = shape[2];
  if (typeof hidden !== 'number') return { reason: `the hidden size of ${input} is not known` };
  const target = node.input(1) && known.get(node.input(1)!);
  const fromTarget = target?.dims.length === 1 && target.data.length === 4 ? target.data[2] : undefined;
  const heads = typeof fromTarget === 'number' && fromTarget > 0 ? fromTarget : node.output(0).shape?.[2];
  if (typeof heads !== 'number' || heads <= 0) return { reason: `the number of heads in the target of ${node} is not a known constant` };
  if (hidden % heads !== 0) return { reason: `${node} splits hidden size ${hidden} into ${heads} heads` };
  const headSize = hidden / heads;
  if (!reshapeGives(node, [shape[0], shape[1], heads, headSize], known)) {
    return { reason: `${node} does not reshape (batch, seq, ${hidden}) to (batch, seq, ${heads}, ${headSize})` };
  }
  return { input, heads, headSize };
}

/** Whether `node` merges (batch, seq, heads, head_size) into (batch, seq, heads·head_size). */
export function isHeadMerge(node: Node, known: KnownValues): boolean {
  const shape = node.input(0)?.shape;
  if (shape?.length !== 4) return false;
  return reshapeGives(node, [shape[0], shape[1], mulDims(shape[2], shape[3])], known);
}

/**
 * When `last` ends Reshape(x: (a, b, c, d) → (a·b, c, d)) → Transpose(0, 2, 1) → Reshape(→ (a, b, d, c)), the x
 * whose last two axes the three nodes swap; undefined otherwise.
 */
export function batchedSwapSource(last: Node, known: KnownValues): Value | undefined {
  const transpose = last.input(0)?.producer;
  if (!transpose?.is('Transpose') || transposePerm(transpose)?.join() !== '0,2,1') return undefined;
  const first = transpose.input(0)?.producer;
  if (!first?.is('Reshape')) return undefined;
  const x = first.input(0);
  const s = x?.shape;
  if (!x || s?.length !== 4) return undefined;
  const [a, b, c, d] = s;
  const flat = reshapeDims(first, known);
  if (!flat || flat.dims.length !== 3 || !sameDim(flat.dims[1], c) || !sameDim(flat.dims[2], d)) return undefined;
  return reshapeGives(last, [a, b, d, c], known) ? x : undefined;
}
