/**
 * Keeping a graph channels-last between its convolutions and norms, so that Transposes remain only where an NCHW
 * region meets an NHWC one. One sweep in graph order:
 *
 * - A Conv becomes com.microsoft.NhwcConv, its weight permuted lazily to [M, kH, kW, C/group].
 * - An op that is indifferent to layout (elementwise with broadcasting, Concat, Split, Slice, nearest Resize) and
 *   reads an NHWC value gets an NHWC twin; its other operands are adapted: constants permuted (the same bytes when
 *   only size-1 axes move), (N, C, 1, 1) values reshaped to (N, 1, 1, C) — the time embedding —, full NCHW tensors
 *   transposed, which counts against converting the op: it converts only when that costs no more Transposes than
 *   it saves.
 * - Transpose(x, [0, 2, 3, 1]) of a value that has an NHWC twin is the twin (the transformer block's entry permute,
 *   and the input Transpose of a fused GroupNorm); the output of Transpose [0, 3, 1, 2] already has its input as its
 *   NHWC form (the transformer's exit permute, the output Transpose of a fused GroupNorm).
 * - Shape of a value with a twin becomes Gather(Shape(twin)) with the axes put back.
 * - At the end, a value whose NCHW form is still read (or is a graph output) gets one Transpose back from its twin,
 *   and the replaced nodes go.
 *
 * The sweep needs types (rank, and which dims are 1) from inferTypes.
 */
import type { PassContext } from '../../src/engine/pass.js';
import { makeAttr } from '../../src/ir/attributes.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Dim, TensorType, Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { AttributeProto } from '../../src/onnx/types.js';
import { constantFloats, constantInts, constantSource, removeDeadFeeders } from './constant-source.js';
import { permutedDims, permuteTensor, TO_NCHW, TO_NHWC } from './permute-tensor.js';
import { bypass } from './rewire.js';

/** NCHW axis a is NHWC axis AXIS_IN_NHWC[a]. */
const AXIS_IN_NHWC: readonly number[] = [0, 3, 1, 2];

/** Default-domain ops computed element by element with broadcasting: any layout works if the operands agree. */
const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Clip',
  'Sigmoid', 'Relu', 'Tanh', 'Identity', 'Cast', 'Erf', 'Neg', 'Sqrt', 'Exp', 'Abs', 'Reciprocal', 'Softplus',
  'LeakyRelu', 'Elu', 'HardSigmoid', 'HardSwish', 'Gelu', 'Mish', 'Celu', 'Selu', 'Softsign',
]);

export interface NhwcPropagation {
  nhwcConvs: number;
  /** Layout-indifferent ops given an NHWC twin. */
  convertedOps: number;
  shapeRewrites: number;
  refusals: Map<string, number>;
}

/** An operand in NHWC form: what it costs in new Transposes, and how to make it (before `at`). */
interface Plan {
  cost: number;
  make(at: Node): Value;
}

export function propagateNhwc(ctx: PassContext, pass: string): NhwcPropagation {
  const sweep = new Sweep(ctx, pass);
  sweep.run();
  return sweep.result;
}

class Sweep {
  readonly result: NhwcPropagation = {
    nhwcConvs: 0,
    convertedOps: 0,
    shapeRewrites: 0,
    refusals: new Map(),
  };
  private readonly graph: Graph;
  /** NCHW value → the NHWC value computing the same numbers, for values computed by converted nodes. */
  private readonly twins = new Map<Value, Value>();
  /** NHWC forms made for values from outside the region (Transposes, Reshapes, permuted constants). */
  private readonly adapted = new Map<Value, Value>();
  private readonly weights = new Map<Value, Value>();
  /** Nodes that have an NHWC twin, in sweep order. */
  private readonly replaced: Node[] = [];
  /** Nodes that may have lost their last reader: removed at the end if so. */
  private readonly maybeDead: Node[] = [];

  constructor(
    private readonly ctx: PassContext,
    private readonly pass: string,
  ) {
    this.graph = ctx.graph;
  }

  run(): void {
    for (const node of this.graph.nodes()) {
      if (node.graph !== this.graph) continue;
      if (node.is('Conv')) this.convertConv(node);
      else if (node.is('Transpose')) this.removeEntryTranspose(node);
      else if (node.is('Shape')) this.rewriteShape(node);
      else if ((node.domain === '' || node.domain === 'ai.onnx') && node.inputs.some((v) => v && this.twins.has(v))) this.convertLayoutIndifferent(node);
    }
    this.finish();
  }

