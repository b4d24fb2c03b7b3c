/**
 * A computation graph: nodes in order (a linked list: insert and remove are O(1)), values by name, initializers as
 * lazy tensors. Every mutation keeps producers and use lists right; `remove` checks everything before it changes
 * anything, so a refused call leaves the graph as it was.
 */
import { SdxlOptError } from '../errors.js';
import type { DataType } from '../onnx/dtype.js';
import type { AttributeProto, GraphProto } from '../onnx/types.js';
import { Node, PASS_STAMP_KEY } from './node.js';
import type { Tensor } from './tensor.js';
import { Value, type TensorType } from './value.js';

export interface NewNode {
  opType: string;
  domain?: string;
  /** A name hint; made unique. Defaults to the op type. */
  name?: string;
  inputs: readonly (Value | undefined)[];
  /** Output count (fresh names from the node's name) or name hints. */
  outputs?: number | readonly string[];
  attributes?: AttributeProto[];
  /** Output types, when known. */
  types?: readonly (TensorType | undefined)[];
  /** The pass that made the node: stamped into its metadata_props. */
  pass?: string;
}

export class Graph {
  /** GraphProto fields the IR does not model (doc_string, sparse initializer order, annotations, unknown fields). */
  origin: GraphProto | undefined;
  /** Names of values that had a value_info entry in the file, in file order. */
  valueInfoOrder: string[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];

  private _first: Node | undefined;
  private _last: Node | undefined;
  private _size = 0;
  private readonly _values = new Map<string, Value>();
  private readonly _initializers = new Map<string, Value>();
  private readonly _nodeNames = new Set<string>();
  /** Per hint, the suffix to try first: asking n times for one hint costs O(n), not O(n²) (a model with thousands of same-named nodes). */
  private readonly _nextSuffix = new Map<string, number>();
  private readonly _nextNodeSuffix = new Map<string, number>();

  constructor(public name: string) {}

  // ---- reading ------------------------------------------------------------------------------------------------

  get nodeCount(): number {
    return this._size;
  }

  *[Symbol.iterator](): IterableIterator<Node> {
    for (let n = this._first; n; ) {
      const next = n._next; // the loop body may remove n
      yield n;
      n = next;
    }
  }

  nodes(): Node[] {
    return [...this];
  }

  get firstNode(): Node | undefined {
    return this._first;
  }

  value(name: string): Value | undefined {
    return this._values.get(name);
  }

  values(): IterableIterator<Value> {
    return this._values.values();
  }

  /** Initializers in file order (new ones last). */
  initializers(): Value[] {
    return [...this._initializers.values()];
  }

  initializer(name: string): Value | undefined {
    return this._initializers.get(name);
  }

  hasNodeName(name: string): boolean {
    return this._nodeNames.has(name);
  }

  // ---- names --------------------------------------------------------------------------------------------------

  /** A value name not yet used in this graph, from a hint. */
  uniqueValueName(hint: string): string {
    return uniqueName(hint, (n) => this._values.has(n), this._nextSuffix);
  }

  uniqueNodeName(hint: string): string {
    return uniqueName(hint, (n) => this._nodeNames.has(n), this._nextNodeSuffix);
  }

  // ---- values -------------------------------------------------------------------------------------------------

  /** A new value with a unique name, not yet produced by anything. */
  createValue(nameHint: string, type?: TensorType): Value {
    const v = new Value(this, this.uniqueValueName(nameHint), type);
    this._values.set(v.name, v);
    return v;
  }

  /** @internal used by the reader, which must keep names exactly. */
  _defineValue(name: string, where: string): Value {
    if (this._values.has(name)) {
      throw new SdxlOptError('BAD_MODEL', `value '${name}' is defined twice`, {
        where,
        hint: 'ONNX graphs are in SSA form: each value name must have exactly one producer',
      });
    }
    const v = new Value(this, name);
    this._values.set(name, v);
    return v;
  }

