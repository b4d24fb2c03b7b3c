/**
 * The additive mask an exported attention adds to its scores before the Softmax, in the form MultiHeadAttention
 * takes it. TorchScript exports scaled_dot_product_attention(is_causal=True) (the CLIP text encoders) as
 * Where(Equal(Trilu(ones(S, L)), 0), -inf, 0) added to the scores; once the recipe's dims fix S and cleanup folds
 * it, it is a constant [S, L] that is 0 on and below the diagonal and -inf above: exactly MultiHeadAttention's
 * `unidirectional=1`, which keeps the fast kernels (flash attention takes no bias). Any other mask whose shape is
 * known becomes `attention_bias` (B or 1, N or 1, S, L), given leading 1s where it has fewer dims.
 */
import { sameDim } from '../../src/ir/infer/dim-expr.js';
import { makeAttr } from '../../src/ir/attributes.js';
import type { Graph } from '../../src/ir/graph.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Dim, Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';
import { smallConstant } from './constant-source.js';

/** Scores at or below this are masked out: exp() of it is 0 in float32 and float16 next to any real score. */
const MASKED = -1e4;
/** The largest constant mask read to see whether it is causal (a 77×77 float32 mask is 23 KB). */
const MAX_MASK_BYTES = 4 * 1024 * 1024;

export type MaskForm = { kind: 'causal' } | { kind: 'bias'; bias: Value } | { reason: string };

/** Whether the constant `values` ([.., S, L], leading dims 1) is 0 where key ≤ query and masked above. */
function isCausal(values: ArrayLike<number>, s: number, l: number): boolean {
  if (s !== l || values.length !== s * l) return false;
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < l; j++) {
      const v = values[i * l + j]!;
      if (j <= i ? v !== 0 : !(v <= MASKED)) return false;
    }
  }
  return true;
}

/**
 * How MultiHeadAttention should apply `mask` (added to scores of shape `scores`: B, N, S, L). A constant mask of
 * lower rank is given the leading 1s attention_bias needs in a new initializer; a computed one must already be 4-D.
 */
export function maskForm(graph: Graph, mask: Value, scores: readonly Dim[], opset: number): MaskForm {
  const [, , s, l] = scores;
  const shape = mask.shape;
  if (!shape || shape.length > 4) return { reason: `its additive mask ${mask} has ${shape ? `rank ${shape.length}` : 'no known shape'}` };
  const padded: Dim[] = [...Array(4 - shape.length).fill(1), ...shape];
  if (!sameDim(padded[2], s) || !sameDim(padded[3], l)) {
    return { reason: `its additive mask ${mask} is not (.., ${s}, ${l}): MultiHeadAttention takes no broadcast over query or key` };
  }
  if (!(padded[0] === 1 || sameDim(padded[0], scores[0])) || !(padded[1] === 1 || sameDim(padded[1], scores[1]))) {
    return { reason: `its additive mask ${mask} does not broadcast as (batch or 1, heads or 1, S, L)` };
  }
  const constant = smallConstant(mask, MAX_MASK_BYTES);
  if (constant && (constant.data instanceof Float32Array || constant.data instanceof Float64Array)) {
    if (typeof s === 'number' && typeof l === 'number' && padded[0] === 1 && padded[1] === 1 && isCausal(constant.data, s, l)) {
      return { kind: 'causal' };
    }
    if (shape.length === 4) return { kind: 'bias', bias: mask };
    if (constant.data instanceof Float64Array || mask.dtype !== DataType.FLOAT) return { reason: `its additive mask ${mask} is not float32` };
    const bytes = new Uint8Array(constant.data.buffer, constant.data.byteOffset, constant.data.byteLength).slice();
    const bias = graph.addInitializer(`${mask.name}_4d`, new Tensor(DataType.FLOAT, padded as number[], new InlineData(bytes)));
    return { kind: 'bias', bias };
  }
  if (shape.length === 4) return { kind: 'bias', bias: mask };
  // Computed at run time with fewer dims (without fixed dims, the CLIP mask is a computed [S, S]): Unsqueeze it.
  const axes = Array.from({ length: 4 - shape.length }, (_, i) => i);
  const unsqueeze = graph.createNode({
    opType: 'Unsqueeze',
    name: `${mask.producer?.name ?? mask.name}/Unsqueeze_4d`,
    inputs: opset >= 13 ? [mask, graph.addInitializer(`${mask.name}_axes`, int64Tensor(axes))] : [mask],
    attributes: opset >= 13 ? [] : [makeAttr('axes', axes)],
    types: [{ dtype: mask.dtype ?? DataType.FLOAT, shape: padded }],
    pass: 'fuse-attention',
  });
  graph.insertAfter(mask.producer, unsqueeze);
  return { kind: 'bias', bias: unsqueeze.output(0) };
}

function int64Tensor(values: readonly number[]): Tensor {
  return new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer)));
}