  // ---- rules ----------------------------------------------------------------------------------------------------

  private convertConv(node: Node): void {
    const [x, w, bias] = [node.input(0), node.input(1), node.input(2)];
    if (!x || !w?.isConstant || w.initializer!.dims.length !== 4) return this.refuse(node, 'Conv weight is not a constant 4-D tensor');
    if (x.dtype !== DataType.FLOAT && x.dtype !== DataType.FLOAT16) return this.refuse(node, 'Conv input is not float32 or float16 (NhwcConv CUDA kernel types)');
    if (node.output().rank !== 4) return this.refuse(node, 'Conv output rank is not known to be 4');
    const input = this.planInput(x);
    if (!input) return this.refuse(node, 'Conv input shape unknown');
    this.emitTwin(node, 'NhwcConv', 'com.microsoft', [input.make(node), this.nhwcWeight(w), bias], node.attributes);
    this.ctx.model.requireOpset('com.microsoft', 1);
    this.result.nhwcConvs++;
  }

  /** Transpose [0, 2, 3, 1] of a value with an NHWC form is that form. */
  private removeEntryTranspose(node: Node): void {
    const x = node.input(0);
    if (!samePerm(node.attrInts('perm'), TO_NHWC) || !x) return;
    const twin = this.twinOf(x);
    if (!twin || !bypass(this.graph, node.output(), twin)) return;
    this.graph.remove(node);
    if (x.producer) this.maybeDead.push(x.producer);
  }

  private rewriteShape(node: Node): void {
    const x = node.input(0);
    const twin = x?.rank === 4 ? this.twinOf(x) : undefined;
    if (!twin) return;
    const start = clampAxis(node.attrInt('start', 0), 4);
    const end = clampAxis(node.attrInt('end', 4), 4);
    const shape = this.graph.createNode({ opType: 'Shape', name: `${node.name}_nhwc`, inputs: [twin], types: [{ dtype: DataType.INT64, shape: [4] }], pass: this.pass });
    const axes = AXIS_IN_NHWC.slice(start, Math.max(start, end));
    const gather = this.graph.createNode({
      opType: 'Gather',
      name: `${node.name}_nchw_order`,
      inputs: [shape.output(), this.int64s(`${node.name}_nchw_axes`, axes)],
      attributes: [makeAttr('axis', 0)],
      types: [{ dtype: DataType.INT64, shape: [axes.length] }],
      pass: this.pass,
    });
    this.graph.insertAfter(node, shape);
    this.graph.insertAfter(shape, gather);
    this.graph.replaceAllUsesWith(node.output(), gather.output(), { graphOutputs: true });
    this.graph.remove(node);
    this.result.shapeRewrites++;
  }

  private convertLayoutIndifferent(node: Node): void {
    const known = ELEMENTWISE.has(node.opType) || ['Concat', 'Split', 'Slice', 'Resize'].includes(node.opType);
    if (!known) return this.refuse(node, `${node.opType} is not layout-indifferent: the NHWC region ends there`);
    if (node.outputs.some((o) => o.rank !== 4)) return this.refuse(node, `${node.opType} output rank is not known to be 4`);
    if (ELEMENTWISE.has(node.opType)) return this.convertOperands(node, node.inputs.map((_, i) => i), node.attributes);
    switch (node.opType) {
      case 'Concat':
        return this.convertOperands(node, node.inputs.map((_, i) => i), withAxis(node, 'axis', 0));
      case 'Split':
        return this.convertOperands(node, [0], withAxis(node, 'axis', 0));
      case 'Slice':
        return this.convertSlice(node);
      case 'Resize':
        return this.convertResize(node);
    }
  }

  /** Slice with its axes renumbered (given, or 0..k-1 when absent). */
  private convertSlice(node: Node): void {
    const starts = constantInts(node.input(1));
    const axes = node.input(3) ? constantInts(node.input(3)) : starts && starts.map((_, i) => i);
    if (!axes) return this.refuse(node, 'Slice axes are not constant');
    const nhwcAxes = axes.map((a) => AXIS_IN_NHWC[a < 0 ? a + 4 : a]!);
    const replaced = new Map([[3, this.int64s(`${node.name}_nhwc_axes`, nhwcAxes)]]);
    this.convertOperands(node, [0], node.attributes, replaced);
  }

