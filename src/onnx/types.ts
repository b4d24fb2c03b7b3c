/**
 * TypeScript shapes of the decoded ONNX messages (see onnx.proto.ts). Field names are the proto's (snake_case),
 * since protobufjs decodes with keepCase. int64 fields decode to Long; `$unknowns` holds fields this schema does not
 * know, re-emitted verbatim on encode. An absent optional field is an absent property: presence is preserved.
 */
import type Long from 'long';

export type Int64 = Long | number;

export interface Unknowns {
  $unknowns?: Uint8Array[];
}

export interface StringStringEntryProto extends Unknowns {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto extends Unknowns {
  domain?: string;
  version?: Int64;
}

export interface TensorShapeDimension extends Unknowns {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
  value?: 'dim_value' | 'dim_param';
}

export interface TensorShapeProto extends Unknowns {
  dim?: TensorShapeDimension[];
}

export interface TypeProtoTensor extends Unknowns {
  elem_type?: number;
  shape?: TensorShapeProto;
}

export interface TypeProto extends Unknowns {
  tensor_type?: TypeProtoTensor;
  sequence_type?: { elem_type?: TypeProto } & Unknowns;
  map_type?: { key_type?: number; value_type?: TypeProto } & Unknowns;
  optional_type?: { elem_type?: TypeProto } & Unknowns;
  sparse_tensor_type?: TypeProtoTensor;
  opaque_type?: { domain?: string; name?: string } & Unknowns;
  denotation?: string;
  value?: string;
}

export interface ValueInfoProto extends Unknowns {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface TensorProto extends Unknowns {
  dims?: Int64[];
  data_type?: number;
  segment?: { begin?: Int64; end?: Int64 } & Unknowns;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntryProto[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: Int64[];
  metadata_props?: StringStringEntryProto[];
}

export interface SparseTensorProto extends Unknowns {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: Int64[];
}

export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export interface AttributeProto extends Unknowns {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparse_tensors?: SparseTensorProto[];
  type_protos?: TypeProto[];
}

export interface NodeProto extends Unknowns {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
  device_configurations?: unknown[];
}

export interface TensorAnnotation extends Unknowns {
  tensor_name?: string;
  quant_parameter_tensor_names?: StringStringEntryProto[];
}

export interface GraphProto extends Unknowns {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: SparseTensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  quantization_annotation?: TensorAnnotation[];
  metadata_props?: StringStringEntryProto[];
}

export interface FunctionProto extends Unknowns {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attribute_proto?: AttributeProto[];
  node?: NodeProto[];
  doc_string?: string;
  opset_import?: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  value_info?: ValueInfoProto[];
  metadata_props?: StringStringEntryProto[];
}

export interface ModelProto extends Unknowns {
  ir_version?: Int64;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
  training_info?: unknown[];
  functions?: FunctionProto[];
  configuration?: unknown[];
}
