/** A node: one operator call. Inputs change only through replaceInput/setInputs, which keep use lists right. */
import { attrFloat, attrInt, attrInts, attrString, attrTensor, makeAttr, type AttributeValue } from './attributes.js';
import type { AttributeProto, NodeProto, StringStringEntryProto, TensorProto } from '../onnx/types.js';
import type { Graph } from './graph.js';
import type { Value } from './value.js';

/** The metadata key new nodes are stamped with, naming the pass that made them. */
export const PASS_STAMP_KEY = 'sdxl_opt.pass';

export class Node {
  /** Fields of the NodeProto the IR does not model (doc_string, overload, device configurations, unknown fields). */
  origin: NodeProto | undefined;
  metadataProps: StringStringEntryProto[] | undefined;
  /** Values read from inside this node's subgraphs (outer-scope references); they count as uses. */
  readonly implicitInputs: Value[] = [];

  /** @internal linked list of the graph's nodes */
  _prev: Node | undefined;
  /** @internal */
  _next: Node | undefined;
  /** @internal set while the node is in a graph */
  _graph: Graph | undefined;

  private _inputs: (Value | undefined)[] = [];
  private _outputs: Value[] = [];

  constructor(
    public opType: string,
    public domain: string,
    public name: string,
    public attributes: AttributeProto[] = [],
  ) {}

  get graph(): Graph | undefined {
    return this._graph;
  }

  get inputs(): readonly (Value | undefined)[] {
    return this._inputs;
  }

  get outputs(): readonly Value[] {
    return this._outputs;
  }

  /** Input i, or undefined when absent or an omitted optional input. */
  input(i: number): Value | undefined {
    return this._inputs[i];
  }

  output(i = 0): Value {
    const v = this._outputs[i];
    if (!v) throw new RangeError(`node '${this.name}' (${this.opType}) has no output ${i}`);
    return v;
  }

  replaceInput(index: number, value: Value | undefined): void {
    const old = this._inputs[index];
    if (old === value) return;
    if (this._graph) old?._removeUse(this, index);
    this._inputs[index] = value;
    if (this._graph) value?._addUse(this, index);
  }

  /** Replaces all inputs; an undefined entry is an omitted optional input. */
  setInputs(values: readonly (Value | undefined)[]): void {
    if (this._graph) this._inputs.forEach((v, i) => v?._removeUse(this, i));
    this._inputs = [...values];
    // Trailing omitted inputs are dropped, as ONNX writes them.
    while (this._inputs.length && this._inputs[this._inputs.length - 1] === undefined) this._inputs.pop();
    if (this._graph) this._inputs.forEach((v, i) => v?._addUse(this, i));
  }

  /** @internal outputs are attached by the graph, which owns value names. */
  _setOutputs(values: Value[]): void {
    this._outputs.forEach((v) => v._setProducer(undefined));
    this._outputs = values;
    values.forEach((v) => v._setProducer(this));
  }

  /** @internal uses count only while the node is in a graph */
  _detachInputs(): void {
    this._inputs.forEach((v, i) => v?._removeUse(this, i));
    this.implicitInputs.forEach((v) => v._removeUse(this, -1));
  }

  /** @internal */
  _attachInputs(): void {
    this._inputs.forEach((v, i) => v?._addUse(this, i));
    this.implicitInputs.forEach((v) => v._addUse(this, -1));
  }

  get next(): Node | undefined {
    return this._next;
  }

  get prev(): Node | undefined {
    return this._prev;
  }

  /** True for operators of the default ONNX domain ('' or 'ai.onnx'). */
  is(opType: string, domain = ''): boolean {
    const d = this.domain === 'ai.onnx' ? '' : this.domain;
    return this.opType === opType && d === domain;
  }

  attr(name: string): AttributeProto | undefined {
    return this.attributes.find((a) => a.name === name);
  }

  attrInt(name: string, fallback: number): number;
  attrInt(name: string): number | undefined;
  attrInt(name: string, fallback?: number): number | undefined {
    return attrInt(this.attributes, name, `${this}`) ?? fallback;
  }

  attrFloat(name: string, fallback: number): number;
  attrFloat(name: string): number | undefined;
  attrFloat(name: string, fallback?: number): number | undefined {
    return attrFloat(this.attributes, name) ?? fallback;
  }

  attrInts(name: string): number[] | undefined {
    return attrInts(this.attributes, name, `${this}`);
  }

  attrString(name: string): string | undefined {
    return attrString(this.attributes, name);
  }

  attrTensor(name: string): TensorProto | undefined {
    return attrTensor(this.attributes, name);
  }

  setAttr(name: string, value: AttributeValue, kind?: 'float' | 'floats'): void {
    const attr = makeAttr(name, value, kind);
    const at = this.attributes.findIndex((a) => a.name === name);
    if (at >= 0) this.attributes[at] = attr;
    else this.attributes.push(attr);
  }

  removeAttr(name: string): void {
    this.attributes = this.attributes.filter((a) => a.name !== name);
  }

  metadata(key: string): string | undefined {
    return this.metadataProps?.find((e) => e.key === key)?.value;
  }

  setMetadata(key: string, value: string): void {
    this.metadataProps ??= [];
    const entry = this.metadataProps.find((e) => e.key === key);
    if (entry) entry.value = value;
    else this.metadataProps.push({ key, value });
  }

  /** Where this node is, for messages: `node 'name' (Op)`. */
  toString(): string {
    return `node '${this.name || '(unnamed)'}' (${this.domain ? `${this.domain}.` : ''}${this.opType})`;
  }
}
