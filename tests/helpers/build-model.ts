/**
 * Small ONNX models for tests, built as ModelProto objects and encoded with the project's own codec, so a test can
 * say exactly which storage form (raw_data, typed fields, external data) each tensor uses.
 */
import fs from 'node:fs';
import Long from 'long';
import { encodeModel } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../src/onnx/types.js';

export { DataType };

const int64s = (values: readonly number[]) => values.map((v) => Long.fromNumber(v));

/** A tensor held as raw_data. */
export function rawTensor(name: string, dtype: number, dims: readonly number[], bytes: Uint8Array): TensorProto {
  return { name, data_type: dtype, dims: int64s(dims), raw_data: bytes };
}

/** A float tensor held in float_data. */
export function floatDataTensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  return { name, data_type: DataType.FLOAT, dims: int64s(dims), float_data: [...values] };
}

/** An int64 tensor held in int64_data. */
export function int64DataTensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  return { name, data_type: DataType.INT64, dims: int64s(dims), int64_data: int64s(values) };
}

/** A tensor held in int32_data: int32, or the 16-bit patterns of float16 / bfloat16 (one per int32, as ONNX stores them). */
export function int32DataTensor(name: string, dtype: number, dims: readonly number[], values: readonly number[]): TensorProto {
  return { name, data_type: dtype, dims: int64s(dims), int32_data: [...values] };
}

/** A tensor whose bytes live in `location` at `offset`; `length` may be omitted, or given as any string (for hostile cases). */
export function externalTensor(
  name: string,
  dtype: number,
  dims: readonly number[],
  location: string,
  offset: number | string,
  length?: number | string,
): TensorProto {
  const entries = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
  ];
  if (length !== undefined) entries.push({ key: 'length', value: String(length) });
  return { name, data_type: dtype, dims: int64s(dims), external_data: entries, data_location: 1 };
}

export function valueInfo(name: string, dtype: number, dims: readonly (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: dtype,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: Long.fromNumber(d) } : { dim_param: d })) },
      },
    },
  };
}

export function node(opType: string, inputs: string[], outputs: string[], name = `${opType}_${outputs[0]}`): NodeProto {
  return { op_type: opType, input: inputs, output: outputs, name };
}

export interface ModelSpec {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
  opset?: number;
  irVersion?: number;
}

export function buildModel(spec: ModelSpec): ModelProto {
  return {
    ir_version: Long.fromNumber(spec.irVersion ?? 8),
    producer_name: 'sdxl-opt-tests',
    opset_import: [{ domain: '', version: Long.fromNumber(spec.opset ?? 17) }],
    graph: {
      name: 'test',
      node: spec.nodes,
      initializer: spec.initializers ?? [],
      input: spec.inputs,
      output: spec.outputs,
    },
  };
}

/** Encodes `model` into `file` and returns its bytes. */
export function writeModelFile(file: string, model: ModelProto): Uint8Array {
  const bytes = encodeModel(model);
  fs.writeFileSync(file, bytes);
  return bytes;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Deterministic float32 values (a cheap LCG), for weights whose exact values a test compares. */
export function f32Sequence(count: number, seed = 1): Float32Array {
  const out = new Float32Array(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 2 ** 32 - 0.5) * 2;
  }
  return out;
}
