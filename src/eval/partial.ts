/**
 * Shape values known in part. `Shape` of a tensor whose dims are partly symbolic ([batch, 320, 64, 64]) is not a
 * constant, but `Gather(Shape(x), 1)` is. This follows such values through the ops that pick and assemble shape
 * elements (Gather, Slice, Concat, Unsqueeze, Squeeze, Cast, Identity); once every element is known, the value is a
 * constant. Symbolic elements stay unknown: this is not shape inference, only the arithmetic-free part of it.
 */
import { DataType } from '../onnx/dtype.js';
import type { Dim } from '../ir/value.js';
import type { EvalContext } from './context.js';
import { CannotEvaluate, intList, isInt, normalizeAxis, type HostTensor } from './host-tensor.js';
import { sliceRanges } from './movement.js';

export interface PartialInts {
  readonly dtype: typeof DataType.INT64 | typeof DataType.INT32;
  /** [] or [n]: shape values are scalars and vectors. */
  readonly dims: readonly number[];
  /** Each element's value, or undefined when symbolic. */
  readonly elems: readonly (bigint | undefined)[];
}

export type Knowledge = HostTensor | PartialInts;

export function isPartial(k: Knowledge | undefined): k is PartialInts {
  return k !== undefined && 'elems' in k;
}

/** The value of Shape(x) (with its start and end) for x of the given dims. */
export function shapeKnowledge(dims: readonly Dim[], start = 0, end = dims.length): PartialInts {
  const rank = dims.length;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + rank : i, 0), rank);
  const picked = dims.slice(clamp(start), Math.max(clamp(start), clamp(end)));
  return { dtype: DataType.INT64, dims: [picked.length], elems: picked.map((d) => (typeof d === 'number' ? BigInt(d) : undefined)) };
}

/** A constant int scalar or vector as a PartialInts (fully known); undefined for anything else. */
function asPartial(k: Knowledge | undefined): PartialInts | undefined {
  if (!k) return undefined;
  if (isPartial(k)) return k;
  if (!isInt(k.dtype) || k.dims.length > 1) return undefined;
  const elems = Array.from(k.data as ArrayLike<number | bigint>, (v) => BigInt(v));
  return { dtype: k.dtype as PartialInts['dtype'], dims: k.dims, elems };
}

/** The full tensor, when every element is known. */
export function completed(p: PartialInts): HostTensor | undefined {
  if (p.elems.some((e) => e === undefined)) return undefined;
  const data = p.dtype === DataType.INT64 ? BigInt64Array.from(p.elems as bigint[]) : Int32Array.from(p.elems as bigint[], (v) => Number(v));
  return { dtype: p.dtype, dims: [...p.dims], data };
}

function constant(k: Knowledge | undefined): HostTensor | undefined {
  return k && !isPartial(k) ? k : undefined;
}

/**
 * What is known of the node's output from partly known inputs; undefined when nothing useful is (the op is not one
 * of those above, or an input it needs whole is not constant).
 */
export function evaluatePartial(inputs: readonly (Knowledge | undefined)[], ctx: EvalContext): PartialInts | undefined {
  try {
    return partialOf(inputs, ctx);
  } catch (err) {
    if (err instanceof CannotEvaluate) return undefined;
    throw err;
  }
}

function partialOf(inputs: readonly (Knowledge | undefined)[], ctx: EvalContext): PartialInts | undefined {
  const node = ctx.node;
  const data = asPartial(inputs[0]);
  if (!data) return undefined;
  switch (node.opType) {
    case 'Identity':
      return data;
    case 'Gather': {
      const indices = constant(inputs[1]);
      if (!indices || data.dims.length !== 1) return undefined;
      normalizeAxis(node.attrInt('axis', 0), 1, 'Gather axis');
      const n = data.elems.length;
      const picks = intList(indices, 'Gather indices');
      if (indices.dims.length > 1 || picks.some((i) => i < -n || i >= n)) return undefined;
      const elems = picks.map((i) => data.elems[i < 0 ? i + n : i]);
      return { dtype: data.dtype, dims: [...indices.dims], elems };
    }
    case 'Slice': {
      if (data.dims.length !== 1) return undefined;
      const rest = inputs.slice(1).map(constant);
      if (ctx.opset >= 10 && (inputs.slice(1).some((k, i) => k !== undefined && !rest[i]))) return undefined;
      const [r] = sliceRanges(data.dims, [undefined, ...rest], ctx);
      const elems = Array.from({ length: r!.count }, (_, i) => data.elems[r!.start + i * r!.step]);
      return { dtype: data.dtype, dims: [elems.length], elems };
    }
    case 'Concat': {
      const parts = inputs.map(asPartial);
      if (parts.some((p) => !p || p.dims.length !== 1 || p.dtype !== data.dtype)) return undefined;
      normalizeAxis(node.attrInt('axis', 0), 1, 'Concat axis');
      const elems = parts.flatMap((p) => [...p!.elems]);
      return { dtype: data.dtype, dims: [elems.length], elems };
    }
    case 'Unsqueeze': {
      if (data.dims.length !== 0) return undefined;
      const axes = ctx.opset < 13 ? node.attrInts('axes') : constant(inputs[1]) && intList(constant(inputs[1])!, 'axes');
      if (!axes || axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1)) return undefined;
      return { dtype: data.dtype, dims: [1], elems: data.elems };
    }
    case 'Squeeze': {
      if (data.dims.length !== 1 || data.dims[0] !== 1) return undefined;
      const axes = ctx.opset < 13 ? node.attrInts('axes') : inputs[1] ? constant(inputs[1]) && intList(constant(inputs[1])!, 'axes') : undefined;
      if (axes && (axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1))) return undefined;
      return { dtype: data.dtype, dims: [], elems: data.elems };
    }
    case 'Cast': {
      const to = node.attrInt('to');
      if (to === DataType.INT64) return { dtype: DataType.INT64, dims: data.dims, elems: data.elems };
      if (to === DataType.INT32) return { dtype: DataType.INT32, dims: data.dims, elems: data.elems.map((e) => (e === undefined ? e : BigInt.asIntN(32, e))) };
      return undefined;
    }
    default:
      return undefined;
  }
}
