/** Neural-network operators: MatMul, Gemm, Conv, normalizations, Resize, reductions. */
import { DataType } from '../../../onnx/dtype.js';
import type { Dim } from '../../value.js';
import { addDims, ceilDivDims, floorDivDims, mulDims, subDims } from '../dim-expr.js';
import { numbersOf } from '../known-values.js';
import type { Rule, RuleContext } from '../rule.js';
import { broadcastShapes, mergeDim, normalizeAxis } from '../shape-util.js';

/** numpy matmul: 1-D operands are promoted and the added dim dropped; batch dims broadcast. */
export function matmulShape(a: Dim[], b: Dim[], problem?: (m: string) => void): Dim[] {
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  mergeDim(a2[a2.length - 1], b2[b2.length - 2], problem, 'MatMul inner dims');
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)], problem);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

function matmulLike(dtype: (ctx: RuleContext) => DataType | undefined, bIndex = 1): Rule {
  return (ctx) => {
    const a = ctx.shape(0);
    const b = ctx.shape(bIndex);
    if (a?.length === 0 || b?.length === 0) {
      ctx.problem('MatMul operands must have rank 1 or more');
      return [{ dtype: dtype(ctx) }];
    }
    return [{ dtype: dtype(ctx), shape: a && b ? matmulShape(a, b, ctx.problem) : undefined }];
  };
}

export const matmul = matmulLike((ctx) => ctx.dtype(0) ?? ctx.dtype(1));
export const matmulInteger = matmulLike(() => DataType.INT32);
/** com.microsoft MatMulIntegerToFloat: A, B, a_scale, b_scale...; float out, typed like the scales. */
export const matmulIntegerToFloat = matmulLike((ctx) => ctx.dtype(2) ?? DataType.FLOAT);
/** com.microsoft DynamicQuantizeMatMul: float A, quantized B. */
export const dynamicQuantizeMatMul = matmulLike((ctx) => ctx.dtype(0));