  renameValue(value: Value, name: string): void {
    if (value.name === name) return;
    if (this._values.has(name)) throw new SdxlOptError('BAD_MODEL', `cannot rename ${value} to '${name}': the name is taken`);
    this._values.delete(value.name);
    if (this._initializers.has(value.name)) {
      this._initializers.delete(value.name);
      this._initializers.set(name, value);
    }
    const oldName = value.name;
    value._setName(name);
    this._values.set(name, value);
    const at = this.valueInfoOrder.indexOf(oldName);
    if (at >= 0) this.valueInfoOrder[at] = name;
  }

  /** Adds a constant. The returned value has the tensor's type. */
  addInitializer(nameHint: string, tensor: Tensor): Value {
    const v = this.createValue(nameHint, { dtype: tensor.dtype, shape: [...tensor.dims] });
    v.initializer = tensor;
    this._initializers.set(v.name, v);
    return v;
  }

  /** @internal used by the reader. */
  _registerInitializer(value: Value): void {
    this._initializers.set(value.name, value);
  }

  /** Replaces the tensor of an initializer (a cast, a transpose); its type follows the tensor. */
  setInitializerTensor(value: Value, tensor: Tensor): void {
    if (!this._initializers.has(value.name)) throw new SdxlOptError('BAD_MODEL', `${value} is not an initializer`);
    value.initializer = tensor;
    value.type = { dtype: tensor.dtype, shape: [...tensor.dims] };
  }

  /** Removes an initializer no node, subgraph or graph output reads. */
  removeInitializer(value: Value): void {
    if (value.useCount > 0 || value.isGraphOutput) {
      throw new SdxlOptError('BAD_MODEL', `cannot remove initializer ${value}: it is still used`);
    }
    this._initializers.delete(value.name);
    value.initializer = undefined;
    if (!value.isGraphInput) this._values.delete(value.name);
  }

  // ---- nodes --------------------------------------------------------------------------------------------------

  /** Creates a node with fresh output values; does not insert it (use insertBefore/After or append). */
  createNode(spec: NewNode): Node {
    const domain = spec.domain ?? '';
    const node = new Node(spec.opType, domain, this.uniqueNodeName(spec.name ?? spec.opType), spec.attributes ?? []);
    const hints =
      typeof spec.outputs === 'number' || spec.outputs === undefined
        ? Array.from({ length: spec.outputs ?? 1 }, (_, i) => `${node.name}_output_${i}`)
        : spec.outputs;
    node._setOutputs(hints.map((h, i) => this.createValue(h, spec.types?.[i])));
    node.setInputs(spec.inputs); // uses are registered when the node is inserted
    if (spec.pass) node.setMetadata(PASS_STAMP_KEY, spec.pass);
    this._nodeNames.add(node.name); // reserve the name now, so two new nodes never share one
    return node;
  }

  append(node: Node): Node {
    return this.insertAfter(this._last, node);
  }

  /** Inserts `node` before `ref` (at the end when ref is undefined). */
  insertBefore(ref: Node | undefined, node: Node): Node {
    return ref ? this.insertAfter(ref._prev, node, ref) : this.append(node);
  }

  /** Inserts `node` after `ref` (at the start when ref is undefined). */
  insertAfter(ref: Node | undefined, node: Node, _next?: Node): Node {
    if (node._graph) throw new SdxlOptError('BAD_MODEL', `${node} is already in a graph`);
    if (ref && ref._graph !== this) throw new SdxlOptError('BAD_MODEL', `${ref} is not in graph '${this.name}'`);
    const next = ref ? ref._next : this._first;
    node._prev = ref;
    node._next = next;
    if (ref) ref._next = node;
    else this._first = node;
    if (next) next._prev = node;
    else this._last = node;
    node._graph = this;
    this._size++;
    this._nodeNames.add(node.name);
    for (const out of node.outputs) if (!this._values.has(out.name)) this._values.set(out.name, out);
    node._attachInputs();
    return node;
  }

