/**
 * Small attention graphs built in code, in the variants the exporters produce: scale on both Q and K (as Constant
 * nodes) or a Div on the scores, Kᵀ by one Transpose, by two, or by dynamo's 3-D round trip, with or without
 * biases, self or cross attention. Batch 2, query length 6, key length 5, 2 heads of 4.
 */
import { makeAttr, type AttributeValue } from '../../src/ir/attributes.js';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { inlineTensorProto } from '../../src/ir/tensor-proto.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';
import { seededFloats, seededTensor, type Feeds } from './attention-support.js';

export interface TinyAttentionOptions {
  /** K and V from a second input `context` (B, 5, 3). */
  cross?: boolean;
  /** 'both': Q and K each times sqrt(scale); 'div': the scores divided by 1/scale. */
  scaleForm?: 'both' | 'div';
  scale?: number;
  keyLayout?: 'one-transpose' | 'two-transposes' | 'batched-swap';
  bias?: boolean;
  /** The K weight is a graph input, not a constant. */
  keyWeightIsInput?: boolean;
  /** Symbolic batch and sequence dims (not with 'batched-swap', which bakes sizes into its Reshapes). */
  symbolic?: boolean;
}

export const TINY = { batch: 2, seq: 6, ctxSeq: 5, heads: 2, headSize: 4, hidden: 8, ctxWidth: 3 } as const;

export function tinyAttentionModel(o: TinyAttentionOptions = {}): Model {
  const { batch, seq, ctxSeq, heads, headSize, hidden, ctxWidth } = TINY;
  const scale = o.scale ?? 0.3;
  const graph = new Graph('tiny_attention');
  let seed = 1;
  const floats = (name: string, dims: number[], values?: number[]): Value =>
    graph.addInitializer(name, new Tensor(DataType.FLOAT, dims, new InlineData(new Uint8Array((values ? new Float32Array(values) : seededFloats(dims.reduce((a, b) => a * b, 1), seed++)).buffer))));
  const int64s = (name: string, values: number[]): Value =>
    graph.addInitializer(name, new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer))));
  const op = (opType: string, inputs: (Value | undefined)[], attrs: Record<string, AttributeValue> = {}): Value =>
    graph.append(graph.createNode({ opType, name: opType, inputs, attributes: Object.entries(attrs).map(([k, v]) => makeAttr(k, v)) })).output(0);
  const constantNode = (value: number): Value => {
    const t = new Tensor(DataType.FLOAT, [1], new InlineData(new Uint8Array(new Float32Array([value]).buffer)));
    return op('Constant', [], { value: inlineTensorProto('', t, new Uint8Array(new Float32Array([value]).buffer)) });
  };
  const input = (name: string, shape: (number | string)[]): Value => {
    const v = graph.createValue(name, { dtype: DataType.FLOAT, shape });
    graph.inputs.push(v);
    return v;
  };

  const x = input('x', o.symbolic ? ['batch', 'seq', hidden] : [batch, seq, hidden]);
  const source = o.cross ? input('context', o.symbolic ? ['batch', 'ctx_seq', ctxWidth] : [batch, ctxSeq, ctxWidth]) : x;
  const width = o.cross ? ctxWidth : hidden;
  const keyWeight = o.keyWeightIsInput ? input('key_weight', [width, hidden]) : floats('to_k.weight', [width, hidden]);
  const project = (from: Value, weight: Value, name: string) => {
    const y = op('MatMul', [from, weight]);
    return o.bias ? op('Add', [floats(`${name}.bias`, [hidden]), y]) : y;
  };
  const q = project(x, floats('to_q.weight', [hidden, hidden]), 'to_q');
  const k = project(source, keyWeight, 'to_k');
  const v = project(source, floats('to_v.weight', [width, hidden]), 'to_v');

  const splitTarget = int64s('split_heads', [0, -1, heads, headSize]);
  const split = (t: Value) => op('Reshape', [t, splitTarget]);
  let qh = op('Transpose', [split(q)], { perm: [0, 2, 1, 3] });
  let kh: Value;
  if (o.keyLayout === 'two-transposes') kh = op('Transpose', [op('Transpose', [split(k)], { perm: [0, 2, 1, 3] })], { perm: [0, 1, 3, 2] });
  else if (o.keyLayout === 'batched-swap') {
    const kvLen = o.cross ? ctxSeq : seq;
    const flat = op('Reshape', [op('Transpose', [split(k)], { perm: [0, 2, 1, 3] }), int64s('flat', [-1, kvLen, headSize])]);
    kh = op('Reshape', [op('Transpose', [flat], { perm: [0, 2, 1] }), int64s('unflat', [batch, heads, headSize, kvLen])]);
  } else kh = op('Transpose', [split(k)], { perm: [0, 2, 3, 1] });
  const vh = op('Transpose', [split(v)], { perm: [0, 2, 1, 3] });

  let scores: Value;
  if (o.scaleForm === 'div') scores = op('Div', [op('MatMul', [qh, kh]), floats('inverse_scale', [], [1 / scale])]);
  else {
    qh = op('Mul', [qh, constantNode(Math.sqrt(scale))]);
    kh = op('Mul', [kh, constantNode(Math.sqrt(scale))]);
    scores = op('MatMul', [qh, kh]);
  }
  const context = op('MatMul', [op('Softmax', [scores], { axis: -1 }), vh]);
  const merged = op('Reshape', [op('Transpose', [context], { perm: [0, 2, 1, 3] }), int64s('merge_heads', [0, -1, hidden])]);
  const y = op('MatMul', [merged, floats('to_out.weight', [hidden, hidden])]);
  graph.renameValue(y, 'y');
  graph.outputs.push(y);
  return new Model(graph, 8, new Map([['', 17]]));
}

