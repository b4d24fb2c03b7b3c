/**
 * Carrying out a precision plan: constants convert (lazily, for initializers), node outputs take their new types,
 * Casts go where a value's type differs from what a reader needs, graph outputs keep their names, and Cast pairs
 * this pass made that undo each other disappear. Pairs that were in the model are never touched: a float32 →
 * float16 → float32 round trip there is the model's own rounding.
 */
import Long from 'long';
import { narrowBytes, narrowTensor, isNarrowType, type NarrowType } from './convert-tensor.js';
import { CAST_PASS_NAME, type PrecisionPlan } from './plan.js';
import { makeAttr } from '../ir/attributes.js';
import type { Graph } from '../ir/graph.js';
import { PASS_STAMP_KEY, type Node } from '../ir/node.js';
import { tensorFromProto } from '../ir/tensor-proto.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';
import type { TensorProto } from '../onnx/types.js';

const FLOAT = DataType.FLOAT;

export interface ConvertedWeight {
  name: string;
  /** The float32 tensor it was made from. */
  source: Tensor;
  /** The narrowed tensor: its data counts clamps and flushes when the writer reads it through. */
  tensor: Tensor;
  to: NarrowType;
}

export interface RewriteResult {
  castsAdded: number;
  castsCancelled: number;
  castsRetargeted: number;
  /** Values whose type changed (node outputs and graph inputs). */
  valuesRetyped: number;
  weights: ConvertedWeight[];
  /** Extra initializers made because readers need one weight in two types. */
  weightCopies: number;
  constantsConverted: number;
}

/** Short names for value and node name suffixes. */
export function typeSuffix(dtype: DataType): string {
  return dtype === DataType.FLOAT16 ? 'fp16' : dtype === DataType.BFLOAT16 ? 'bf16' : dtype === FLOAT ? 'fp32' : dataTypeName(dtype);
}

export function applyPlan(graph: Graph, plan: PrecisionPlan): RewriteResult {
  const result: RewriteResult = { castsAdded: 0, castsCancelled: 0, castsRetargeted: 0, valuesRetyped: 0, weights: [], weightCopies: 0, constantsConverted: 0 };
  const nodes = graph.nodes();
  convertConstants(graph, nodes, plan, result);

  for (const [value, dtype] of plan.types) {
    if (value.type && value.type.dtype !== dtype) {
      value.type = { ...value.type, dtype };
      result.valuesRetyped++;
    }
  }
  for (const [node, dtype] of plan.retargetedCasts) {
    node.setAttr('to', dtype);
    result.castsRetargeted++;
  }

  const casts = new CastMaker(graph);
  for (const node of nodes) {
    node.inputs.forEach((v, i) => {
      const want = v && plan.demand(node, i);
      const have = v?.type?.dtype;
      if (v && want !== undefined && have !== undefined && want !== have) node.replaceInput(i, casts.of(v, want));
    });
  }
  graph.outputs.forEach((v, i) => {
    const want = plan.outputDemand(v);
    const have = v.type?.dtype;
    if (want !== undefined && have !== undefined && want !== have) casts.forOutput(i, want);
  });
  result.castsAdded = casts.made;
  result.castsCancelled = cancelOwnCastPairs(graph);
  return result;
}

// ---- constants --------------------------------------------------------------------------------------------------

/** The types a constant's readers need. */
function demandsOf(value: Value, plan: PrecisionPlan): Map<DataType, { node: Node; index: number }[]> {
  const wanted = new Map<DataType, { node: Node; index: number }[]>();
  for (const use of value.uses()) {
    const t = use.index < 0 ? plan.original(value) : plan.demand(use.node, use.index);
    if (t === undefined) continue;
    const list = wanted.get(t) ?? [];
    list.push(use);
    wanted.set(t, list);
  }
  if (value.isGraphOutput) {
    const t = plan.outputDemand(value);
    if (t !== undefined && !wanted.has(t)) wanted.set(t, []);
  }
  return wanted;
}

