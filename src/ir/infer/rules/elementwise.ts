/** Elementwise operators: unary ones keep their input's type; n-ary ones broadcast (numpy rules). */
import { DataType } from '../../../onnx/dtype.js';
import type { Dim } from '../../value.js';
import { addDims, canonicalDim, dimEquals, floorDivDims, mulDims, sameDim, subDims } from '../dim-expr.js';
import { isIntegerType, mapBroadcast } from '../known-values.js';
import type { KnownTensor, Rule, RuleContext } from '../rule.js';
import { broadcastShapes, isStatic } from '../shape-util.js';

type Unary = (x: number) => number;

const UNARY_VALUES: Record<string, Unary | undefined> = {
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Exp: Math.exp,
  Relu: (x) => Math.max(0, x),
};

/** Ops whose output has the type and shape of input 0 (values computed for a few, for shape chains). */
export const SAME_AS_INPUT_OPS = [
  'Identity', 'Sqrt', 'Erf', 'Sigmoid', 'Sin', 'Cos', 'Exp', 'Log', 'Neg', 'Abs', 'Relu', 'Tanh', 'Reciprocal',
  'Floor', 'Ceil', 'Round', 'Softplus', 'Softsign', 'Gelu', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Elu', 'Selu',
  'Celu', 'Mish', 'Clip', 'Softmax', 'LogSoftmax', 'InstanceNormalization', 'GroupNormalization', 'Dropout', 'Trilu',
] as const;

export const sameAsInput: Rule = (ctx) => {
  const f = UNARY_VALUES[ctx.node.opType];
  const v = ctx.value(0);
  let value: KnownTensor | undefined;
  if (ctx.node.opType === 'Identity' || ctx.node.opType === 'Dropout') value = v;
  else if (v && f) value = { dims: v.dims, data: v.data.map((x) => (typeof x === 'number' ? f(x) : ctx.node.opType === 'Neg' ? subDims(0, x) : undefined)) };
  const out = [{ dtype: ctx.dtype(0), shape: ctx.shape(0), value }];
  // Dropout's optional mask output.
  if (ctx.node.opType === 'Dropout' && ctx.node.outputs.length > 1) out.push({ dtype: DataType.BOOL, shape: ctx.shape(0), value: undefined });
  return out;
};

const COMPARISONS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not']);

export const BROADCAST_OPS = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mod', 'Sum', 'Mean', 'Where', ...COMPARISONS,
] as const;

export const broadcast: Rule = (ctx) => {
  const op = ctx.node.opType;
  const indices = [...Array(ctx.inputCount).keys()].filter((i) => ctx.has(i));
  const shapes = indices.map((i) => ctx.shape(i));
  const shape = shapes.every((s) => s !== undefined) ? broadcastShapes(shapes as Dim[][], ctx.problem) : undefined;
  const dataInputs = op === 'Where' ? [1, 2] : indices;
  const dtype = COMPARISONS.has(op) ? DataType.BOOL : dataInputs.map((i) => ctx.dtype(i)).find((d) => d !== undefined);
  return [{ dtype, shape, value: computeValue(ctx, indices, shape) }];
};

function computeValue(ctx: RuleContext, indices: number[], shape: Dim[] | undefined): KnownTensor | undefined {
  if (!isStatic(shape)) return undefined;
  const values = indices.map((i) => ctx.value(i));
  if (values.some((v) => v === undefined)) return undefined;
  const op = ctx.node.opType;
  const integer = isIntegerType(op === 'Where' ? ctx.dtype(1) : ctx.dtype(0));
  const f = elementFunction(op, integer);
  return f && mapBroadcast(values as KnownTensor[], shape, f);
}

function elementFunction(op: string, integer: boolean): ((e: Dim[]) => Dim) | undefined {
  const both = (g: (a: number, b: number) => number, sym?: (a: Dim, b: Dim) => Dim) => (e: Dim[]) => {
    const [a, b] = e;
    if (typeof a === 'number' && typeof b === 'number') return g(a, b);
    return sym?.(a, b);
  };
  switch (op) {
    case 'Add':
      return both((a, b) => a + b, addDims);
    case 'Sub':
      return both((a, b) => a - b, subDims);
    case 'Mul':
      return both((a, b) => a * b, mulDims);
    case 'Div':
      return both(
        (a, b) => (integer ? (b === 0 ? NaN : Math.trunc(a / b)) : a / b),
        (a, b) => {
          // Symbolic dims are non-negative, so integer division is a floor; a float one must come out exact.
          const q = floorDivDims(a, b);
          return integer || sameDim(mulDims(q, b), a) ? q : undefined;
        },
      );
    case 'Pow':
      return both((a, b) => a ** b);
    case 'Max':
      return both(Math.max);
    case 'Min':
      return both(Math.min);
    case 'Mod':
      return both((a, b) => a - b * Math.floor(a / b));
    case 'Equal':
      return ([a, b]) => {
        if (typeof a === 'number' && typeof b === 'number') return a === b ? 1 : 0;
        if (sameDim(a, b)) return 1;
        const eq = typeof a === 'number' ? dimEquals(b, a) : typeof b === 'number' ? dimEquals(a, b) : undefined;
        return eq === undefined ? undefined : eq ? 1 : 0;
      };
    case 'Where':
      return ([c, x, y]) => (c === undefined ? (sameDim(x, y) ? canonicalDim(x) : undefined) : c !== 0 ? x : y);
    default:
      return undefined;
  }
}