export function tinyFeeds(o: TinyAttentionOptions = {}): Feeds {
  const feeds: Feeds = { x: seededTensor([TINY.batch, TINY.seq, TINY.hidden], 101) };
  if (o.cross) feeds.context = seededTensor([TINY.batch, TINY.ctxSeq, TINY.ctxWidth], 202);
  if (o.keyWeightIsInput) feeds.key_weight = seededTensor([o.cross ? TINY.ctxWidth : TINY.hidden, TINY.hidden], 303);
  return feeds;
}

/**
 * The CLIP text encoders' attention as TorchScript exports it: biased projections, Q scaled after its bias, heads
 * folded into the batch ((B·N, S, H) tensors and 3-D MatMuls), and a causal mask added to the 4-D scores.
 * Batch 2, 6 tokens, 2 heads of 4; fixed sizes, as the export bakes them into its Reshapes.
 */
export function tinyClipAttentionModel(): Model {
  const { batch, seq, heads, headSize, hidden } = TINY;
  const graph = new Graph('tiny_clip_attention');
  let seed = 11;
  const floats = (name: string, dims: number[], values?: number[]): Value =>
    graph.addInitializer(name, new Tensor(DataType.FLOAT, dims, new InlineData(new Uint8Array((values ? new Float32Array(values) : seededFloats(dims.reduce((a, b) => a * b, 1), seed++)).buffer))));
  const int64s = (values: number[]): Value =>
    graph.addInitializer('shape', new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer))));
  const op = (opType: string, inputs: (Value | undefined)[], attrs: Record<string, AttributeValue> = {}): Value =>
    graph.append(graph.createNode({ opType, name: opType, inputs, attributes: Object.entries(attrs).map(([k, v]) => makeAttr(k, v)) })).output(0);

  const x = graph.createValue('x', { dtype: DataType.FLOAT, shape: [batch, seq, hidden] });
  graph.inputs.push(x);
  const project = (name: string) => op('Add', [op('MatMul', [x, floats(`${name}.weight`, [hidden, hidden])]), floats(`${name}.bias`, [hidden])]);
  const q = op('Mul', [project('q_proj'), floats('scale', [], [headSize ** -0.5])]);
  const k = project('k_proj');
  const v = project('v_proj');
  const foldHeads = (t: Value) =>
    op('Reshape', [op('Transpose', [op('Reshape', [t, int64s([batch, seq, heads, headSize])])], { perm: [0, 2, 1, 3] }), int64s([batch * heads, seq, headSize])]);
  const scores = op('MatMul', [foldHeads(q), op('Transpose', [foldHeads(k)], { perm: [0, 2, 1] })]);
  const causal = Array.from({ length: seq * seq }, (_, i) => (i % seq > Math.floor(i / seq) ? -1e4 : 0));
  const masked = op('Add', [op('Reshape', [scores, int64s([batch, heads, seq, seq])]), floats('causal_mask', [1, 1, seq, seq], causal)]);
  const probs = op('Softmax', [op('Reshape', [masked, int64s([batch * heads, seq, seq])])], { axis: -1 });
  const context = op('MatMul', [probs, foldHeads(v)]);
  const merged = op('Reshape', [op('Transpose', [op('Reshape', [context, int64s([batch, heads, seq, headSize])])], { perm: [0, 2, 1, 3] }), int64s([batch, seq, hidden])]);
  const y = op('MatMul', [merged, floats('out_proj.weight', [hidden, hidden])]);
  graph.renameValue(y, 'y');
  graph.outputs.push(y);
  return new Model(graph, 8, new Map([['', 17]]));
}