  /** Nearest-neighbour Resize with its per-axis scales, sizes and roi permuted (or its `axes` renumbered). */
  private convertResize(node: Node): void {
    const mode = node.attrString('mode') ?? 'nearest';
    if (mode !== 'nearest') return this.refuse(node, `Resize mode '${mode}' is kept NCHW (only nearest is checked channels-last)`);
    const axes = node.attrInts('axes');
    if (axes) return this.convertOperands(node, [0], withInts(node, 'axes', axes.map((a) => AXIS_IN_NHWC[a < 0 ? a + 4 : a]!)));
    const replaced = new Map<number, Value>();
    for (const [index, what] of [[1, 'roi'], [2, 'scales'], [3, 'sizes']] as const) {
      const v = node.input(index);
      if (!v) continue;
      const values = what === 'sizes' ? constantInts(v) : constantFloats(v);
      if (!values) return this.refuse(node, `Resize ${what} are not constant`);
      if (values.length === 0) continue;
      if (what === 'roi' && values.length === 8) {
        replaced.set(index, this.floats(`${node.name}_nhwc_roi`, [...permutedDims(values.slice(0, 4), TO_NHWC), ...permutedDims(values.slice(4), TO_NHWC)]));
      } else if (values.length === 4 && what !== 'roi') {
        const permuted = permutedDims(values, TO_NHWC);
        replaced.set(index, what === 'sizes' ? this.int64s(`${node.name}_nhwc_sizes`, permuted) : this.floats(`${node.name}_nhwc_scales`, permuted));
      } else {
        return this.refuse(node, `Resize ${what} have ${values.length} entries`);
      }
    }
    this.convertOperands(node, [0], node.attributes, replaced);
  }

  /** The NHWC twin of `node`, when its operands at `data` can be had in NHWC for no more Transposes than saved. */
  private convertOperands(node: Node, data: readonly number[], attributes: AttributeProto[], replaced = new Map<number, Value>()): void {
    const plans = new Map<number, Plan>();
    let saved = 0;
    let cost = 0;
    for (const i of data) {
      const v = node.input(i);
      if (!v) continue;
      const plan = this.planInput(v);
      if (!plan) return this.refuse(node, `an operand of ${node.opType} has a shape that cannot be made NHWC`);
      plans.set(i, plan);
      if (this.twinOf(v)) saved++;
      cost += plan.cost;
    }
    if (cost > saved) return this.refuse(node, `${node.opType} would need more Transposes than it saves`);
    const inputs = node.inputs.map((v, i) => replaced.get(i) ?? plans.get(i)?.make(node) ?? v);
    this.emitTwin(node, node.opType, node.domain, inputs, attributes);
    this.result.convertedOps++;
  }

  // ---- operands -------------------------------------------------------------------------------------------------

  /** The NHWC form of a value computed by a converted node, or of the output of a Transpose [0, 3, 1, 2]. */
  private twinOf(v: Value): Value | undefined {
    const twin = this.twins.get(v);
    if (twin) return twin;
    const p = v.producer;
    if (p?.graph === this.graph && p.is('Transpose') && samePerm(p.attrInts('perm'), TO_NCHW) && p.input(0)) {
      this.maybeDead.push(p);
      return p.input(0);
    }
    return undefined;
  }

  private planInput(v: Value): Plan | undefined {
    const twin = this.twinOf(v) ?? this.adapted.get(v);
    if (twin) return { cost: 0, make: () => twin };
    const shape = v.shape;
    if (!shape || shape.length > 4) return undefined;
    if (shape.every((d) => d === 1)) return { cost: 0, make: () => v };
    const aligned: Dim[] = [...new Array<Dim>(4 - shape.length).fill(1), ...shape];
    const nhwc = permutedDims(aligned, TO_NHWC);
    const constant = constantSource(v);
    if (constant) {
      const dims = [...new Array<number>(4 - shape.length).fill(1), ...constant.tensor.dims];
      return this.adapter(v, 0, () => this.graph.addInitializer(`${v.name}_nhwc`, permuteTensor(constant.tensor.withDims(dims), TO_NHWC)));
    }
    if (aligned[2] === 1 && aligned[3] === 1) {
      // (N, C, 1, 1) and (N, 1, 1, C) hold the same bytes: a Reshape, not a Transpose.
      const [n, c] = [aligned[0], aligned[1]];
      const target = [typeof n === 'number' ? n : 0, 1, 1, typeof c === 'number' ? c : -1];
      return this.adapter(v, 0, (at) => this.insertBefore(at, 'Reshape', [v, this.int64s(`${v.name}_nhwc_shape`, target)], [], { dtype: v.dtype!, shape: nhwc }));
    }
    if (shape.length !== 4) return undefined;
    return this.adapter(v, 1, (at) => this.insertBefore(at, 'Transpose', [v], [makeAttr('perm', [...TO_NHWC])], { dtype: v.dtype!, shape: nhwc }));
  }

