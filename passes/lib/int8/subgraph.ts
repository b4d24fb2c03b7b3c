/**
 * The int8 form of one MatMul(x, W) or Gemm(x, W, C): weights quantized ahead (weights.ts), the activation
 * quantized at run time with a scale the graph computes from x itself.
 *
 * target 'cuda': only ops with CUDA kernels in ONNX Runtime (checked in its sources, see notes/int8-kernels.md):
 *
 *   xw  = x, or Cast(x → float) when QuantizeLinear (tensor scale) or Round (row scale) has no kernel for x's type
 *   s   = Max(ReduceMax(Abs(xw)) / 127, floor) in float32, over all of x or over its last axis; the floor keeps
 *         an all-zero x from dividing by zero (and a float16 scale normal)
 *   x_q = QuantizeLinear(xw, s, int8 0)            tensor scale (one fused kernel)
 *       = Cast(Round(Div(xw, s)) → int8)           row scale (QuantizeLinear takes no [rows, 1] scale)
 *   y   = Cast(MatMulInteger(x_q, W_q) → float) · (s · scale_w)    then Cast back to x's type, then + C
 *
 *   The product stays int32 → float32 before scaling: an int32 sum of K products of ±127 overflows float16
 *   (65,504) from K ≈ 4 already. MatMulInteger's CUDA kernel is int8 × int8 → int32 with scalar zero points
 *   read from host memory, so none are given (both sides are symmetric).
 *
 * target 'cpu': ONNX Runtime's own dynamic quantization, DynamicQuantizeLinear (uint8, asymmetric, per tensor) and
 * com.microsoft MatMulIntegerToFloat with the per-column weight scales; ORT fuses the pair into
 * DynamicQuantizeMatMul. Both take float32 only, so other types are cast around them.
 */
import type { Graph } from '../../../src/ir/graph.js';
import type { Node } from '../../../src/ir/node.js';
import { InlineData, Tensor } from '../../../src/ir/tensor.js';
import type { Dim, TensorType, Value } from '../../../src/ir/value.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { INT8_QMAX } from './weights.js';

export type Int8Target = 'cuda' | 'cpu';
export type ActivationScale = 'tensor' | 'row';

export interface Int8Form {
  target: Int8Target;
  activationScale: ActivationScale;
  /** The model's default-domain opset: ops are emitted in the form that opset reads them. */
  opset: number;
}

export interface QuantizedWeight {
  /** int8 [in, out] */
  q: Value;
  /** float32 [out] */
  scale: Value;
}

/** Smallest activation scale: float16's smallest normal where the scale is cast to float16, else far below use. */
const SCALE_FLOOR: Readonly<Record<number, number>> = { [DataType.FLOAT16]: 2 ** -14, [DataType.FLOAT]: 1e-30 };

/**
 * The element type the activation is quantized in: x's own where every op on the way has a kernel for it, else
 * float32. CUDA QuantizeLinear takes float16 only from opset 19; CUDA Round takes float and float16, not bfloat16.
 */
export function quantizeInType(dtype: DataType, form: Int8Form): DataType {
  if (form.target === 'cpu' || dtype === DataType.FLOAT) return DataType.FLOAT;
  if (dtype !== DataType.FLOAT16) return DataType.FLOAT;
  return form.activationScale === 'row' || form.opset >= 19 ? DataType.FLOAT16 : DataType.FLOAT;
}

/** Small constants, one initializer each however many rewrites use them. */
export class ConstantPool {
  private readonly made = new Map<string, Value>();
  constructor(private readonly graph: Graph) {}

  float(value: number): Value {
    return this.get(`int8_const_f32_${value}`, () => new Tensor(DataType.FLOAT, [], new InlineData(new Uint8Array(Float32Array.of(value).buffer))));
  }

  int8Zero(): Value {
    return this.get('int8_zero_point', () => new Tensor(DataType.INT8, [], new InlineData(new Uint8Array(1))));
  }

  int64s(values: readonly number[]): Value {
    return this.get(`int8_axes_${values.join('_')}`, () => new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(BigInt64Array.from(values, BigInt).buffer))));
  }

  private get(key: string, make: () => Tensor): Value {
    let v = this.made.get(key);
    if (!v) {
      v = this.graph.addInitializer(key, make());
      this.made.set(key, v);
    }
    return v;
  }
}

/** Emits nodes before `anchor`, named after it and stamped with the pass. */
class Emitter {
  readonly nodes: Node[] = [];
  constructor(
    private readonly graph: Graph,
    private readonly anchor: Node,
    private readonly pass: string,
  ) {}

  op(opType: string, inputs: (Value | undefined)[], type: TensorType | undefined, attrs: Record<string, number | number[]> = {}, domain = ''): Value {
    return this.ops(opType, inputs, [type], attrs, domain)[0]!;
  }

  ops(opType: string, inputs: (Value | undefined)[], types: (TensorType | undefined)[], attrs: Record<string, number | number[]> = {}, domain = ''): readonly Value[] {
    const hint = `${this.anchor.output().name}/int8/${opType}`;
    const node = this.graph.createNode({
      opType,
      domain,
      name: `${this.anchor.name}/int8/${opType}`,
      inputs,
      outputs: types.map((_, i) => (i ? `${hint}_${i}` : hint)),
      types,
      pass: this.pass,
    });
    for (const [k, v] of Object.entries(attrs)) node.setAttr(k, v);
    this.graph.insertBefore(this.anchor, node);
    this.nodes.push(node);
    return node.outputs;
  }

