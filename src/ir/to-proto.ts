/**
 * The IR back to protobuf messages. What did not change is emitted as it was read (node fields, value_info,
 * tensors), so a model read and written with no pass is byte-identical; what changed is emitted from the IR.
 */
import Long from 'long';
import type { GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto } from '../onnx/types.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import { has, restOf } from './proto-util.js';
import type { Tensor } from './tensor.js';
import type { TensorType, Value } from './value.js';
import { typeFromProto } from './from-proto.js';

/** How each initializer is stored: the writer decides (inline bytes, or a place in an external data file). */
export type TensorProtoFor = (name: string, tensor: Tensor) => TensorProto;

export function modelToProto(model: Model, tensorProtoFor: TensorProtoFor): ModelProto {
  const p: ModelProto = restOf(model.origin, ['opset_import']) as ModelProto;
  if (!(model.origin?.ir_version !== undefined && Long.fromValue(model.origin.ir_version).equals(model.irVersion))) {
    p.ir_version = Long.fromNumber(model.irVersion);
  }
  // Opset entries as read where their version is unchanged (keeping their exact encoding), new ones after.
  const read = new Map((model.origin?.opset_import ?? []).map((o) => [o.domain ?? '', o]));
  p.opset_import = [...model.opsets].map(([domain, version]) => {
    const o = read.get(domain);
    if (o && o.version !== undefined && Long.fromValue(o.version).equals(version)) return o;
    return { ...restOf(o, ['version']), domain, version: Long.fromNumber(version) };
  });
  p.graph = graphToProto(model.graph, tensorProtoFor);
  if (model.functions.length) p.functions = model.functions;
  return p;
}

export function graphToProto(graph: Graph, tensorProtoFor: TensorProtoFor): GraphProto {
  const origin = graph.origin;
  const p: GraphProto = restOf(origin, []) as GraphProto;
  p.node = graph.nodes().map(nodeToProto);
  if (graph.name || has(origin, 'name')) p.name = graph.name;
  p.initializer = graph.initializers().map((v) => tensorProtoFor(v.name, v.initializer!));
  // Graph inputs and outputs are the model's interface: when a recipe fixed a named dim to a number (and the passes
  // specialized the graph to it), the interface must say so, or the model would accept sizes it can no longer run.
  p.input = graph.inputs.map((v) => valueInfoToProto(v, v.originInfo, true));
  p.output = graph.outputs.map((v) => valueInfoToProto(v, v.outputInfo ?? v.originInfo, true));
  const io = new Set([...graph.inputs, ...graph.outputs]);
  p.value_info = graph.valueInfoOrder
    .map((name) => graph.value(name))
    .filter((v): v is Value => v !== undefined && !io.has(v) && v.originInfo !== undefined)
    .map((v) => valueInfoToProto(v, v.originInfo));
  for (const key of ['node', 'initializer', 'input', 'output', 'value_info'] as const) {
    if (!p[key]!.length && !has(origin, key)) delete p[key];
  }
  return p;
}

function nodeToProto(node: Node): NodeProto {
  const origin = node.origin;
  const p: NodeProto = restOf(origin, ['input', 'output', 'attribute', 'metadata_props']) as NodeProto;
  const inputs = node.inputs.map((v) => v?.name ?? '');
  if (inputs.length) p.input = inputs;
  p.output = node.outputs.map((v) => v.name);
  // proto2 presence: an empty name or domain that was written is written again; a new node writes only non-empty ones.
  if (node.name || has(origin, 'name')) p.name = node.name;
  else delete p.name;
  p.op_type = node.opType;
  if (node.domain || has(origin, 'domain')) p.domain = node.domain;
  else delete p.domain;
  if (node.attributes.length) p.attribute = node.attributes;
  if (node.metadataProps?.length) p.metadata_props = node.metadataProps;
  return p;
}

/** A ValueInfoProto for `value`: the one read, when it still describes the value; otherwise one made from its type. */
function valueInfoToProto(value: Value, origin: ValueInfoProto | undefined, pinNumericDims = false): ValueInfoProto {
  if (origin && (value.type === undefined || agrees(typeFromProto(origin.type), value.type, pinNumericDims))) {
    return origin.name === value.name ? origin : { ...restOf(origin, ['name']), name: value.name };
  }
  const p: ValueInfoProto = restOf(origin, ['type', 'name']) as ValueInfoProto;
  p.name = value.name;
  if (value.type) p.type = typeToProto(value.type);
  return p;
}

/** The value_info read still holds when the element type is the same and no known dim contradicts it. */
function agrees(read: TensorType | undefined, now: TensorType, pinNumericDims: boolean): boolean {
  if (!read || read.dtype !== now.dtype) return false;
  if (!read.shape || !now.shape) return true;
  if (read.shape.length !== now.shape.length) return false;
  return read.shape.every((d, i) => {
    const n = now.shape![i];
    if (pinNumericDims && typeof d === 'string' && typeof n === 'number') return false;
    return typeof d !== 'number' || typeof n !== 'number' || d === n;
  });
}

export function typeToProto(t: TensorType): TypeProto {
  const tensor: NonNullable<TypeProto['tensor_type']> = { elem_type: t.dtype };
  if (t.shape) {
    tensor.shape = {
      dim: t.shape.map((d) => (typeof d === 'number' ? { dim_value: Long.fromNumber(d) } : typeof d === 'string' ? { dim_param: d } : {})),
    };
  }
  return { tensor_type: tensor };
}
