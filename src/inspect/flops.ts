/**
 * Floating-point operations of the matrix work, counted as multiply + add = 2: 2·M·N·K for MatMul and Gemm (per
 * batch element), 2·Cin/group·kh·kw per output element for Conv, and for MultiHeadAttention the two products it
 * fuses (Q·Kᵀ and probs·V). Elementwise work is left out: it is a small share and bound by memory, not compute.
 */
import type { Node } from '../ir/node.js';
import type { Dim, TensorType, Value } from '../ir/value.js';

export type FlopKind = 'weights' | 'attention' | 'other';

export interface FlopCount {
  total: number;
  /** By op type ('MatMul', 'Conv', 'com.microsoft.MultiHeadAttention'). */
  byOp: Record<string, number>;
  /** Weight products (MatMul/Gemm with constant weights, Conv), attention (Q·Kᵀ, probs·V), other activation products. */
  byKind: Record<FlopKind, number>;
  /** Nodes left out because a dim they need is not a number (symbolic: give sizes for the input dims). */
  unresolved: number;
}

type TypeOf = (v: Value) => TensorType | undefined;

function product(dims: readonly Dim[]): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return undefined;
    p *= d;
  }
  return p;
}

/** FLOPs of one node; undefined when a needed dim is not known; 0 for nodes without matrix work. */
export function nodeFlops(node: Node, typeOf: TypeOf): number | undefined {
  const shape = (v: Value | undefined) => (v ? typeOf(v)?.shape : undefined);
  const out = shape(node.outputs[0]);
  if (node.is('MatMul') || node.is('MatMulInteger') || node.is('Gemm')) {
    const a = shape(node.input(0));
    if (!a || !out) return undefined;
    const k = node.is('Gemm') && node.attrInt('transA', 0) ? a[0] : a[a.length - 1];
    const n = product([...out, k]);
    return n === undefined ? undefined : 2 * n;
  }
  if (node.is('Conv') || node.is('NhwcConv', 'com.microsoft')) {
    const w = shape(node.input(1));
    if (!w || !out) return undefined;
    // Each output element reads Cin/group × kernel weights: all of w but its output-channel dim.
    const n = product([...out, ...w.slice(1)]);
    return n === undefined ? undefined : 2 * n;
  }
  if (node.is('MultiHeadAttention', 'com.microsoft')) return multiHeadFlops(node, typeOf);
  return 0;
}

/** Q·Kᵀ and probs·V over all heads: 2·B·S·L·D each, D the hidden size (heads × head size). */
function multiHeadFlops(node: Node, typeOf: TypeOf): number | undefined {
  const q = node.input(0) && typeOf(node.input(0)!)?.shape;
  const k = node.input(1) && typeOf(node.input(1)!)?.shape;
  const out = node.outputs[0] && typeOf(node.outputs[0])?.shape;
  if (!q || !out) return undefined;
  const [batch, seq, hidden] = out;
  const kvLength = q.length === 5 ? seq : k?.length === 4 ? k[2] : k?.[1];
  const n = product([batch, seq, kvLength, hidden]);
  return n === undefined ? undefined : 2 * 2 * n;
}

export function countFlops(order: readonly Node[], typeOf: TypeOf, kindOf: (node: Node) => FlopKind): FlopCount {
  const count: FlopCount = { total: 0, byOp: {}, byKind: { weights: 0, attention: 0, other: 0 }, unresolved: 0 };
  for (const node of order) {
    const flops = nodeFlops(node, typeOf);
    if (flops === 0) continue;
    if (flops === undefined) {
      count.unresolved++;
      continue;
    }
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    count.total += flops;
    count.byOp[op] = (count.byOp[op] ?? 0) + flops;
    count.byKind[kindOf(node)] += flops;
  }
  return count;
}
