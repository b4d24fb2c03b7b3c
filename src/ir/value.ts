/** A value in the graph: produced by one node (or a graph input or initializer), used by any number of nodes. */
import type { DataType } from '../onnx/dtype.js';
import type { SparseTensorProto, ValueInfoProto } from '../onnx/types.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Tensor } from './tensor.js';

/** A dimension: a known size, a symbolic name (kept symbolic), or unknown. */
export type Dim = number | string | undefined;

export interface TensorType {
  dtype: DataType;
  /** undefined when even the rank is unknown. */
  shape?: Dim[];
}

/** `index` is the input slot on `node`; -1 marks a use from inside one of the node's subgraphs. */
export interface Use {
  readonly node: Node;
  readonly index: number;
}

export class Value {
  type: TensorType | undefined;
  /** The value_info this value was described by in the file, kept to re-emit it unchanged. */
  originInfo: ValueInfoProto | undefined;
  /** A graph output's own ValueInfoProto, when it differs from the value_info entry (`originInfo`). */
  outputInfo: ValueInfoProto | undefined;
  /** Set for a graph initializer (constant weight); may also be a graph input (an overridable default). */
  initializer: Tensor | undefined;
  /** Set for a sparse initializer, kept as read. */
  sparseInitializer: SparseTensorProto | undefined;

  private _producer: Node | undefined;
  private _uses: Use[] = [];

  constructor(
    readonly graph: Graph,
    private _name: string,
    type?: TensorType,
  ) {
    this.type = type;
  }

  get name(): string {
    return this._name;
  }

  /** Renaming goes through the graph so its name table stays right. */
  _setName(name: string): void {
    this._name = name;
  }

  get producer(): Node | undefined {
    return this._producer;
  }

  _setProducer(node: Node | undefined): void {
    this._producer = node;
  }

  /** A snapshot: safe to iterate while the graph changes. */
  uses(): Use[] {
    return [...this._uses];
  }

  get useCount(): number {
    return this._uses.length;
  }

  /** Nodes that read this value, each once, in use order. */
  consumers(): Node[] {
    return [...new Set(this._uses.map((u) => u.node))];
  }

  _addUse(node: Node, index: number): void {
    this._uses.push({ node, index });
  }

  _removeUse(node: Node, index: number): void {
    const at = this._uses.findIndex((u) => u.node === node && u.index === index);
    if (at >= 0) this._uses.splice(at, 1);
  }

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.outputs.includes(this);
  }

  /** A constant: an initializer that is not also a graph input. */
  get isConstant(): boolean {
    return this.initializer !== undefined && !this.isGraphInput;
  }

  get dtype(): DataType | undefined {
    return this.type?.dtype;
  }

  get shape(): Dim[] | undefined {
    return this.type?.shape;
  }

  get rank(): number | undefined {
    return this.type?.shape?.length;
  }

  toString(): string {
    return `'${this._name}'`;
  }
}
