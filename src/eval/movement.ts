/**
 * Operators that move elements without computing on them: Identity, Reshape, Unsqueeze, Squeeze, Flatten,
 * Transpose, Concat, Slice, Gather, Expand. Attributes that became inputs (axes at opset 13, Slice's at 10) are read
 * from wherever the node's opset puts them.
 */
import { broadcastDims, broadcastIndex } from './broadcast.js';
import { checkSize, required, type EvalContext, type OpEvaluator } from './context.js';
import { int64ToBigInt } from '../onnx/codec.js';
import { allocate, clampedIntList, elementCount, host, int64Vector, intList, normalizeAxis, refuse, stridesOf, type HostData, type HostTensor } from './host-tensor.js';

/** A copy of `t`'s elements under new dims (element order unchanged). */
function withDims(t: HostTensor, dims: readonly number[], ctx: EvalContext): HostTensor {
  checkSize(ctx, t.dtype, t.data.length);
  return host(t.dtype, dims, t.data.slice() as HostData);
}

export const identity: OpEvaluator = (inputs, ctx) => [required(inputs, 0, ctx)];

/** Reshape's target: 0 copies the input's dim (unless allowzero), -1 takes what is left. */
export function reshapeDims(inDims: readonly number[], target: readonly number[], allowZero: boolean): number[] {
  const total = elementCount(inDims);
  const out = target.map((d, i) => (d === 0 && !allowZero ? (i < inDims.length ? inDims[i]! : refuse('Reshape copies a dim the input lacks')) : d));
  const inferred = out.filter((d) => d === -1).length;
  if (inferred > 1 || out.some((d) => d < -1)) refuse(`Reshape target [${target.join(', ')}] is invalid`);
  const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (inferred) {
    if (known === 0 || total % known !== 0) refuse(`cannot reshape ${total} elements to [${target.join(', ')}]`);
    out[out.indexOf(-1)] = total / known;
  } else if (known !== total) {
    refuse(`cannot reshape ${total} elements to [${target.join(', ')}]`);
  }
  return out;
}

export const reshape: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const target = intList(required(inputs, 1, ctx), 'Reshape shape');
  return [withDims(data, reshapeDims(data.dims, target, ctx.node.attrInt('allowzero', 0) === 1), ctx)];
};

/** Axes from the attribute (older opsets) or the second input. */
function axesOf(inputs: readonly (HostTensor | undefined)[], ctx: EvalContext, inputFrom: number): number[] | undefined {
  if (ctx.opset < inputFrom) return ctx.node.attrInts('axes');
  const t = inputs[1];
  return t ? intList(t, 'axes') : undefined;
}

export function unsqueezeDims(dims: readonly number[], axes: readonly number[]): number[] {
  const rank = dims.length + axes.length;
  const at = new Set(axes.map((a) => normalizeAxis(a, rank)));
  if (at.size !== axes.length) refuse('Unsqueeze axes repeat');
  const out: number[] = [];
  let from = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : dims[from++]!);
  return out;
}

export function squeezeDims(dims: readonly number[], axes: readonly number[] | undefined): number[] {
  if (!axes) return dims.filter((d) => d !== 1);
  const at = new Set(axes.map((a) => normalizeAxis(a, dims.length)));
  for (const a of at) if (dims[a] !== 1) refuse(`Squeeze axis ${a} has size ${dims[a]}, not 1`);
  return dims.filter((_, i) => !at.has(i));
}

export const unsqueeze: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const axes = axesOf(inputs, ctx, 13) ?? refuse('Unsqueeze has no axes');
  return [withDims(data, unsqueezeDims(data.dims, axes), ctx)];
};

export const squeeze: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  return [withDims(data, squeezeDims(data.dims, axesOf(inputs, ctx, 13)), ctx)];
};

export const flatten: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const axis = ctx.node.attrInt('axis', 1);
  const a = axis < 0 ? axis + data.dims.length : axis;
  if (a < 0 || a > data.dims.length) refuse(`Flatten axis ${axis} is out of range`);
  return [withDims(data, [elementCount(data.dims.slice(0, a)), elementCount(data.dims.slice(a))], ctx)];
};

