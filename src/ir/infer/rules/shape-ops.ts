/**
 * Operators that move data or compute shapes. Their values are propagated (for small tensors) so that the
 * TorchScript exports' Shape → Gather → Unsqueeze → Concat → Reshape chains give Reshape real output shapes.
 */
import { int64ToNumber } from '../../../onnx/codec.js';
import { DataType } from '../../../onnx/dtype.js';
import type { Dim } from '../../value.js';
import { addDims, ceilDivDims, floorDivDims, mulDims, productOfDims, subDims } from '../dim-expr.js';
import { elementCount, isIntegerType, knownFromProto, MAX_KNOWN_ELEMENTS, mapBroadcast, numbersOf } from '../known-values.js';
import type { KnownTensor, OutputInference, Rule, RuleContext } from '../rule.js';
import { broadcastShapes, isStatic, mergeDim, normalizeAxis, unknownDims } from '../shape-util.js';

/** Past this, a Slice bound means "to the end" (exporters write INT64_MAX or INT32_MAX). */
const TO_THE_END = 2 ** 30;

/** A value with these dims, when the dims are all known numbers. */
function reshaped(v: KnownTensor | undefined, shape: Dim[] | undefined): KnownTensor | undefined {
  return v && isStatic(shape) && elementCount(shape) === v.data.length ? { dims: shape, data: v.data } : undefined;
}

export const constant: Rule = (ctx) => {
  const node = ctx.node;
  for (const a of node.attributes) {
    switch (a.name) {
      case 'value': {
        if (!a.t) return [];
        const value = knownFromProto(a.t, `${node}`);
        const dims = (a.t.dims ?? []).map((d, i) => int64ToNumber(d, `dim ${i}`));
        return [{ dtype: (a.t.data_type ?? 0) as DataType, shape: dims, value }];
      }
      case 'value_float':
        return [{ dtype: DataType.FLOAT, shape: [], value: { dims: [], data: [a.f ?? 0] } }];
      case 'value_int':
        return [{ dtype: DataType.INT64, shape: [], value: { dims: [], data: [node.attrInt('value_int', 0)] } }];
      case 'value_floats': {
        const data = [...(a.floats ?? [])];
        return [{ dtype: DataType.FLOAT, shape: [data.length], value: data.length <= MAX_KNOWN_ELEMENTS ? { dims: [data.length], data } : undefined }];
      }
      case 'value_ints': {
        const data = node.attrInts('value_ints') ?? [];
        return [{ dtype: DataType.INT64, shape: [data.length], value: data.length <= MAX_KNOWN_ELEMENTS ? { dims: [data.length], data } : undefined }];
      }
      case 'value_string':
        return [{ dtype: DataType.STRING, shape: [] }];
      case 'value_strings':
        return [{ dtype: DataType.STRING, shape: [a.strings?.length ?? 0] }];
      case 'sparse_value':
        return [{ dtype: (a.sparse_tensor?.values?.data_type ?? 0) as DataType, shape: (a.sparse_tensor?.dims ?? []).map((d, i) => int64ToNumber(d, `dim ${i}`)) }];
    }
  }
  return [];
};

export const shape: Rule = (ctx) => {
  const input = ctx.shape(0);
  if (!input) return [{ dtype: DataType.INT64, shape: [undefined] }];
  const rank = input.length;
  const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + rank : x, 0), rank);
  const start = clamp(ctx.node.attrInt('start', 0));
  const end = clamp(ctx.node.attrInt('end', rank));
  const data = input.slice(start, Math.max(start, end));
  return [{ dtype: DataType.INT64, shape: [data.length], value: { dims: [data.length], data } }];
};

export const size: Rule = (ctx) => {
  const input = ctx.shape(0);
  return [{ dtype: DataType.INT64, shape: [], value: input && { dims: [], data: [productOfDims(input)] } }];
};

export const cast: Rule = (ctx) => {
  const to = ctx.node.attrInt('to', 0) as DataType;
  const v = ctx.value(0);
  let value: KnownTensor | undefined;
  if (v) {
    const convert = (x: Dim): Dim => {
      if (typeof x !== 'number') return to === DataType.BOOL ? undefined : x;
      if (to === DataType.BOOL) return x !== 0 ? 1 : 0;
      return isIntegerType(to) ? Math.trunc(x) : x;
    };
    value = { dims: v.dims, data: v.data.map(convert) };
  }
  return [{ dtype: to, shape: ctx.shape(0), value }];
};