export const gemm: Rule = (ctx) => {
  const a = ctx.shape(0);
  const b = ctx.shape(1);
  const dtype = ctx.dtype(0) ?? ctx.dtype(1);
  if (!a || !b || a.length !== 2 || b.length !== 2) return [{ dtype, shape: [undefined, undefined] }];
  const [m, ka] = ctx.node.attrInt('transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
  const [kb, n] = ctx.node.attrInt('transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
  mergeDim(ka, kb, ctx.problem, 'Gemm inner dims');
  return [{ dtype, shape: [m, n] }];
};

/** Output size of one spatial axis of a convolution or pooling window. */
function convOutputDim(d: Dim, kernel: Dim, stride: number, dilation: number, padBegin: number, padEnd: number, autoPad: string): Dim {
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return ceilDivDims(d, stride);
  const reach = addDims(mulDims(dilation, subDims(kernel, 1)), 1);
  const padded = autoPad === 'VALID' ? d : addDims(d, padBegin + padEnd);
  return addDims(floorDivDims(subDims(padded, reach), stride), 1);
}

/**
 * Conv (NCHW, weight [M, C/group, k...]) and com.microsoft NhwcConv (NHWC, weight [M, k..., C], as ORT reads it).
 */
function convRule(channelsLast: boolean): Rule {
  return (ctx) => {
    const x = ctx.shape(0);
    const w = ctx.shape(1);
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    if (!x || x.length < 3) return [{ dtype, shape: x?.map(() => undefined) }];
    const spatialRank = x.length - 2;
    const xSpatial = channelsLast ? x.slice(1, -1) : x.slice(2);
    const wSpatial = w ? (channelsLast ? w.slice(1, -1) : w.slice(2)) : [];
    const node = ctx.node;
    const kernel: Dim[] = node.attrInts('kernel_shape') ?? (w ? wSpatial : new Array<Dim>(spatialRank).fill(undefined));
    const strides = node.attrInts('strides') ?? new Array<number>(spatialRank).fill(1);
    const dilations = node.attrInts('dilations') ?? new Array<number>(spatialRank).fill(1);
    const pads = node.attrInts('pads') ?? new Array<number>(2 * spatialRank).fill(0);
    const autoPad = node.attrString('auto_pad') ?? 'NOTSET';
    const group = node.attrInt('group', 1);
    if (w) {
      const cIn = channelsLast ? x[x.length - 1] : x[1];
      const wIn = channelsLast ? w[w.length - 1] : w[1];
      mergeDim(cIn, mulDims(wIn, group), ctx.problem, 'Conv input channels (input vs weight × group)');
    }
    const spatial = xSpatial.map((d, i) =>
      convOutputDim(d, kernel[i], strides[i] ?? 1, dilations[i] ?? 1, pads[i] ?? 0, pads[i + spatialRank] ?? 0, autoPad),
    );
    const m = w?.[0];
    const shape = channelsLast ? [x[0], ...spatial, m] : [x[0], m, ...spatial];
    return [{ dtype, shape }];
  };
}

export const conv = convRule(false);
export const nhwcConv = convRule(true);

/** LayerNormalization: Y like X; Mean and InvStdDev (training outputs) reduce the normalized axes to 1. */
export const layerNormalization: Rule = (ctx) => {
  const x = ctx.shape(0);
  const dtype = ctx.dtype(0);
  const stash = ctx.node.attrInt('stash_type', DataType.FLOAT) as DataType;
  const axis = x ? normalizeAxis(ctx.node.attrInt('axis', -1), x.length) : undefined;
  const reduced = x && axis !== undefined ? x.map((d, i) => (i < axis ? d : 1)) : undefined;
  return [{ dtype, shape: x }, { dtype: stash, shape: reduced }, { dtype: stash, shape: reduced }];
};

/** Resize: output sizes given, or floor(dim × scale) per axis (optionally only the `axes` listed, opset 18). */
export const resize: Rule = (ctx) => {
  const x = ctx.shape(0);
  const dtype = ctx.dtype(0);
  if (!x) return [{ dtype }];
  const rank = x.length;
  const axes = (ctx.node.attrInts('axes') ?? [...Array(rank).keys()]).map((a) => (a < 0 ? a + rank : a));
  const out = [...x];
  const sizes = ctx.has(3) ? ctx.value(3)?.data : undefined;
  if (sizes) {
    if (sizes.length !== axes.length) return [{ dtype, shape: x.map(() => undefined) }];
    const policy = ctx.node.attrString('keep_aspect_ratio_policy') ?? 'stretch';
    if (policy !== 'stretch') return [{ dtype, shape: keepAspect(x, axes, sizes, policy) }];
    axes.forEach((a, i) => (out[a] = sizes[i]));
    return [{ dtype, shape: out }];
  }
  // Opset 10 has (X, scales); opset 11 on (X, roi, scales, sizes). A roi has twice as many elements as axes.
  let scales = ctx.has(2) ? numbersOf(ctx.value(2)) : undefined;
  if (!ctx.has(2) && ctx.inputCount === 2) {
    const only = numbersOf(ctx.value(1));
    if (only?.length === axes.length) scales = only;
  }
  if (!scales || scales.length !== axes.length) return [{ dtype, shape: x.map(() => undefined) }];
  axes.forEach((a, i) => (out[a] = scaleDim(x[a], scales![i]!)));
  return [{ dtype, shape: out }];
};

function scaleDim(d: Dim, scale: number): Dim {
  if (typeof d === 'number') return Math.floor(d * scale);
  if (Number.isInteger(scale)) return mulDims(d, scale);
  const inverse = 1 / scale;
  if (Math.abs(inverse - Math.round(inverse)) < 1e-9) return floorDivDims(d, Math.round(inverse));
  return undefined;
}

function keepAspect(x: Dim[], axes: number[], sizes: Dim[], policy: string): Dim[] {
  const out = [...x];
  const ratios = axes.map((a, i) => (typeof x[a] === 'number' && typeof sizes[i] === 'number' ? (sizes[i] as number) / (x[a] as number) : undefined));
  if (ratios.some((r) => r === undefined)) return x.map((d, i) => (axes.includes(i) ? undefined : d));
  const scale = policy === 'not_larger' ? Math.min(...(ratios as number[])) : Math.max(...(ratios as number[]));
  for (const a of axes) out[a] = Math.round(scale * (x[a] as number));
  return out;
}

/** ReduceMean, ReduceSum...: axes from the attribute or (opset 18 on; ReduceSum from 13) the second input. */
export const reduce: Rule = (ctx) => {
  const x = ctx.shape(0);
  const dtype = ctx.dtype(0);
  if (!x) return [{ dtype }];
  const keepDims = ctx.node.attrInt('keepdims', 1) === 1;
  let axes = ctx.node.attrInts('axes') ?? (ctx.has(1) ? ctx.ints(1) : []);
  if (!axes) return [{ dtype, shape: keepDims ? x.map(() => undefined) : undefined }];
  if (!axes.length) {
    if (ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return [{ dtype, shape: x }];
    axes = [...x.keys()];
  }
  const reduced = new Set(axes.map((a) => (a < 0 ? a + x.length : a)));
  const shape = keepDims ? x.map((d, i) => (reduced.has(i) ? 1 : d)) : x.filter((_, i) => !reduced.has(i));
  return [{ dtype, shape }];
};
