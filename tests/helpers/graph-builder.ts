/** Small graphs for tests, built in code: inputs with types, constants with values, nodes with attributes. */
import { makeAttr, type AttributeValue } from '../../src/ir/attributes.js';
import { Graph } from '../../src/ir/graph.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Dim, TensorType, Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';

export class GraphBuilder {
  readonly graph = new Graph('test');

  input(name: string, dtype: DataType, shape?: Dim[]): Value {
    const v = this.graph.createValue(name, { dtype, shape });
    this.graph.inputs.push(v);
    return v;
  }

  /** An initializer holding `data` (int64 and float32 and a few others). */
  constant(name: string, dtype: DataType, dims: number[], data: readonly number[]): Value {
    return this.graph.addInitializer(name, new Tensor(dtype, dims, new InlineData(encode(dtype, data))));
  }

  int64s(name: string, data: readonly number[], dims = [data.length]): Value {
    return this.constant(name, DataType.INT64, dims, data);
  }

  /** A constant whose bytes are zeros: for weights, where only the shape matters. */
  weight(name: string, dtype: DataType, dims: number[]): Value {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.constant(name, dtype, dims, new Array<number>(count).fill(0));
  }

  node(
    opType: string,
    inputs: (Value | undefined)[],
    attrs: Record<string, AttributeValue> = {},
    options: { outputs?: number; domain?: string; types?: (TensorType | undefined)[] } = {},
  ): Node {
    const node = this.graph.createNode({
      opType,
      domain: options.domain,
      inputs,
      outputs: options.outputs ?? 1,
      types: options.types,
      attributes: Object.entries(attrs).map(([k, v]) => makeAttr(k, v)),
    });
    this.graph.append(node);
    return node;
  }

  /** The first output of a new node. */
  op(opType: string, inputs: (Value | undefined)[], attrs: Record<string, AttributeValue> = {}, domain?: string): Value {
    return this.node(opType, inputs, attrs, { domain }).output(0);
  }

  output(v: Value): Value {
    this.graph.outputs.push(v);
    return v;
  }
}

function encode(dtype: DataType, data: readonly number[]): Uint8Array {
  switch (dtype) {
    case DataType.INT64:
      return new Uint8Array(BigInt64Array.from(data, (x) => BigInt(x)).buffer);
    case DataType.INT32:
      return new Uint8Array(Int32Array.from(data).buffer);
    case DataType.FLOAT:
      return new Uint8Array(Float32Array.from(data).buffer);
    case DataType.INT8:
      return new Uint8Array(Int8Array.from(data).buffer);
    case DataType.UINT8:
    case DataType.BOOL:
      return Uint8Array.from(data);
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint8Array(new Uint16Array(data.length).buffer); // zeros: weights only
    default:
      throw new Error(`test builder cannot encode dtype ${dtype}`);
  }
}
