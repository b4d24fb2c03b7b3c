/** Small builders for hand-made ONNX models (decoded-message shape, ready for encodeModel): the fuzz seeds and regression tests use them. */
import Long from 'long';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../src/onnx/types.js';
import { AttributeType } from '../../src/onnx/types.js';

export const L = (v: number | string): Long => (typeof v === 'number' ? Long.fromNumber(v) : Long.fromString(v));
export const entry = (key: string, value: string) => ({ key, value });
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function tensor(name: string, dtype: number, dims: number[], data: Partial<TensorProto> = {}): TensorProto {
  return { name, data_type: dtype, dims: dims.map((d) => L(d)), ...data };
}

export function floats(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

export function info(name: string, dtype: number, dims?: (number | string)[]): ValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: L(d) } : { dim_param: d })) };
  return { name, type: { tensor_type: shape ? { elem_type: dtype, shape } : { elem_type: dtype } } };
}

export function node(op_type: string, input: string[], output: string[], name?: string, attribute?: AttributeProto[]): NodeProto {
  return { op_type, input, output, ...(name ? { name } : {}), ...(attribute ? { attribute } : {}) };
}

export function graphAttr(name: string, g: GraphProto): AttributeProto {
  return { name, type: AttributeType.GRAPH, g };
}

export function model(graph: GraphProto, irVersion = 8, opset = 17): ModelProto {
  return { ir_version: L(irVersion), producer_name: 'sdxl-opt-fuzz', opset_import: [{ domain: '', version: L(opset) }], graph };
}

