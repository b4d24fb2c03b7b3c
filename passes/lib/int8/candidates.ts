/**
 * Which nodes dynamic-int8 can quantize: a MatMul or Gemm whose weight is a constant 2-D float tensor, seen as
 * the shape (in, out) of the layer it implements, with the rows the activation brings (batch × tokens) where
 * shape inference knows them.
 */
import type { Graph } from '../../../src/ir/graph.js';
import type { Node } from '../../../src/ir/node.js';
import type { Value } from '../../../src/ir/value.js';
import { DataType, dataTypeName } from '../../../src/onnx/dtype.js';
import { QUANTIZABLE_WEIGHT_TYPES } from './weights.js';

export interface Candidate {
  node: Node;
  x: Value;
  weight: Value;
  /** Gemm transB: the weight is stored [out, in]. */
  transposed: boolean;
  bias: Value | undefined;
  in: number;
  out: number;
  dtype: DataType;
  /** Rows of the activation (every dim but the last), when all are known. */
  rows: number | undefined;
}

/** (in, out) as the counts and filters name it: "1280x640". */
export function shapeKey(c: { in: number; out: number }): string {
  return `${c.in}x${c.out}`;
}

/** Candidates, and nodes that look like one but cannot be rewritten, with the reason. */
export function findCandidates(graph: Graph): { candidates: Candidate[]; unsupported: { node: Node; reason: string }[] } {
  const candidates: Candidate[] = [];
  const unsupported: { node: Node; reason: string }[] = [];
  for (const node of graph) {
    if (!node.is('MatMul') && !node.is('Gemm')) continue;
    const x = node.input(0);
    const weight = node.input(1);
    const t = weight?.isConstant ? weight.initializer : undefined;
    if (!x || !weight || !t || t.dims.length !== 2) continue; // not a layer with a weight
    const reason = refusal(node, t.dtype);
    if (reason) {
      unsupported.push({ node, reason });
      continue;
    }
    const transposed = node.is('Gemm') && node.attrInt('transB', 0) === 1;
    const [r, c] = t.dims as [number, number];
    const shape = x.type?.shape;
    const rowDims = shape?.slice(0, -1);
    const rows = rowDims?.every((d): d is number => typeof d === 'number') ? rowDims.reduce((a, b) => a * b, 1) : undefined;
    candidates.push({
      node,
      x,
      weight,
      transposed,
      bias: node.is('Gemm') ? node.input(2) : undefined,
      in: transposed ? c : r,
      out: transposed ? r : c,
      dtype: t.dtype as DataType,
      rows: shape && shape.length >= 1 ? rows : undefined,
    });
  }
  return { candidates, unsupported };
}

function refusal(node: Node, dtype: number): string | undefined {
  if (!QUANTIZABLE_WEIGHT_TYPES.has(dtype)) return `a ${dataTypeName(dtype)} weight (only float32, float16 and bfloat16 are quantized)`;
  if (!node.is('Gemm')) return undefined;
  if (node.attrInt('transA', 0) !== 0) return 'Gemm with transA';
  if (node.attrFloat('alpha', 1) !== 1) return 'Gemm with alpha ≠ 1';
  if (node.input(2) && node.attrFloat('beta', 1) !== 1) return 'Gemm with beta ≠ 1';
  return undefined;
}