export const transpose: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const rank = data.dims.length;
  const perm = ctx.node.attrInts('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || perm.some((p) => p < 0 || p >= rank) || new Set(perm).size !== rank) refuse(`Transpose perm [${perm.join(', ')}] is invalid`);
  const outDims = perm.map((p) => data.dims[p]!);
  const inStrides = stridesOf(data.dims);
  const permStrides = perm.map((p) => inStrides[p]!);
  const count = data.data.length;
  checkSize(ctx, data.dtype, count);
  const out = allocate(data.dtype, count);
  const counter = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < count; i++) {
    (out as unknown as (number | bigint)[])[i] = data.data[at]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      at += permStrides[axis]!;
      if (counter[axis]! < outDims[axis]!) break;
      at -= permStrides[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return [host(data.dtype, outDims, out)];
};

export const concat: OpEvaluator = (inputs, ctx) => {
  const parts = inputs.filter((t): t is HostTensor => t !== undefined);
  const first = parts[0] ?? refuse('Concat has no inputs');
  const rank = first.dims.length;
  const axis = normalizeAxis(ctx.node.attrInt('axis') ?? refuse('Concat has no axis'), rank);
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      refuse('Concat inputs disagree in element type or shape');
    }
  }
  const outDims = [...first.dims];
  outDims[axis] = parts.reduce((s, p) => s + p.dims[axis]!, 0);
  const count = elementCount(outDims);
  checkSize(ctx, first.dtype, count);
  const out = allocate(first.dtype, count);
  const outer = elementCount(first.dims.slice(0, axis));
  const inner = elementCount(first.dims.slice(axis + 1));
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = p.dims[axis]! * inner;
      (out as unknown as { set(a: ArrayLike<unknown>, at: number): void }).set(p.data.subarray(o * block, (o + 1) * block) as never, at);
      at += block;
    }
  }
  return [host(first.dtype, outDims, out)];
};

/** One axis of a slice: the first index, the step, and how many elements. */
export interface SliceRange {
  start: number;
  step: number;
  count: number;
}

