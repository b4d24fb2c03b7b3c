/**
 * Finding attention: Softmax between two MatMuls (scores = Q·Kᵀ, scaled, masked; out = probs·V), and fused
 * com.microsoft MultiHeadAttention nodes. Self- or cross-attention is told by where K comes from: the value the
 * key projection reads (encoder_hidden_states for cross-attention) against the one the query projection reads.
 */
import type { Node } from '../ir/node.js';
import type { Dim, TensorType, Value } from '../ir/value.js';

export interface AttentionBlock {
  form: 'MatMul-Softmax-MatMul' | 'MultiHeadAttention';
  /** The Softmax or MultiHeadAttention node. */
  node: string;
  kind: 'self' | 'cross';
  /** The value the key projection reads. */
  keySource: string;
  heads?: Dim;
  queryLength?: Dim;
  keyLength?: Dim;
  headSize?: Dim;
  /** The Q·Kᵀ and probs·V MatMuls (MatMul form). */
  matmuls?: [Node, Node];
}

type TypeOf = (v: Value) => TensorType | undefined;

/** Ops that scale, mask or retype attention scores between Q·Kᵀ and Softmax. */
const SCORE_OPS = new Set(['Mul', 'Div', 'Add', 'Sub', 'Cast', 'Identity', 'Where']);
/** Ops between Softmax and probs·V. */
const PROBS_OPS = new Set(['Cast', 'Identity', 'Dropout']);
/** Ops that reshape, transpose, scale or bias a projection on its way into attention. */
const LAYOUT_OPS = new Set(['Transpose', 'Reshape', 'Mul', 'Div', 'Add', 'Cast', 'Identity', 'Squeeze', 'Unsqueeze', 'Slice', 'Split', 'Gather', 'Concat', 'Expand']);
const PROJECTION_OPS = new Set(['MatMul', 'Gemm', 'MatMulInteger']);
const MAX_WALK = 12;

export function findAttention(order: readonly Node[], typeOf: TypeOf, constant: Set<Value>): AttentionBlock[] {
  const blocks: AttentionBlock[] = [];
  for (const node of order) {
    if (node.is('Softmax')) {
      const block = softmaxBlock(node, typeOf, constant);
      if (block) blocks.push(block);
    } else if (node.is('MultiHeadAttention', 'com.microsoft')) {
      const block = multiHeadBlock(node, typeOf, constant);
      if (block) blocks.push(block);
    }
  }
  return blocks;
}

/** The input that carries the data: the non-constant one of highest rank (a scale or bias is lower or constant). */
function mainInput(node: Node, typeOf: TypeOf, constant: Set<Value>): Value | undefined {
  let best: Value | undefined;
  let bestRank = -1;
  for (const v of node.inputs) {
    if (!v || constant.has(v)) continue;
    const rank = typeOf(v)?.shape?.length ?? 0;
    if (rank > bestRank) [best, bestRank] = [v, rank];
  }
  return best;
}

function isActivationMatMul(node: Node | undefined, constant: Set<Value>): node is Node {
  // Both inputs present: a malformed model may omit one, and the callers follow both.
  const [a, b] = [node?.input(0), node?.input(1)];
  return !!node && node.is('MatMul') && !!a && !!b && !constant.has(a) && !constant.has(b);
}

function softmaxBlock(softmax: Node, typeOf: TypeOf, constant: Set<Value>): AttentionBlock | undefined {
  let scores: Node | undefined = softmax.input(0)?.producer;
  for (let i = 0; scores && SCORE_OPS.has(scores.opType) && i < MAX_WALK; i++) scores = mainInput(scores, typeOf, constant)?.producer;
  if (!isActivationMatMul(scores, constant)) return undefined;
  let probs: Value | undefined = softmax.outputs[0];
  let weighted: Node | undefined;
  for (let i = 0; i < MAX_WALK && probs; i++) {
    const readers = probs.consumers();
    if (readers.length !== 1) return undefined;
    const next = readers[0]!;
    if (next.is('MatMul') && next.input(0) === probs) {
      weighted = next;
      break;
    }
    if (!PROBS_OPS.has(next.opType)) return undefined;
    probs = next.outputs[0];
  }
  if (!isActivationMatMul(weighted, constant)) return undefined;
  const querySource = projectionInput(scores.input(0)!, typeOf, constant);
  const keySource = projectionInput(scores.input(1)!, typeOf, constant);
  const s = typeOf(scores.output(0))?.shape;
  const q = typeOf(scores.input(0)!)?.shape;
  return {
    form: 'MatMul-Softmax-MatMul',
    node: softmax.name,
    kind: querySource === keySource ? 'self' : 'cross',
    keySource: keySource.name,
    heads: s && s.length === 4 ? s[1] : undefined,
    queryLength: s?.[s.length - 2],
    keyLength: s?.[s.length - 1],
    headSize: q?.[q.length - 1],
    matmuls: [scores, weighted],
  };
}

/** Walks back through layout ops to the projection (a MatMul with a constant weight) and returns what it reads. */
function projectionInput(v: Value, typeOf: TypeOf, constant: Set<Value>): Value {
  let at = v;
  for (let i = 0; i < MAX_WALK; i++) {
    const p = at.producer;
    if (!p) return at;
    if (PROJECTION_OPS.has(p.opType) && p.input(1) && constant.has(p.input(1)!)) return p.input(0)!;
    if (!LAYOUT_OPS.has(p.opType)) return at;
    const next = mainInput(p, typeOf, constant);
    if (!next) return at;
    at = next;
  }
  return at;
}

function multiHeadBlock(node: Node, typeOf: TypeOf, constant: Set<Value>): AttentionBlock | undefined {
  const query = node.input(0);
  if (!query) return undefined; // a malformed node: MultiHeadAttention needs its query
  const key = node.input(1);
  const querySource = projectionInput(query, typeOf, constant);
  const keySource = key ? projectionInput(key, typeOf, constant) : querySource;
  const heads = node.attrInt('num_heads');
  const q = typeOf(query)?.shape;
  const k = key ? typeOf(key)?.shape : undefined;
  const packedQkv = q?.length === 5;
  return {
    form: 'MultiHeadAttention',
    node: node.name,
    kind: querySource === keySource ? 'self' : 'cross',
    keySource: keySource.name,
    heads,
    queryLength: q?.[1],
    keyLength: packedQkv ? q?.[1] : k?.length === 4 ? k[2] : k?.[1],
    headSize: packedQkv ? q?.[4] : k?.length === 5 ? k[4] : typeof q?.[2] === 'number' && heads ? q[2] / heads : undefined,
  };
}
