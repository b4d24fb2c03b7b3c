/** The tensor a Constant node holds, from whichever of its attributes carries it. */
import Long from 'long';
import type { Node } from '../../src/ir/node.js';
import { isExternal, tensorFromProto } from '../../src/ir/tensor-proto.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { TensorProto } from '../../src/onnx/types.js';

/**
 * The Constant's value as a TensorProto named `name` (so the writer can emit it as it was stored), or a reason it
 * cannot become an initializer: string and sparse constants, and constants that point at external data, stay nodes.
 */
export function constantNodeProto(node: Node, name: string): TensorProto | { refused: string } {
  const attr = node.attributes[0];
  if (node.attributes.length !== 1 || !attr?.name) return { refused: 'a Constant must have exactly one value attribute' };
  switch (attr.name) {
    case 'value': {
      const t = attr.t;
      if (!t) return { refused: 'Constant value holds no tensor' };
      if (isExternal(t)) return { refused: 'Constant value lives in external data' };
      if (t.data_type === DataType.STRING) return { refused: 'string constants are kept as nodes' };
      return { ...t, name };
    }
    case 'value_float':
      return { name, data_type: DataType.FLOAT, dims: [], float_data: [attr.f ?? 0] };
    case 'value_floats':
      return { name, data_type: DataType.FLOAT, dims: [Long.fromNumber(attr.floats?.length ?? 0)], float_data: [...(attr.floats ?? [])] };
    case 'value_int':
      return { name, data_type: DataType.INT64, dims: [], int64_data: [attr.i ?? 0] };
    case 'value_ints':
      return { name, data_type: DataType.INT64, dims: [Long.fromNumber(attr.ints?.length ?? 0)], int64_data: [...(attr.ints ?? [])] };
    default:
      return { refused: `Constant ${attr.name} is kept as a node` };
  }
}

export function constantNodeTensor(node: Node, name: string): Tensor | { refused: string } {
  const proto = constantNodeProto(node, name);
  if ('refused' in proto) return proto;
  return tensorFromProto(proto, `${node}`);
}