/** ONNX Slice's clamping rules for one axis of size `dim`. */
export function sliceRange(dim: number, start: number, end: number, step: number): SliceRange {
  if (step === 0) refuse('Slice step is 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
    return { start: s, step, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  s = Math.min(Math.max(s, 0), dim - 1);
  e = Math.min(Math.max(e, -1), dim - 1);
  return { start: s, step, count: Math.max(0, Math.ceil((e - s) / step)) };
}

/** An ints attribute, with INT64_MAX-style values clamped to ±2^53 (exact reading would refuse them). */
function clampedAttrInts(ctx: EvalContext, name: string): number[] | undefined {
  const ints = ctx.node.attr(name)?.ints;
  if (!ints) return undefined;
  return clampedIntList(int64Vector(ints.map((v) => int64ToBigInt(v))), `Slice ${name}`);
}

/** Per-axis ranges of a Slice over `dims`, from its starts/ends/axes/steps wherever the opset keeps them. */
export function sliceRanges(dims: readonly number[], inputs: readonly (HostTensor | undefined)[], ctx: EvalContext): SliceRange[] {
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = clampedAttrInts(ctx, 'starts') ?? refuse('Slice has no starts');
    ends = clampedAttrInts(ctx, 'ends') ?? refuse('Slice has no ends');
    axes = clampedAttrInts(ctx, 'axes');
  } else {
    starts = clampedIntList(required(inputs, 1, ctx), 'Slice starts');
    ends = clampedIntList(required(inputs, 2, ctx), 'Slice ends');
    axes = inputs[3] ? intList(inputs[3], 'Slice axes') : undefined;
    steps = inputs[4] ? clampedIntList(inputs[4], 'Slice steps') : undefined;
  }
  const ranges: SliceRange[] = dims.map((d) => ({ start: 0, step: 1, count: d }));
  if (ends.length !== starts.length) refuse('Slice starts and ends differ in length');
  const seen = new Set<number>();
  starts.forEach((start, i) => {
    const axis = normalizeAxis(axes ? (axes[i] ?? refuse('Slice axes too short')) : i, dims.length, 'Slice axis');
    if (seen.has(axis)) refuse('Slice axes repeat');
    seen.add(axis);
    ranges[axis] = sliceRange(dims[axis]!, start, ends[i]!, steps?.[i] ?? 1);
  });
  return ranges;
}

export const slice: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const ranges = sliceRanges(data.dims, inputs, ctx);
  const outDims = ranges.map((r) => r.count);
  const count = elementCount(outDims);
  checkSize(ctx, data.dtype, count);
  const strides = stridesOf(data.dims);
  const out = allocate(data.dtype, count);
  const rank = outDims.length;
  const counter = new Array<number>(rank).fill(0);
  const base = ranges.reduce((s, r, i) => s + r.start * strides[i]!, 0);
  const step = ranges.map((r, i) => r.step * strides[i]!);
  let at = base;
  for (let i = 0; i < count; i++) {
    (out as unknown as (number | bigint)[])[i] = data.data[at]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      at += step[axis]!;
      if (counter[axis]! < outDims[axis]!) break;
      at -= step[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return [host(data.dtype, outDims, out)];
};

export const gather: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const indices = required(inputs, 1, ctx);
  const axis = normalizeAxis(ctx.node.attrInt('axis', 0), data.dims.length, 'Gather axis');
  const dim = data.dims[axis]!;
  const picks = intList(indices, 'Gather indices').map((i) => {
    const j = i < 0 ? i + dim : i;
    if (j < 0 || j >= dim) refuse(`Gather index ${i} is out of range for size ${dim}`);
    return j;
  });
  const outDims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  const count = elementCount(outDims);
  checkSize(ctx, data.dtype, count);
  const out = allocate(data.dtype, count);
  const outer = elementCount(data.dims.slice(0, axis));
  const inner = elementCount(data.dims.slice(axis + 1));
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const j of picks) {
      const from = (o * dim + j) * inner;
      (out as unknown as { set(a: ArrayLike<unknown>, at: number): void }).set(data.data.subarray(from, from + inner) as never, at);
      at += inner;
    }
  }
  return [host(data.dtype, outDims, out)];
};

export const expand: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const shape = intList(required(inputs, 1, ctx), 'Expand shape');
  if (shape.some((d) => d < 0)) refuse('Expand shape has a negative dim');
  const outDims = broadcastDims([data.dims, shape]);
  const count = elementCount(outDims);
  checkSize(ctx, data.dtype, count);
  const map = broadcastIndex(outDims, data.dims);
  if (!map) return [withDims(data, outDims, ctx)];
  const out = allocate(data.dtype, count);
  for (let i = 0; i < count; i++) (out as unknown as (number | bigint)[])[i] = data.data[map[i]!]!;
  return [host(data.dtype, outDims, out)];
};

/**
 * Trilu: keeps the upper (upper=1, the default) or lower triangle of the last two axes, counting diagonals from
 * k (input 1, default 0), and zeroes the rest. TorchScript builds the causal attention mask with it.
 */
export const trilu: OpEvaluator = (inputs, ctx) => {
  const data = required(inputs, 0, ctx);
  const rank = data.dims.length;
  if (rank < 2) refuse('Trilu needs a tensor of rank 2 or more');
  const k = inputs[1] ? intList(inputs[1], 'Trilu k')[0] ?? 0 : 0;
  const upper = ctx.node.attrInt('upper', 1) === 1;
  const rows = data.dims[rank - 2]!;
  const cols = data.dims[rank - 1]!;
  checkSize(ctx, data.dtype, data.data.length);
  const out = allocate(data.dtype, data.data.length);
  const src = data.data as unknown as ArrayLike<number | bigint>;
  const dst = out as unknown as (number | bigint)[];
  for (let i = 0; i < data.data.length; i++) {
    const col = i % cols;
    const row = Math.floor(i / cols) % rows;
    const keep = upper ? col - row >= k : col - row <= k;
    if (keep) dst[i] = src[i]!;
  }
  return [host(data.dtype, data.dims, out)];
};
