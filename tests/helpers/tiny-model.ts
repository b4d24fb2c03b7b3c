/**
 * Tiny ONNX models for pass tests, written as ModelProto objects (the way a reader would decode them), encoded with
 * the project's codec and read back through the normal reader.
 */
import assert from 'node:assert/strict';
import Long from 'long';
import { modelFromBytes } from '../../src/io/read.js';
import { topologicalOrder } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import { encodeModel } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../src/onnx/types.js';
import { makeAttr, type AttributeValue } from '../../src/ir/attributes.js';

export type Shape = readonly (number | string)[];

export interface TinyNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, AttributeValue | { float: number } | { floats: number[] }>;
  domain?: string;
  name?: string;
  /** Attributes written out in full (subgraphs). */
  rawAttrs?: AttributeProto[];
}

export interface TinyModel {
  opset?: number;
  inputs: readonly [string, DataType, Shape][];
  outputs: readonly [string, DataType, Shape?][];
  nodes: readonly TinyNode[];
  initializers?: readonly TensorProto[];
  /** value_info entries: types of intermediate values. */
  valueInfo?: readonly [string, DataType, Shape][];
}

export function valueInfo(name: string, dtype: DataType, shape?: Shape): ValueInfoProto {
  const tensor: NonNullable<NonNullable<ValueInfoProto['type']>['tensor_type']> = { elem_type: dtype };
  if (shape) tensor.shape = { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: Long.fromNumber(d) } : { dim_param: d })) };
  return { name, type: { tensor_type: tensor } };
}

function attribute(name: string, value: TinyNode['attrs'] extends Record<string, infer V> | undefined ? V : never): AttributeProto {
  if (typeof value === 'object' && value !== null && 'float' in value) return makeAttr(name, value.float, 'float');
  if (typeof value === 'object' && value !== null && 'floats' in value && !('ints' in value)) return makeAttr(name, value.floats, 'floats');
  return makeAttr(name, value as AttributeValue);
}

export function tinyModelProto(spec: TinyModel): ModelProto {
  const node: NodeProto[] = spec.nodes.map((n, i) => ({
    name: n.name ?? `${n.op}_${i}`,
    op_type: n.op,
    ...(n.domain ? { domain: n.domain } : {}),
    input: [...n.inputs],
    output: [...n.outputs],
    attribute: [...Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)), ...(n.rawAttrs ?? [])],
  }));
  return {
    ir_version: Long.fromNumber(8),
    opset_import: [{ domain: '', version: Long.fromNumber(spec.opset ?? 17) }],
    producer_name: 'sdxl-opt tests',
    graph: {
      name: 'tiny',
      node,
      input: spec.inputs.map(([n, t, s]) => valueInfo(n, t, s)),
      output: spec.outputs.map(([n, t, s]) => valueInfo(n, t, s)),
      initializer: [...(spec.initializers ?? [])],
      value_info: (spec.valueInfo ?? []).map(([n, t, s]) => valueInfo(n, t, s)),
    },
  };
}

/** Encodes the model and reads it back, as a file on disk would be. */
export function tinyModel(spec: TinyModel): Model {
  return modelFromBytes(encodeModel(tinyModelProto(spec)), 'tiny.onnx');
}

export function int64Tensor(name: string, values: readonly (number | bigint)[], dims: readonly number[] = [values.length]): TensorProto {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, data_type: DataType.INT64, dims: dims.map((d) => Long.fromNumber(d)), raw_data: new Uint8Array(data.buffer) };
}

export function floatTensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): TensorProto {
  const data = Float32Array.from(values);
  return { name, data_type: DataType.FLOAT, dims: dims.map((d) => Long.fromNumber(d)), raw_data: new Uint8Array(data.buffer) };
}

/** Counts of nodes by op type, for asserting what a pass left. */
export function opCounts(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of model.graph) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
  return counts;
}

/** Every node after the producers of its inputs: for passes that keep the graph sorted without re-sorting it. */
export function assertSorted(model: Model): void {
  const nodes = model.graph.nodes();
  assert.ok(topologicalOrder(model.graph).every((n, i) => n === nodes[i]), 'nodes are in topological order');
}
