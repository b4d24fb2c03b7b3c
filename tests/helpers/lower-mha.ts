/**
 * Test only: com.microsoft.MultiHeadAttention written back as standard ONNX ops (Reshape, Transpose, Gather,
 * MatMul, Softmax), following ONNX Runtime's documented layouts: packed QKV (B, S, N, 3, H), packed KV
 * (B, L, N, 2, H), or separate (B, S, N·H); attention_bias and unidirectional become Adds on the scores. ONNX Runtime's CPU provider has no packed-QKV/KV kernel; running the
 * lowered graph on the CPU checks the weight interleaving and reshape layout that CUDA will run as they are.
 */
import { makeAttr, type AttributeValue } from '../../src/ir/attributes.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';

function int64s(graph: Graph, values: number[], dims = [values.length]): Value {
  return graph.addInitializer('lowered_const', new Tensor(DataType.INT64, dims, new InlineData(new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer))));
}

function lower(graph: Graph, mha: Node): void {
  const heads = mha.attrInt('num_heads')!;
  const scale = mha.attrFloat('scale');
  const op = (opType: string, inputs: (Value | undefined)[], attrs: Record<string, AttributeValue> = {}): Value =>
    graph
      .insertBefore(mha, graph.createNode({ opType, name: `lowered_${opType}`, inputs, attributes: Object.entries(attrs).map(([k, v]) => makeAttr(k, v)) }))
      .output(0);
  /** (B, S, N·H) → (B, N, S, H) */
  const splitHeads = (x: Value) => op('Transpose', [op('Reshape', [x, int64s(graph, [0, 0, heads, -1])])], { perm: [0, 2, 1, 3] });
  /** (B, S, N, parts, H) → one (B, N, S, H) per part */
  const unpack = (x: Value, parts: number) => {
    const t = op('Transpose', [x], { perm: [3, 0, 2, 1, 4] });
    return Array.from({ length: parts }, (_, i) => op('Gather', [t, int64s(graph, [i], [])], { axis: 0 }));
  };
  const [query, key, value] = mha.inputs;
  let q: Value;
  let k: Value;
  let v: Value;
  if (!key) [q, k, v] = unpack(query!, 3) as [Value, Value, Value];
  else if (!value) {
    q = splitHeads(query!);
    [k, v] = unpack(key, 2) as [Value, Value];
  } else [q, k, v] = [splitHeads(query!), splitHeads(key), splitHeads(value)];
  let scores = op('MatMul', [q, op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  if (scale === undefined) throw new Error('the lowering needs an explicit scale');
  const scaleValue = graph.addInitializer('lowered_scale', new Tensor(DataType.FLOAT, [], new InlineData(new Uint8Array(new Float32Array([scale]).buffer))));
  scores = op('Mul', [scores, scaleValue]);
  const bias = mha.input(5);
  if (bias) scores = op('Add', [scores, bias]);
  if (mha.attrInt('unidirectional') === 1) {
    // Causal: -inf above the diagonal of (S, S); needs a known sequence length.
    const s = query!.shape?.[1];
    if (typeof s !== 'number') throw new Error('the lowering of unidirectional attention needs a fixed sequence length');
    const mask = new Float32Array(s * s).map((_, i) => (i % s > Math.floor(i / s) ? -Infinity : 0));
    scores = op('Add', [scores, graph.addInitializer('lowered_causal', new Tensor(DataType.FLOAT, [s, s], new InlineData(new Uint8Array(mask.buffer))))]);
  }
  const context = op('MatMul', [op('Softmax', [scores], { axis: -1 }), v]);
  const merged = op('Reshape', [op('Transpose', [context], { perm: [0, 2, 1, 3] }), int64s(graph, [0, 0, -1])]);
  graph.replaceAllUsesWith(mha.output(0), merged, { graphOutputs: true });
  graph.remove(mha);
}

/** Lowers every MultiHeadAttention of the model; returns how many. */
export function lowerMultiHeadAttention(model: Model): number {
  const nodes = model.graph.nodes().filter((n) => n.is('MultiHeadAttention', 'com.microsoft'));
  nodes.forEach((n) => lower(model.graph, n));
  return nodes.length;
}
