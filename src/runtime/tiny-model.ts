/**
 * One-node ONNX models built in memory: the CUDA probe of `doctor`, and tests that need inputs of a given dtype.
 */
import { encodeModel } from '../onnx/codec.js';
import type { ValueInfoProto } from '../onnx/types.js';

export interface TinyValue {
  name: string;
  dtype: number;
  /** Sizes, or names for symbolic dims. */
  shape: (number | string)[];
}

export interface TinyModelSpec {
  op: string;
  inputs: TinyValue[];
  outputs: TinyValue[];
  opset?: number;
}

export function tinyModelBytes(spec: TinyModelSpec): Uint8Array {
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: spec.opset ?? 17 }],
    producer_name: 'sdxl-opt',
    graph: {
      name: `tiny-${spec.op}`,
      node: [{ op_type: spec.op, name: spec.op, input: spec.inputs.map((v) => v.name), output: spec.outputs.map((v) => v.name) }],
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
  });
}

function valueInfo(v: TinyValue): ValueInfoProto {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.dtype,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}
