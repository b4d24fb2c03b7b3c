/**
 * Elementwise operators with numpy broadcasting. Arithmetic follows ONNX Runtime's kernels: float32 results are
 * rounded to float32 after each operation; integer Div truncates toward zero (C++ semantics, not numpy's floor);
 * integer division by zero and float→int casts of values that do not fit are refused, since the runtime's result
 * is undefined there.
 */
import { DataType } from '../onnx/dtype.js';
import { broadcastDims, broadcastIndex } from './broadcast.js';
import { checkSize, required, type EvalContext, type OpEvaluator } from './context.js';
import { allocate, elementCount, host, isFloat, isInt, refuse, type HostData, type HostTensor } from './host-tensor.js';

type NumOp = (x: number, y: number) => number;
type BigOp = (x: bigint, y: bigint) => bigint;

/** Reads elements of several broadcast inputs: `at(k, i)` is input k's element for output element i. */
function broadcastReader(inputs: readonly HostTensor[], ctx: EvalContext, outDtype: DataType) {
  const dims = broadcastDims(inputs.map((t) => t.dims));
  const count = elementCount(dims);
  checkSize(ctx, outDtype, count);
  const maps = inputs.map((t) => broadcastIndex(dims, t.dims));
  const index = (k: number, i: number): number => (maps[k] ? maps[k]![i]! : i);
  return { dims, count, index };
}

function sameDtype(a: HostTensor, b: HostTensor, ctx: EvalContext): DataType {
  if (a.dtype !== b.dtype) refuse(`${ctx.node.opType} mixes element types ${a.dtype} and ${b.dtype}`);
  return a.dtype;
}

function arithmetic(num: NumOp, big: BigOp, int32?: NumOp): OpEvaluator {
  return (inputs, ctx) => {
    const a = required(inputs, 0, ctx);
    const b = required(inputs, 1, ctx);
    const dtype = sameDtype(a, b, ctx);
    if (dtype === DataType.BOOL) refuse(`${ctx.node.opType} is not defined on bool`);
    const { dims, count, index } = broadcastReader([a, b], ctx, dtype);
    const out = allocate(dtype, count);
    if (dtype === DataType.INT64) {
      const x = a.data as BigInt64Array;
      const y = b.data as BigInt64Array;
      const o = out as BigInt64Array;
      for (let i = 0; i < count; i++) o[i] = big(x[index(0, i)]!, y[index(1, i)]!);
    } else {
      const x = a.data as Exclude<HostData, BigInt64Array>;
      const y = b.data as Exclude<HostData, BigInt64Array>;
      const f = dtype === DataType.INT32 && int32 ? int32 : num;
      for (let i = 0; i < count; i++) out[i] = f(x[index(0, i)]!, y[index(1, i)]!);
    }
    return [host(dtype, dims, out)];
  };
}

const intDivide: NumOp = (x, y) => (y === 0 ? refuse('integer division by zero') : Math.trunc(x / y));
const bigDivide: BigOp = (x, y) => (y === 0n ? refuse('integer division by zero') : x / y);

export const add = arithmetic((x, y) => x + y, (x, y) => x + y);
export const sub = arithmetic((x, y) => x - y, (x, y) => x - y);
export const mul = arithmetic((x, y) => x * y, (x, y) => x * y, Math.imul);
export const div = arithmetic((x, y) => x / y, bigDivide, intDivide);

/** Min and Max take any number of inputs. */
function variadic(num: NumOp, big: BigOp): OpEvaluator {
  const pair = arithmetic(num, big);
  return (inputs, ctx) => {
    const present = inputs.filter((t): t is HostTensor => t !== undefined);
    if (!present.length) refuse(`${ctx.node.opType} has no inputs`);
    let acc = present[0]!;
    for (const next of present.slice(1)) acc = pair([acc, next], ctx)[0]!;
    return [acc];
  };
}

// NaN propagates, as in ONNX Runtime's Min/Max.
const nanMin: NumOp = (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y));
const nanMax: NumOp = (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y));
export const min = variadic(nanMin, (x, y) => (x < y ? x : y));
export const max = variadic(nanMax, (x, y) => (x > y ? x : y));

export const pow: OpEvaluator = (inputs, ctx) => {
  const base = required(inputs, 0, ctx);
  const exponent = required(inputs, 1, ctx);
  if (base.dtype === DataType.BOOL || exponent.dtype === DataType.BOOL) refuse('Pow is not defined on bool');
  const { dims, count, index } = broadcastReader([base, exponent], ctx, base.dtype);
  const out = allocate(base.dtype, count);
  for (let i = 0; i < count; i++) {
    const x = base.data[index(0, i)]!;
    const y = exponent.data[index(1, i)]!;
    if (isFloat(base.dtype)) {
      out[i] = Math.pow(Number(x), Number(y));
    } else {
      const e = typeof y === 'bigint' ? y : Number.isInteger(y) ? BigInt(y) : refuse('integer Pow with a fractional exponent');
      if (e < 0n) refuse('integer Pow with a negative exponent');
      const r = BigInt(x) ** e;
      (out as Int32Array | BigInt64Array)[i] = (base.dtype === DataType.INT64 ? BigInt.asIntN(64, r) : Number(BigInt.asIntN(32, r))) as never;
    }
  }
  return [host(base.dtype, dims, out)];
};