  /**
   * Removes nodes. With `safe` (the default) it first checks that no output of a removed node is read by a node
   * outside the set or is a graph output, and changes nothing when that fails.
   */
  remove(nodes: Node | readonly Node[], options: { safe?: boolean } = {}): void {
    const list = Array.isArray(nodes) ? (nodes as readonly Node[]) : [nodes as Node];
    const removing = new Set(list);
    for (const node of list) {
      if (node._graph !== this) throw new SdxlOptError('BAD_MODEL', `${node} is not in graph '${this.name}'`);
      if (options.safe === false) continue;
      for (const out of node.outputs) {
        if (out.isGraphOutput) {
          throw new SdxlOptError('BAD_MODEL', `cannot remove ${node}: its output ${out} is a graph output`);
        }
        const outside = out.uses().find((u) => !removing.has(u.node));
        if (outside) {
          throw new SdxlOptError('BAD_MODEL', `cannot remove ${node}: its output ${out} is still read by ${outside.node}`);
        }
      }
    }
    for (const node of list) {
      node._detachInputs();
      if (node._prev) node._prev._next = node._next;
      else this._first = node._next;
      if (node._next) node._next._prev = node._prev;
      else this._last = node._prev;
      node._prev = node._next = undefined;
      node._graph = undefined;
      this._size--;
      this._nodeNames.delete(node.name);
      for (const out of node.outputs) {
        if (this._values.get(out.name) === out && !out.isGraphOutput) this._values.delete(out.name);
      }
    }
  }

  /**
   * Makes every reader of `old` read `replacement`. A graph output is refused unless `graphOutputs` is set; then
   * `replacement` takes over the output's name (output names are the model's interface) and `old` is renamed.
   */
  replaceAllUsesWith(old: Value, replacement: Value, options: { graphOutputs?: boolean } = {}): void {
    if (old === replacement) return;
    const outputIndex = this.outputs.indexOf(old);
    if (outputIndex >= 0 && !options.graphOutputs) {
      throw new SdxlOptError('BAD_MODEL', `${old} is a graph output; pass graphOutputs to replace it`);
    }
    for (const use of old.uses()) {
      if (use.index >= 0) {
        use.node.replaceInput(use.index, replacement);
      } else {
        renameInSubgraphs(use.node.attributes, old.name, replacement.name);
        const at = use.node.implicitInputs.indexOf(old);
        old._removeUse(use.node, -1);
        use.node.implicitInputs[at] = replacement;
        replacement._addUse(use.node, -1);
      }
    }
    if (outputIndex >= 0) {
      for (let i = 0; i < this.outputs.length; i++) if (this.outputs[i] === old) this.outputs[i] = replacement;
      const outputName = old.name;
      this.renameValue(old, this.uniqueValueName(`${outputName}_replaced`));
      if (replacement.isGraphInput || replacement.isConstant) return; // an input or constant keeps its own name
      this.renameValue(replacement, outputName);
    }
  }

  /** Sorts nodes so each comes after the producers of its inputs, keeping the current order where it can. */
  topologicalSort(): void {
    const order = topologicalOrder(this);
    this._first = this._last = undefined;
    let prev: Node | undefined;
    for (const n of order) {
      n._prev = prev;
      n._next = undefined;
      if (prev) prev._next = n;
      else this._first = n;
      prev = n;
    }
    this._last = prev;
  }

  /** Element type of a value, or throws naming it: for passes that need it. */
  dtypeOf(value: Value): DataType {
    const t = value.type?.dtype;
    if (t === undefined) throw new SdxlOptError('BAD_MODEL', `the element type of ${value} is unknown`);
    return t;
  }
}

/** `hint`, or `hint_<i>` for the first free i at or after the last one handed out for this hint. */
function uniqueName(hint: string, taken: (name: string) => boolean, nextSuffix: Map<string, number>): string {
  if (!taken(hint)) return hint;
  for (let i = nextSuffix.get(hint) ?? 1; ; i++) {
    const candidate = `${hint}_${i}`;
    if (!taken(candidate)) {
      nextSuffix.set(hint, i + 1);
      return candidate;
    }
  }
}