export const reshape: Rule = (ctx) => {
  const input = ctx.shape(0);
  const target = ctx.value(1);
  const dtype = ctx.dtype(0);
  if (!target) {
    const targetShape = ctx.shape(1);
    return [{ dtype, shape: unknownDims(targetShape?.[0]) }];
  }
  const allowZero = ctx.node.attrInt('allowzero', 0) === 1;
  let inferAt = -1;
  const out: Dim[] = target.data.map((t, i) => {
    if (t === 0 && !allowZero) return input?.[i];
    if (t === -1) {
      inferAt = i;
      return undefined;
    }
    return typeof t === 'number' && t < 0 ? undefined : t;
  });
  if (inferAt >= 0 && input) {
    const rest = out.filter((_, i) => i !== inferAt);
    out[inferAt] = floorDivDims(productOfDims(input), productOfDims(rest));
  }
  return [{ dtype, shape: out, value: reshaped(ctx.value(0), out) }];
};

export const flatten: Rule = (ctx) => {
  const input = ctx.shape(0);
  if (!input) return [{ dtype: ctx.dtype(0), shape: [undefined, undefined] }];
  const axis = ctx.node.attrInt('axis', 1);
  const a = axis < 0 ? axis + input.length : axis;
  const shape = [productOfDims(input.slice(0, a)), productOfDims(input.slice(a))];
  return [{ dtype: ctx.dtype(0), shape, value: reshaped(ctx.value(0), shape) }];
};

/** Axes from the attribute (older opsets) or the second input (opset 13 on). */
function axesOf(ctx: RuleContext): number[] | undefined {
  return ctx.node.attrInts('axes') ?? (ctx.has(1) ? ctx.ints(1) : undefined);
}

export const unsqueeze: Rule = (ctx) => {
  const input = ctx.shape(0);
  const axes = axesOf(ctx);
  if (!input || !axes) return [{ dtype: ctx.dtype(0) }];
  const rank = input.length + axes.length;
  const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const rest = [...input];
  const shape: Dim[] = [];
  for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : rest.shift());
  return [{ dtype: ctx.dtype(0), shape, value: reshaped(ctx.value(0), shape) }];
};

export const squeeze: Rule = (ctx) => {
  const input = ctx.shape(0);
  if (!input) return [{ dtype: ctx.dtype(0) }];
  const axes = ctx.node.attrInts('axes') ?? (ctx.has(1) ? ctx.ints(1) : []);
  if (!axes) return [{ dtype: ctx.dtype(0) }];
  let shape: Dim[];
  if (axes.length) {
    const drop = new Set(axes.map((a) => (a < 0 ? a + input.length : a)));
    shape = input.filter((_, i) => !drop.has(i));
  } else {
    // Without axes every size-1 dim goes; a symbolic dim is taken not to be 1.
    if (input.includes(undefined)) return [{ dtype: ctx.dtype(0) }];
    shape = input.filter((d) => d !== 1);
  }
  return [{ dtype: ctx.dtype(0), shape, value: reshaped(ctx.value(0), shape) }];
};

export const transpose: Rule = (ctx) => {
  const input = ctx.shape(0);
  if (!input) return [{ dtype: ctx.dtype(0) }];
  const perm = ctx.node.attrInts('perm') ?? input.map((_, i) => input.length - 1 - i);
  const shape = perm.map((p) => input[p]);
  const v = ctx.value(0);
  return [{ dtype: ctx.dtype(0), shape, value: v && input.length <= 1 ? v : undefined }];
};

export const concat: Rule = (ctx) => {
  const indices = [...Array(ctx.inputCount).keys()].filter((i) => ctx.has(i));
  const shapes = indices.map((i) => ctx.shape(i));
  const dtype = indices.map((i) => ctx.dtype(i)).find((d) => d !== undefined);
  const known = shapes.filter((s): s is Dim[] => s !== undefined);
  if (!known.length) return [{ dtype }];
  const rank = known[0]!.length;
  const axis = normalizeAxis(ctx.node.attrInt('axis', 0), rank);
  if (axis === undefined) return [{ dtype }];
  const shape: Dim[] = [];
  for (let d = 0; d < rank; d++) {
    if (d === axis) {
      shape.push(shapes.reduce<Dim>((sum, s) => (s ? addDims(sum, s[d]) : undefined), 0));
      continue;
    }
    shape.push(known.reduce<Dim>((m, s) => mergeDim(m, s[d], ctx.problem, `Concat dims on axis ${d}`), undefined));
  }
  let value: KnownTensor | undefined;
  const values = indices.map((i) => ctx.value(i));
  if (rank === 1 && values.every((v) => v !== undefined)) {
    const data = values.flatMap((v) => v!.data);
    if (data.length <= MAX_KNOWN_ELEMENTS) value = { dims: [data.length], data };
  }
  return [{ dtype, shape, value }];
};