/** Which type a float32 constant becomes, and which types need copies of it. */
function split(wanted: Map<DataType, unknown>): { main: DataType; copies: NarrowType[] } | undefined {
  const narrow = [...wanted.keys()].filter(isNarrowType);
  if (!narrow.length) return undefined;
  if (wanted.has(FLOAT)) return { main: FLOAT, copies: narrow };
  return { main: narrow[0]!, copies: narrow.slice(1) };
}

function convertConstants(graph: Graph, nodes: readonly Node[], plan: PrecisionPlan, result: RewriteResult): void {
  for (const value of graph.initializers()) {
    const tensor = value.initializer!;
    if (value.isGraphInput || tensor.dtype !== FLOAT) continue;
    const wanted = demandsOf(value, plan);
    const decision = split(wanted);
    if (!decision) continue;
    for (const to of decision.copies) {
      const narrowed = narrowTensor(tensor, to);
      const copy = graph.addInitializer(`${value.name}_${typeSuffix(to)}`, narrowed);
      result.weights.push({ name: copy.name, source: tensor, tensor: narrowed, to });
      result.weightCopies++;
      for (const use of wanted.get(to)!) use.node.replaceInput(use.index, copy);
    }
    if (isNarrowType(decision.main)) {
      const narrowed = narrowTensor(tensor, decision.main);
      graph.setInitializerTensor(value, narrowed);
      result.weights.push({ name: value.name, source: tensor, tensor: narrowed, to: decision.main });
    }
  }
  for (const node of nodes) {
    if (!(node.is('Constant') || node.is('ConstantOfShape')) || node.outputs.length !== 1) continue;
    const out = node.output(0);
    if (plan.original(out) !== FLOAT) continue;
    const wanted = demandsOf(out, plan);
    const decision = split(wanted);
    if (!decision) continue;
    for (const to of decision.copies) {
      const attrs = convertedConstantAttributes(node, to);
      if (!attrs) continue; // external or unreadable: readers get a Cast instead
      const copy = graph.createNode({
        opType: node.opType,
        domain: node.domain,
        name: `${node.name || 'Constant'}_${typeSuffix(to)}`,
        inputs: node.inputs,
        outputs: [`${out.name}_${typeSuffix(to)}`],
        attributes: attrs,
        types: [{ dtype: to, shape: out.type?.shape }],
        pass: CAST_PASS_NAME,
      });
      graph.insertAfter(node, copy);
      for (const use of wanted.get(to)!) use.node.replaceInput(use.index, copy.output(0));
      result.constantsConverted++;
    }
    if (isNarrowType(decision.main)) {
      const attrs = convertedConstantAttributes(node, decision.main);
      if (!attrs) continue;
      node.attributes = attrs;
      out.type = { shape: out.type?.shape, dtype: decision.main };
      result.constantsConverted++;
    }
  }
}

/** A Constant's or ConstantOfShape's attributes with its float32 value as `to`; undefined when it cannot be read. */
function convertedConstantAttributes(node: Node, to: NarrowType): Node['attributes'] | undefined {
  const where = `${node}`;
  const others = node.attributes.filter((a) => !['value', 'value_float', 'value_floats'].includes(a.name ?? ''));
  let floats: Uint8Array | undefined;
  let dims: number[];
  const value = node.attr('value');
  if (value?.t) {
    const tensor = tensorFromProto(value.t, where);
    if (tensor.dtype !== FLOAT || !tensor.data.inMemory) return undefined;
    floats = tensor.data.inMemory;
    dims = [...tensor.dims];
  } else if (node.attr('value_float')) {
    floats = new Uint8Array(Float32Array.of(node.attrFloat('value_float', 0)).buffer);
    dims = [];
  } else if (node.attr('value_floats')) {
    const list = node.attr('value_floats')!.floats ?? [];
    floats = new Uint8Array(Float32Array.from(list).buffer);
    dims = [list.length];
  } else if (node.is('ConstantOfShape')) {
    floats = new Uint8Array(4); // ConstantOfShape's default value is a float32 zero
    dims = [1];
  } else {
    return undefined;
  }
  const proto: TensorProto = { dims: dims.map((d) => Long.fromNumber(d)), data_type: to, raw_data: narrowBytes(floats, to) };
  if (value?.t?.name) proto.name = value.t.name;
  return [...others, makeAttr('value', proto)];
}