/** Nodes in an order where producers come first; stable; throws on a cycle naming a node on it. */
export function topologicalOrder(graph: Graph): Node[] {
  const nodes = graph.nodes();
  const pending = new Map<Node, number>();
  const readers = new Map<Node, Node[]>();
  for (const n of nodes) {
    const producers = new Set<Node>();
    for (const v of [...n.inputs, ...n.implicitInputs]) {
      const p = v?.producer;
      if (p && p._graph === graph && p !== n) producers.add(p);
      if (p === n) throw new SdxlOptError('BAD_MODEL', `${n} reads its own output: the graph has a cycle`, { where: `graph '${graph.name}'` });
    }
    pending.set(n, producers.size);
    for (const p of producers) {
      const list = readers.get(p);
      if (list) list.push(n);
      else readers.set(p, [n]);
    }
  }
  // A min-heap on original position would be stabler; a queue seeded in order keeps the order for sorted graphs.
  const position = new Map(nodes.map((n, i) => [n, i]));
  const ready = nodes.filter((n) => pending.get(n) === 0);
  const order: Node[] = [];
  const heap = new MinHeap<Node>((a, b) => position.get(a)! - position.get(b)!);
  ready.forEach((n) => heap.push(n));
  while (heap.size) {
    const n = heap.pop()!;
    order.push(n);
    for (const r of readers.get(n) ?? []) {
      const left = pending.get(r)! - 1;
      pending.set(r, left);
      if (left === 0) heap.push(r);
    }
  }
  if (order.length !== nodes.length) {
    throw new SdxlOptError('BAD_MODEL', `the graph has a cycle through ${nodeOnCycle(nodes, pending, graph)}`, {
      where: `graph '${graph.name}'`,
      hint: 'ONNX graphs must be acyclic; the file is corrupt',
    });
  }
  return order;
}

/**
 * A node that lies on a cycle, for the message. Every node left pending has a pending producer, so walking from
 * one to a pending producer, again and again, must come back to a node already seen: that node is on a cycle (the
 * first pending node may only sit downstream of one).
 */
function nodeOnCycle(nodes: readonly Node[], pending: ReadonlyMap<Node, number>, graph: Graph): Node {
  const seen = new Set<Node>();
  let n = nodes.find((x) => pending.get(x)! > 0)!;
  while (!seen.has(n)) {
    seen.add(n);
    const producer = [...n.inputs, ...n.implicitInputs]
      .map((v) => v?.producer)
      .find((p): p is Node => p !== undefined && p._graph === graph && pending.get(p)! > 0);
    if (!producer) return n; // cannot happen: a pending node waits on a pending producer
    n = producer;
  }
  return n;
}

class MinHeap<T> {
  private items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.less(a[i]!, a[parent]!) >= 0) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Renames references to an outer value inside subgraph attributes (inner definitions shadow it). */
function renameInSubgraphs(attributes: AttributeProto[], from: string, to: string): void {
  const visit = (g: GraphProto): void => {
    const defined = new Set<string>([
      ...(g.input ?? []).map((v) => v.name ?? ''),
      ...(g.initializer ?? []).map((t) => t.name ?? ''),
      ...(g.node ?? []).flatMap((n) => n.output ?? []),
    ]);
    if (defined.has(from)) return;
    for (const n of g.node ?? []) {
      if (n.input) n.input = n.input.map((name) => (name === from ? to : name));
      for (const a of n.attribute ?? []) [a.g, ...(a.graphs ?? [])].forEach((sub) => sub && visit(sub));
    }
    for (const o of g.output ?? []) if (o.name === from) o.name = to;
  };
  for (const a of attributes) [a.g, ...(a.graphs ?? [])].forEach((sub) => sub && visit(sub));
}