export const gather: Rule = (ctx) => {
  const data = ctx.shape(0);
  const indices = ctx.shape(1);
  const dtype = ctx.dtype(0);
  if (!data || !indices) return [{ dtype }];
  const axis = normalizeAxis(ctx.node.attrInt('axis', 0), data.length);
  if (axis === undefined) return [{ dtype }];
  const shape = [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  return [{ dtype, shape, value: gatherValue(ctx.value(0), numbersOf(ctx.value(1)), axis, shape) }];
};

function gatherValue(data: KnownTensor | undefined, indices: number[] | undefined, axis: number, shape: Dim[]): KnownTensor | undefined {
  if (!data || !indices || !isStatic(shape) || elementCount(shape) > MAX_KNOWN_ELEMENTS) return undefined;
  const outer = elementCount(data.dims.slice(0, axis));
  const axisLen = data.dims[axis]!;
  const inner = elementCount(data.dims.slice(axis + 1));
  const out: Dim[] = [];
  for (let o = 0; o < outer; o++) {
    for (const raw of indices) {
      const ix = raw < 0 ? raw + axisLen : raw;
      if (ix < 0 || ix >= axisLen) return undefined;
      for (let k = 0; k < inner; k++) out.push(data.data[(o * axisLen + ix) * inner + k]);
    }
  }
  return { dims: shape, data: out };
}

/** One axis of a Slice: the first index taken and the output length. */
function sliceAxis(dim: Dim, start: Dim, end: Dim, step: number): { first: Dim; length: Dim } {
  if (typeof dim === 'number' && typeof start === 'number' && typeof end === 'number') {
    let s = start < 0 ? start + dim : start;
    let e = end < 0 ? end + dim : end;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    return { first: s, length: Math.max(0, Math.ceil((e - s) / step)) };
  }
  // Symbolic: a bound that is not "past the end" is taken to lie within the dim (exporters slice within range).
  const bound = (b: Dim, last: Dim, beforeFirst: number): Dim => {
    if (typeof b !== 'number') return b;
    if (b >= TO_THE_END) return last;
    if (b <= -TO_THE_END) return beforeFirst;
    return b < 0 ? addDims(dim, b) : b;
  };
  const s = step > 0 ? bound(start, dim, 0) : bound(start, subDims(dim, 1), 0);
  const e = step > 0 ? bound(end, dim, 0) : bound(end, subDims(dim, 1), -1);
  const span = step > 0 ? subDims(e, s) : subDims(s, e);
  return { first: s, length: ceilDivDims(span, Math.abs(step)) };
}

export const slice: Rule = (ctx) => {
  const input = ctx.shape(0);
  const dtype = ctx.dtype(0);
  if (!input) return [{ dtype }];
  const node = ctx.node;
  const attrForm = node.attr('starts') !== undefined;
  const starts: Dim[] | undefined = attrForm ? node.attrInts('starts') : ctx.value(1)?.data;
  const ends: Dim[] | undefined = attrForm ? node.attrInts('ends') : ctx.value(2)?.data;
  const axes = attrForm ? node.attrInts('axes') : ctx.has(3) ? ctx.ints(3) : undefined;
  const steps = attrForm ? undefined : ctx.has(4) ? ctx.ints(4) : undefined;
  const sliced = ctx.has(3) && !axes ? undefined : (axes ?? starts?.map((_, i) => i));
  // Unknown bounds: which axes change is unknown, but the rank stays.
  const unknown = [{ dtype, shape: input.map(() => undefined) }];
  if (!starts || !ends || !sliced || (ctx.has(4) && !steps)) return unknown;
  const shape = [...input];
  let taken: { first: Dim; step: number } | undefined;
  for (const [k, rawAxis] of sliced.entries()) {
    const axis = normalizeAxis(rawAxis, input.length);
    const step = steps?.[k] ?? 1;
    if (axis === undefined || step === 0) return unknown;
    const { first, length } = sliceAxis(input[axis], starts[k], ends[k], step);
    shape[axis] = length;
    if (axis === 0) taken = { first, step };
  }
  const v = ctx.value(0);
  let value: KnownTensor | undefined;
  if (v && input.length === 1 && isStatic(shape)) {
    const { first, step } = taken ?? { first: 0, step: 1 };
    // shape[0] comes from the input's recorded type, which may claim more elements than the known value holds.
    if (typeof first === 'number' && shape[0]! <= v.data.length) value = { dims: shape, data: [...Array(shape[0]).keys()].map((i) => v.data[first + i * step]) };
  }
  return [{ dtype, shape, value }];
};

export const expand: Rule = (ctx) => {
  const input = ctx.shape(0);
  const target = ctx.value(1);
  const dtype = ctx.dtype(0);
  if (!input || !target) {
    const n = ctx.shape(1)?.[0];
    return [{ dtype, shape: typeof n === 'number' && input ? unknownDims(Math.max(n, input.length)) : undefined }];
  }
  const shape = broadcastShapes([input, target.data], ctx.problem);
  const v = ctx.value(0);
  return [{ dtype, shape, value: v && isStatic(shape) ? mapBroadcast([v], shape, ([x]) => x) : undefined }];
};

export const constantOfShape: Rule = (ctx) => {
  const fill = ctx.node.attrTensor('value');
  const dtype = (fill?.data_type ?? DataType.FLOAT) as DataType;
  const target = ctx.value(0);
  if (!target) {
    return [{ dtype, shape: unknownDims(ctx.shape(0)?.[0]) }];
  }
  const shape = target.data;
  let value: KnownTensor | undefined;
  // A target of negative or fractional sizes is invalid: leave the value unknown rather than count its elements.
  if (isStatic(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0) && elementCount(shape) <= MAX_KNOWN_ELEMENTS) {
    const element = fill ? knownFromProto(fill, `${ctx.node}`)?.data[0] : 0;
    value = { dims: shape, data: new Array<Dim>(elementCount(shape)).fill(element) };
  }
  return [{ dtype, shape, value }];
};

export const split: Rule = (ctx) => {
  const input = ctx.shape(0);
  const dtype = ctx.dtype(0);
  const n = ctx.node.outputs.length;
  if (!input) return new Array(n).fill({ dtype });
  const axis = normalizeAxis(ctx.node.attrInt('axis', 0), input.length);
  if (axis === undefined) return new Array(n).fill({ dtype });
  const sizes: Dim[] | undefined = ctx.node.attrInts('split') ?? (ctx.has(1) ? ctx.value(1)?.data : undefined);
  const dim = input[axis];
  let parts: Dim[];
  if (sizes) parts = sizes;
  else if (ctx.has(1)) parts = new Array<Dim>(n).fill(undefined);
  else {
    // Equal parts; with num_outputs (opset 18) the last may be smaller.
    if (typeof dim === 'number') {
      const each = Math.ceil(dim / n);
      parts = new Array<Dim>(n).fill(each);
      parts[n - 1] = dim - each * (n - 1);
    } else parts = new Array<Dim>(n).fill(floorDivDims(dim, n));
  }
  return parts.map((p): OutputInference => {
    const shape = [...input];
    shape[axis] = p;
    return { dtype, shape };
  });
};

export const tile: Rule = (ctx) => {
  const input = ctx.shape(0);
  const repeats = ctx.value(1)?.data;
  if (!input || !repeats) return [{ dtype: ctx.dtype(0), shape: input?.map(() => undefined) }];
  return [{ dtype: ctx.dtype(0), shape: input.map((d, i) => mulDims(d, repeats[i])) }];
};

export const range: Rule = (ctx) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => numbersOf(ctx.value(i))?.[0]);
  const dtype = ctx.dtype(0);
  if (start === undefined || limit === undefined || delta === undefined || delta === 0) return [{ dtype, shape: [undefined] }];
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const value = n <= MAX_KNOWN_ELEMENTS ? { dims: [n], data: [...Array(n).keys()].map((i) => start + i * delta) } : undefined;
  return [{ dtype, shape: [n], value }];
};
