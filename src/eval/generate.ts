/** Operators that make tensors from a few scalars: ConstantOfShape, Range; and the reductions shape code uses. */
import { DataType } from '../onnx/dtype.js';
import { tensorFromProto } from '../ir/tensor-proto.js';
import { checkSize, required, type OpEvaluator } from './context.js';
import { allocate, bigintAt, elementCount, host, hostFromTensor, intList, isFloat, normalizeAxis, refuse, stridesOf, type HostTensor } from './host-tensor.js';

export const constantOfShape: OpEvaluator = (inputs, ctx) => {
  const dims = intList(required(inputs, 0, ctx), 'ConstantOfShape shape');
  if (dims.some((d) => d < 0)) refuse('ConstantOfShape shape has a negative dim');
  const proto = ctx.node.attrTensor('value');
  const fill: HostTensor = proto ? (hostFromTensor(tensorFromProto(proto, `${ctx.node}`)) ?? refuse('ConstantOfShape value type is not evaluated')) : host(DataType.FLOAT, [1], new Float32Array(1));
  if (fill.data.length !== 1) refuse('ConstantOfShape value must hold one element');
  const count = elementCount(dims);
  checkSize(ctx, fill.dtype, count);
  const out = allocate(fill.dtype, count);
  (out as unknown as { fill(v: unknown): void }).fill(fill.data[0]);
  return [host(fill.dtype, dims, out)];
};

export const range: OpEvaluator = (inputs, ctx) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => required(inputs, i, ctx));
  const dtype = start!.dtype;
  if (limit!.dtype !== dtype || delta!.dtype !== dtype || start!.data.length !== 1) refuse('Range inputs must be scalars of one type');
  if (isFloat(dtype)) {
    const [s, l, d] = [start!, limit!, delta!].map((t) => Number(t.data[0]));
    if (d === 0) refuse('Range delta is 0');
    const count = Math.max(Math.ceil((l! - s!) / d!), 0);
    checkSize(ctx, dtype, count);
    // ONNX Runtime accumulates (value += delta) in the element type; so does this, rounding each step.
    const round = dtype === DataType.FLOAT ? Math.fround : (x: number) => x;
    const out = allocate(dtype, count) as Float32Array | Float64Array;
    for (let i = 0, v = round(s!); i < count; i++, v = round(v + d!)) out[i] = v;
    return [host(dtype, [count], out)];
  }
  const [s, l, d] = [start!, limit!, delta!].map((t) => bigintAt(t, 0));
  if (d === 0n) refuse('Range delta is 0');
  const span = l! - s!;
  // ceil((l - s) / d) for integers of either sign
  const q = span / d!;
  const count = Number(q * d! === span || (span < 0n) !== (d! < 0n) ? q : q + 1n);
  const n = Math.max(count, 0);
  checkSize(ctx, dtype, n);
  const out = allocate(dtype, n);
  for (let i = 0; i < n; i++) {
    const v = s! + BigInt(i) * d!;
    (out as unknown as (number | bigint)[])[i] = dtype === DataType.INT64 ? v : Number(v);
  }
  return [host(dtype, [n], out)];
};

/** A reduction over `axes` (all when none), keeping reduced dims as 1 when keepdims. */
function reduction(initial: number, combine: (a: number, b: number) => number, bigInitial: bigint, bigCombine: (a: bigint, b: bigint) => bigint): OpEvaluator {
  return (inputs, ctx) => {
    const data = required(inputs, 0, ctx);
    if (data.dtype === DataType.BOOL) refuse(`${ctx.node.opType} is not evaluated on bool`);
    const rank = data.dims.length;
    const fromInput = ctx.opset >= 18 || (ctx.node.opType === 'ReduceSum' && ctx.opset >= 13);
    const listed = fromInput ? (inputs[1] ? intList(inputs[1], 'axes') : undefined) : ctx.node.attrInts('axes');
    if ((!listed || !listed.length) && fromInput && ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return [data];
    const axes = new Set((listed?.length ? listed : data.dims.map((_, i) => i)).map((a) => normalizeAxis(a, rank)));
    const keep = ctx.node.attrInt('keepdims', 1) === 1;
    const reducedDims = data.dims.map((d, i) => (axes.has(i) ? 1 : d));
    const outStrides = stridesOf(reducedDims);
    const inStrides = stridesOf(data.dims);
    const count = elementCount(reducedDims);
    const big = data.dtype === DataType.INT64;
    const acc: (number | bigint)[] = new Array(count).fill(big ? bigInitial : initial);
    for (let i = 0; i < data.data.length; i++) {
      let o = 0;
      for (let axis = 0; axis < rank; axis++) {
        if (!axes.has(axis)) o += Math.floor(i / inStrides[axis]!) % data.dims[axis]! * outStrides[axis]!;
      }
      acc[o] = big ? bigCombine(acc[o] as bigint, data.data[i] as bigint) : combine(acc[o] as number, data.data[i] as number);
    }
    const out = allocate(data.dtype, count);
    acc.forEach((v, i) => ((out as unknown as (number | bigint)[])[i] = v));
    const outDims = keep ? reducedDims : data.dims.filter((_, i) => !axes.has(i));
    return [host(data.dtype, outDims, out)];
  };
}

export const reduceProd = reduction(1, (a, b) => a * b, 1n, (a, b) => a * b);
export const reduceSum = reduction(0, (a, b) => a + b, 0n, (a, b) => a + b);
