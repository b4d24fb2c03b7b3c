/** Parameters (initializers) and the shapes of the weights that MatMul, Gemm and Conv apply. */
import { dataTypeName } from '../onnx/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Dim, TensorType, Value } from '../ir/value.js';

export interface ParameterSummary {
  /**
   * Parameters as the model uses them: an initializer read by k nodes counts k times. Exporters merge identical
   * initializers (the ones and zeros of freshly made norm layers), so this is the count PyTorch reports.
   */
  count: number;
  /** Elements actually stored, each initializer once. */
  storedCount: number;
  bytes: number;
  initializers: number;
  /** Initializers read by more than one node. */
  shared: number;
  byDtype: Record<string, { count: number; storedCount: number; bytes: number }>;
}

export function summarizeParameters(graph: Graph): ParameterSummary {
  const out: ParameterSummary = { count: 0, storedCount: 0, bytes: 0, initializers: 0, shared: 0, byDtype: {} };
  for (const v of graph.initializers()) {
    const t = v.initializer!;
    const readers = Math.max(1, v.consumers().length);
    const entry = (out.byDtype[dataTypeName(t.dtype)] ??= { count: 0, storedCount: 0, bytes: 0 });
    for (const e of [out, entry]) {
      e.count += t.elementCount * readers;
      e.storedCount += t.elementCount;
      e.bytes += t.byteLength;
    }
    out.initializers++;
    if (readers > 1) out.shared++;
  }
  return out;
}

/** Values computed from constants alone (initializers, Constant nodes, and ops over them: a Transpose of a weight). */
export function constantValues(graph: Graph, order: readonly Node[]): Set<Value> {
  const constant = new Set<Value>(graph.initializers().filter((v) => !v.isGraphInput));
  for (const node of order) {
    const inputs = node.inputs.filter((v): v is Value => v !== undefined);
    const fromConstants = node.opType === 'Constant' || (inputs.length > 0 && inputs.every((v) => constant.has(v)) && node.implicitInputs.length === 0);
    if (fromConstants) node.outputs.forEach((v) => constant.add(v));
  }
  return constant;
}

export interface ShapeCount {
  shape: Dim[];
  count: number;
}

export interface WeightShapes {
  /** (in, out) of MatMul/Gemm/MatMulInteger weights. */
  matmul: ShapeCount[];
  /** (in, out, kh, kw) of Conv/NhwcConv weights; `in` counts all input channels (weight channels × group). */
  conv: ShapeCount[];
}

/** The weight shape a node applies, when its weight is constant: (in, out) or (in, out, kh, kw). */
export function weightShape(node: Node, typeOf: (v: Value) => TensorType | undefined, constant: Set<Value>): Dim[] | undefined {
  const w = node.input(1);
  if (!w || !constant.has(w)) return undefined;
  const s = typeOf(w)?.shape;
  if (!s) return undefined;
  const ms = node.domain === 'com.microsoft';
  if ((node.is('MatMul') || node.is('MatMulInteger')) && s.length >= 2) return [s[s.length - 2], s[s.length - 1]];
  if (node.is('Gemm') && s.length === 2) return node.attrInt('transB', 0) ? [s[1], s[0]] : [s[0], s[1]];
  const group = node.attrInt('group', 1);
  const times = (d: Dim) => (typeof d === 'number' ? d * group : d);
  if (node.is('Conv') && s.length === 4) return [times(s[1]), s[0], s[2], s[3]];
  if (ms && node.opType === 'NhwcConv' && s.length === 4) return [times(s[3]), s[0], s[1], s[2]];
  return undefined;
}

export function tallyWeightShapes(order: readonly Node[], typeOf: (v: Value) => TensorType | undefined, constant: Set<Value>): WeightShapes {
  const matmul = new Map<string, ShapeCount>();
  const conv = new Map<string, ShapeCount>();
  for (const node of order) {
    const shape = weightShape(node, typeOf, constant);
    if (!shape) continue;
    const table = shape.length === 4 ? conv : matmul;
    const key = shape.join(',');
    const entry = table.get(key);
    if (entry) entry.count++;
    else table.set(key, { shape, count: 1 });
  }
  const sorted = (m: Map<string, ShapeCount>) => [...m.values()].sort((a, b) => b.count - a.count || size(b.shape) - size(a.shape));
  return { matmul: sorted(matmul), conv: sorted(conv) };
}

function size(shape: Dim[]): number {
  return shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
}