  cast(x: Value, to: DataType, shape: Dim[] | undefined): Value {
    return this.op('Cast', [x], { dtype: to, shape }, { to });
  }
}

export interface RewriteInput {
  node: Node;
  /** The activation (MatMul's A, Gemm's A). */
  x: Value;
  /** x's element type (the weight's: ONNX requires them equal). */
  dtype: DataType;
  /** Gemm's C, added after. */
  bias?: Value | undefined;
  weight: QuantizedWeight;
}

/**
 * Replaces the node by its int8 form and returns the new nodes. The node's output keeps its name (readers and
 * graph outputs see no change); the caller removes nothing else.
 */
export function rewriteToInt8(graph: Graph, input: RewriteInput, form: Int8Form, constants: ConstantPool, pass: string): Node[] {
  const { node, dtype } = input;
  const out = node.output();
  const outShape = out.type?.shape;
  const e = new Emitter(graph, node, pass);
  let y = form.target === 'cuda' ? cudaForm(e, input, form, constants) : cpuForm(e, input);
  if (dtype !== DataType.FLOAT) y = e.cast(y, dtype, outShape);
  if (input.bias) y = e.op('Add', [y, input.bias], { dtype, shape: outShape });
  const name = out.name;
  graph.replaceAllUsesWith(out, y, { graphOutputs: true });
  graph.remove(node);
  if (y.name !== name && !graph.value(name)) graph.renameValue(y, name);
  return e.nodes;
}

function cudaForm(e: Emitter, { x, dtype, weight }: RewriteInput, form: Int8Form, constants: ConstantPool): Value {
  const shape = x.type?.shape;
  const work = quantizeInType(dtype, form);
  const xw = work === dtype ? x : e.cast(x, work, shape);
  const row = form.activationScale === 'row';
  const absx = e.op('Abs', [xw], { dtype: work, shape });
  const reducedShape = row && shape ? [...shape.slice(0, -1), 1] : row ? undefined : [];
  const absmax = reduceMax(e, absx, row, form.opset, constants, { dtype: work, shape: reducedShape });
  const absmax32 = work === DataType.FLOAT ? absmax : e.cast(absmax, DataType.FLOAT, reducedShape);
  const scaleRaw = e.op('Div', [absmax32, constants.float(INT8_QMAX)], { dtype: DataType.FLOAT, shape: reducedShape });
  const scale32 = e.op('Max', [scaleRaw, constants.float(SCALE_FLOOR[work]!)], { dtype: DataType.FLOAT, shape: reducedShape });
  // Quantize and dequantize with the same scale: the one in the quantizing type, read back as float32.
  const scaleW = work === DataType.FLOAT ? scale32 : e.cast(scale32, work, reducedShape);
  const scaleBack = work === DataType.FLOAT ? scale32 : e.cast(scaleW, DataType.FLOAT, reducedShape);
  const qType = { dtype: DataType.INT8, shape };
  const xq = row
    ? e.cast(e.op('Round', [e.op('Div', [xw, scaleW], { dtype: work, shape })], { dtype: work, shape }), DataType.INT8, shape)
    : e.op('QuantizeLinear', [xw, scaleW, constants.int8Zero()], qType);
  const outShape = shape && [...shape.slice(0, -1), weight.q.type?.shape?.[1]];
  const y32 = e.op('MatMulInteger', [xq, weight.q], { dtype: DataType.INT32, shape: outShape });
  const yf = e.cast(y32, DataType.FLOAT, outShape);
  if (row) {
    const byColumn = e.op('Mul', [yf, weight.scale], { dtype: DataType.FLOAT, shape: outShape });
    return e.op('Mul', [byColumn, scaleBack], { dtype: DataType.FLOAT, shape: outShape });
  }
  const combined = e.op('Mul', [scaleBack, weight.scale], { dtype: DataType.FLOAT, shape: weight.scale.type?.shape });
  return e.op('Mul', [yf, combined], { dtype: DataType.FLOAT, shape: outShape });
}

/** ReduceMax over everything (a scalar) or the last axis (kept): axes are an input from opset 18. */
function reduceMax(e: Emitter, v: Value, lastAxis: boolean, opset: number, constants: ConstantPool, type: TensorType): Value {
  if (!lastAxis) return e.op('ReduceMax', [v], type, { keepdims: 0 });
  if (opset >= 18) return e.op('ReduceMax', [v, constants.int64s([-1])], type, { keepdims: 1 });
  return e.op('ReduceMax', [v], type, { axes: [-1], keepdims: 1 });
}

function cpuForm(e: Emitter, { x, dtype, weight }: RewriteInput): Value {
  const shape = x.type?.shape;
  const xf = dtype === DataType.FLOAT ? x : e.cast(x, DataType.FLOAT, shape);
  const [xq, xScale, xZeroPoint] = e.ops('DynamicQuantizeLinear', [xf], [
    { dtype: DataType.UINT8, shape },
    { dtype: DataType.FLOAT, shape: [] },
    { dtype: DataType.UINT8, shape: [] },
  ]);
  const outShape = shape && [...shape.slice(0, -1), weight.q.type?.shape?.[1]];
  return e.op('MatMulIntegerToFloat', [xq, weight.q, xScale, weight.scale, xZeroPoint], { dtype: DataType.FLOAT, shape: outShape }, {}, 'com.microsoft');
}
