/** com.microsoft contrib operators that sdxl-opt's passes create (shapes as ONNX Runtime's kernels define them). */
import { DataType } from '../../../onnx/dtype.js';
import type { Dim } from '../../value.js';
import { addDims, floorDivDims, mulDims } from '../dim-expr.js';
import type { OutputInference, Rule } from '../rule.js';

/**
 * MultiHeadAttention. query (B, S, D) with key (B, L, D) and value (B, L, Dv); or packed QKV query (B, S, N, 3, H)
 * with no key/value; or packed KV key (B, L, N, 2, H) with no value; or key/value already split into heads
 * (B, N, L, H). Output (B, S, N·Hv). present_key/present_value (B, N, past + L, H).
 */
export const multiHeadAttention: Rule = (ctx) => {
  const q = ctx.shape(0);
  const k = ctx.has(1) ? ctx.shape(1) : undefined;
  const v = ctx.has(2) ? ctx.shape(2) : undefined;
  const dtype = ctx.dtype(0);
  const heads = ctx.node.attrInt('num_heads');
  if (!q) return [{ dtype }];
  const batch = q[0];
  const seq = q[1];
  let hidden: Dim;
  let kvSeq: Dim;
  let headSize: Dim;
  if (q.length === 5) {
    // Packed QKV: (B, S, N, 3, H).
    hidden = mulDims(q[2], q[4]);
    kvSeq = seq;
    headSize = q[4];
  } else if (k?.length === 5) {
    // Packed KV: (B, L, N, 2, H).
    hidden = mulDims(k[2], k[4]);
    kvSeq = k[1];
    headSize = k[4];
  } else if (v?.length === 4) {
    // Key and value already (B, N, L, H).
    hidden = mulDims(v[1], v[3]);
    kvSeq = v[2];
    headSize = k?.[3];
  } else {
    hidden = v?.[2];
    kvSeq = k?.[1];
    headSize = heads ? floorDivDims(k?.[2], heads) : undefined;
  }
  const outputs: OutputInference[] = [{ dtype, shape: [batch, seq, hidden] }];
  const past = ctx.has(6) ? ctx.shape(6) : undefined;
  const total = past ? addDims(past[2], kvSeq) : kvSeq;
  const presentHead = ctx.has(7) ? ctx.shape(7)?.[3] : undefined;
  outputs.push({ dtype, shape: [batch, heads, total, headSize] });
  outputs.push({ dtype, shape: [batch, heads, total, presentHead ?? (heads ? floorDivDims(hidden, heads) : undefined)] });
  return outputs;
};

/** GroupNorm / SkipGroupNorm (NHWC): outputs like the input. */
export const groupNorm: Rule = (ctx) => [
  { dtype: ctx.dtype(0), shape: ctx.shape(0) },
  { dtype: ctx.dtype(0), shape: ctx.shape(0) },
];

/**
 * SkipLayerNormalization / SkipSimplifiedLayerNormalization: output like input; mean and inv_std_var (float) with
 * the last dim reduced to 1; input_skip_bias_sum like input.
 */
export const skipLayerNormalization: Rule = (ctx) => {
  const x = ctx.shape(0);
  const reduced = x?.map((d, i) => (i === x.length - 1 ? 1 : d));
  const dtype = ctx.dtype(0);
  return [
    { dtype, shape: x },
    { dtype: DataType.FLOAT, shape: reduced },
    { dtype: DataType.FLOAT, shape: reduced },
    { dtype, shape: x },
  ];
};

/** BiasSplitGelu: (N, S, 2D) → (N, S, D). */
export const biasSplitGelu: Rule = (ctx) => {
  const x = ctx.shape(0);
  const shape = x?.map((d, i) => (i === x.length - 1 ? floorDivDims(d, 2) : d));
  return [{ dtype: ctx.dtype(0), shape }];
};

/** Ops whose only output is shaped and typed like input 0 (BiasAdd, FastGelu, BiasGelu, QuickGelu...). */
export const CONTRIB_SAME_AS_INPUT = ['BiasAdd', 'BiasGelu', 'FastGelu', 'QuickGelu', 'Gelu', 'BiasSoftmax', 'BiasDropout'] as const;