// ---- Casts --------------------------------------------------------------------------------------------------------

class CastMaker {
  made = 0;
  private readonly memo = new Map<Value, Map<DataType, Value>>();

  constructor(private readonly graph: Graph) {}

  /** A value holding `v` as `to`: one Cast per value and type, right after `v` is made. */
  of(v: Value, to: DataType): Value {
    const known = this.memo.get(v)?.get(to);
    if (known) return known;
    const cast = this.graph.createNode({
      opType: 'Cast',
      name: `${v.name}_to_${typeSuffix(to)}`,
      inputs: [v],
      outputs: [`${v.name}_${typeSuffix(to)}`],
      attributes: [makeAttr('to', to)],
      types: [{ dtype: to, shape: v.type?.shape }],
      pass: CAST_PASS_NAME,
    });
    this.insert(v, cast);
    const byType = this.memo.get(v) ?? new Map<DataType, Value>();
    byType.set(to, cast.output(0));
    this.memo.set(v, byType);
    return cast.output(0);
  }

  /** Casts graph output `index` to `to`; the Cast's result takes the output's name (names are the model's API). */
  forOutput(index: number, to: DataType): void {
    const graph = this.graph;
    const v = graph.outputs[index]!;
    const name = v.name;
    graph.renameValue(v, graph.uniqueValueName(`${name}_${typeSuffix(v.type!.dtype)}`));
    const cast = graph.createNode({
      opType: 'Cast',
      name: `${name}_to_${typeSuffix(to)}`,
      inputs: [v],
      outputs: [name],
      attributes: [makeAttr('to', to)],
      types: [{ dtype: to, shape: v.type?.shape }],
      pass: CAST_PASS_NAME,
    });
    this.insert(v, cast);
    const out = cast.output(0);
    out.outputInfo = v.outputInfo ?? v.originInfo;
    v.outputInfo = undefined;
    for (let i = 0; i < graph.outputs.length; i++) if (graph.outputs[i] === v) graph.outputs[i] = out;
  }

  private insert(v: Value, cast: Node): void {
    if (v.producer) this.graph.insertAfter(v.producer, cast);
    else this.graph.insertBefore(this.graph.firstNode, cast);
    this.made++;
  }
}

function madeByThisPass(node: Node | undefined): node is Node {
  return node !== undefined && node.is('Cast') && node.metadata(PASS_STAMP_KEY) === CAST_PASS_NAME;
}

/**
 * Cast(A→B) then Cast(B→A), both made by this pass (this run or an earlier one): the reader takes the A value
 * directly. Only this pass's own Casts qualify; the model's own round trips are its arithmetic.
 */
function cancelOwnCastPairs(graph: Graph): number {
  let cancelled = 0;
  for (const second of graph.nodes()) {
    if (second.graph !== graph || !madeByThisPass(second)) continue;
    const first = second.input(0)?.producer;
    if (!madeByThisPass(first)) continue;
    const source = first.input(0);
    const out = second.output(0);
    if (!source || out.isGraphOutput || source.type?.dtype !== second.attrInt('to', 0)) continue;
    graph.replaceAllUsesWith(out, source);
    graph.remove(second);
    cancelled++;
    if (first.output(0).useCount === 0 && !first.output(0).isGraphOutput) {
      graph.remove(first);
      cancelled++;
    }
  }
  return cancelled;
}