  private adapter(v: Value, cost: number, create: (at: Node) => Value): Plan {
    return {
      cost,
      make: (at) => {
        let made = this.adapted.get(v);
        if (!made) {
          made = create(at);
          this.adapted.set(v, made);
        }
        return made;
      },
    };
  }

  private nhwcWeight(w: Value): Value {
    let out = this.weights.get(w);
    if (!out) {
      out = this.graph.addInitializer(`${w.name}_nhwc`, permuteTensor(w.initializer!, TO_NHWC));
      this.weights.set(w, out);
    }
    return out;
  }

  // ---- making nodes ---------------------------------------------------------------------------------------------

  /** A node computing `node`'s outputs in NHWC, placed right after it; its outputs become their twins. */
  private emitTwin(node: Node, opType: string, domain: string, inputs: readonly (Value | undefined)[], attributes: AttributeProto[]): void {
    const twin = this.graph.createNode({
      opType,
      domain,
      name: `${node.name}_nhwc`,
      inputs,
      outputs: node.outputs.map((o) => `${o.name}_nhwc`),
      attributes: attributes.map((a) => ({ ...a })),
      types: node.outputs.map((o) => nhwcType(o.type)),
      pass: this.pass,
    });
    this.graph.insertAfter(node, twin);
    node.outputs.forEach((o, i) => this.twins.set(o, twin.output(i)));
    this.replaced.push(node);
  }

  private insertBefore(at: Node, opType: string, inputs: Value[], attributes: AttributeProto[], type: TensorType): Value {
    const node = this.graph.createNode({ opType, name: `${inputs[0]!.name}_to_nhwc`, inputs, attributes, types: [type], pass: this.pass });
    this.graph.insertBefore(at, node);
    return node.output();
  }

  private int64s(name: string, values: readonly number[]): Value {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.graph.addInitializer(name, new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(data.buffer))));
  }

  private floats(name: string, values: readonly number[]): Value {
    const data = Float32Array.from(values);
    return this.graph.addInitializer(name, new Tensor(DataType.FLOAT, [values.length], new InlineData(new Uint8Array(data.buffer))));
  }

  /** NCHW values still read get one Transpose back from their twin; then replaced nodes and dead feeders go. */
  private finish(): void {
    // Replaced nodes read each other's outputs: last first, those only replaced nodes read go before counting readers.
    for (let i = this.replaced.length - 1; i >= 0; i--) removeDeadFeeders(this.graph, [this.replaced[i]!]);
    this.maybeDead.push(...this.replaced.filter((n) => n.graph === this.graph));
    for (const [v, twin] of this.twins) {
      if (v.useCount === 0 && !v.isGraphOutput) continue;
      const back = this.graph.createNode({
        opType: 'Transpose',
        name: `${v.name}_to_nchw`,
        inputs: [twin],
        attributes: [makeAttr('perm', [...TO_NCHW])],
        types: [v.type],
        pass: this.pass,
      });
      this.graph.insertAfter(twin.producer!, back);
      this.graph.replaceAllUsesWith(v, back.output(), { graphOutputs: true });
    }
    removeDeadFeeders(this.graph, this.maybeDead);
  }

  private refuse(node: Node, reason: string): void {
    this.result.refusals.set(reason, (this.result.refusals.get(reason) ?? 0) + 1);
    this.ctx.log(`${this.pass}: ${node} stays NCHW: ${reason}`);
  }
}

function nhwcType(type: TensorType | undefined): TensorType | undefined {
  return type && { dtype: type.dtype, shape: type.shape && permutedDims(type.shape, TO_NHWC) };
}

function samePerm(perm: readonly number[] | undefined, expected: readonly number[]): boolean {
  return perm !== undefined && perm.length === expected.length && perm.every((p, i) => p === expected[i]);
}

function clampAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return Math.min(Math.max(a, 0), rank);
}

/** The node's attributes with an axis attribute renumbered for NHWC. */
function withAxis(node: Node, name: string, fallback: number): AttributeProto[] {
  const axis = node.attrInt(name, fallback);
  return withInts(node, name, AXIS_IN_NHWC[axis < 0 ? axis + 4 : axis]!);
}

function withInts(node: Node, name: string, value: number | number[]): AttributeProto[] {
  return [...node.attributes.filter((a) => a.name !== name), makeAttr(name, Array.isArray(value) ? { ints: value } : value)];
}