type Compare = (x: number | bigint, y: number | bigint) => boolean;

function comparison(test: Compare): OpEvaluator {
  return (inputs, ctx) => {
    const a = required(inputs, 0, ctx);
    const b = required(inputs, 1, ctx);
    sameDtype(a, b, ctx);
    const { dims, count, index } = broadcastReader([a, b], ctx, DataType.BOOL);
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = test(a.data[index(0, i)]!, b.data[index(1, i)]!) ? 1 : 0;
    return [host(DataType.BOOL, dims, out)];
  };
}

export const equal = comparison((x, y) => x === y);
export const less = comparison((x, y) => x < y);
export const greater = comparison((x, y) => x > y);

function logical(test: (x: boolean, y: boolean) => boolean): OpEvaluator {
  return (inputs, ctx) => {
    const a = required(inputs, 0, ctx);
    const b = required(inputs, 1, ctx);
    if (a.dtype !== DataType.BOOL || b.dtype !== DataType.BOOL) refuse(`${ctx.node.opType} needs bool inputs`);
    return comparison((x, y) => test(x !== 0, y !== 0))(inputs, ctx);
  };
}

export const and = logical((x, y) => x && y);
export const or = logical((x, y) => x || y);

export const where: OpEvaluator = (inputs, ctx) => {
  const cond = required(inputs, 0, ctx);
  const x = required(inputs, 1, ctx);
  const y = required(inputs, 2, ctx);
  if (cond.dtype !== DataType.BOOL) refuse('Where needs a bool condition');
  const dtype = sameDtype(x, y, ctx);
  const { dims, count, index } = broadcastReader([cond, x, y], ctx, dtype);
  const out = allocate(dtype, count);
  for (let i = 0; i < count; i++) {
    (out as unknown as (number | bigint)[])[i] = cond.data[index(0, i)] ? x.data[index(1, i)]! : y.data[index(2, i)]!;
  }
  return [host(dtype, dims, out)];
};

function unary(num: (x: number) => number, big?: (x: bigint) => bigint, floatOnly = false): OpEvaluator {
  return (inputs, ctx) => {
    const a = required(inputs, 0, ctx);
    if (a.dtype === DataType.BOOL || (floatOnly && !isFloat(a.dtype))) refuse(`${ctx.node.opType} is not evaluated on this element type`);
    checkSize(ctx, a.dtype, a.data.length);
    const out = allocate(a.dtype, a.data.length);
    if (a.dtype === DataType.INT64) {
      if (!big) refuse(`${ctx.node.opType} is not evaluated on int64`);
      const x = a.data as BigInt64Array;
      for (let i = 0; i < x.length; i++) (out as BigInt64Array)[i] = big(x[i]!);
    } else {
      const x = a.data as Exclude<HostData, BigInt64Array>;
      for (let i = 0; i < x.length; i++) out[i] = num(x[i]!);
    }
    return [host(a.dtype, a.dims, out)];
  };
}

export const neg = unary((x) => -x, (x) => -x);
export const abs = unary(Math.abs, (x) => (x < 0n ? -x : x));
export const sqrt = unary(Math.sqrt, undefined, true);
export const floor = unary(Math.floor, undefined, true);
export const ceil = unary(Math.ceil, undefined, true);
export const reciprocal = unary((x) => 1 / x, undefined, true);

export const not: OpEvaluator = (inputs, ctx) => {
  const a = required(inputs, 0, ctx);
  if (a.dtype !== DataType.BOOL) refuse('Not needs a bool input');
  return [host(DataType.BOOL, a.dims, (a.data as Uint8Array).map((v) => (v ? 0 : 1)))];
};

export const cast: OpEvaluator = (inputs, ctx) => {
  const a = required(inputs, 0, ctx);
  const to = ctx.node.attrInt('to');
  if (to === undefined) refuse('Cast has no "to" attribute');
  checkSize(ctx, to as DataType, a.data.length);
  const out = allocate(to as DataType, a.data.length);
  for (let i = 0; i < a.data.length; i++) (out as unknown as (number | bigint)[])[i] = castElement(a.data[i]!, a.dtype, to as DataType);
  return [host(to as DataType, a.dims, out)];
};

const INT32_RANGE = [-(2 ** 31), 2 ** 31 - 1] as const;
const INT64_RANGE = [-(2 ** 63), 2 ** 63] as const; // doubles: the upper bound itself does not fit

function castElement(v: number | bigint, from: DataType, to: DataType): number | bigint {
  if (to === DataType.BOOL) return (typeof v === 'bigint' ? v !== 0n : v !== 0) ? 1 : 0;
  if (isFloat(to)) return Number(v); // the Float32Array store rounds to float32
  if (typeof v === 'bigint') return to === DataType.INT64 ? v : Number(BigInt.asIntN(32, v));
  if (isInt(from) || from === DataType.BOOL) return to === DataType.INT64 ? BigInt(v) : v;
  // float → int truncates toward zero; NaN, infinities and values out of range are undefined behavior in C++.
  const t = Math.trunc(v);
  const [lo, hi] = to === DataType.INT64 ? INT64_RANGE : INT32_RANGE;
  if (!Number.isFinite(t) || t < lo || t >= hi + (to === DataType.INT32 ? 1 : 0)) refuse(`Cast of ${v} to an integer type is undefined`);
  return to === DataType.INT64 ? BigInt(t) : t;
}
