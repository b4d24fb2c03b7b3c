/**
 * The inference walk: every node once, in topological order, its rule applied to its inputs' types and known
 * contents. Where types are kept is the caller's choice (the values themselves, or a scratch map for checking),
 * so inferring and checking share one walk.
 */
import { isSdxlOptError } from '../../errors.js';
import type { Graph } from '../graph.js';
import { topologicalOrder } from '../graph.js';
import type { Node } from '../node.js';
import type { Dim, TensorType, Value } from '../value.js';
import { substituteDim } from './dim-expr.js';
import { knownFromTensor, numbersOf } from './known-values.js';
import { mergeTypes, sameType, typeText } from './merge.js';
import type { KnownTensor, OutputInference, RuleContext } from './rule.js';
import { opKey, ruleFor } from './rules/index.js';

export interface InferenceIssue {
  kind: /** a recorded type that inference contradicts */ 'contradiction' | /** inputs that cannot go together */ 'incompatible' | /** the rule could not run */ 'failed';
  /** `node 'name' (Op)` */
  node: string;
  /** The output concerned, for contradictions. */
  value?: string;
  message: string;
}

export interface InferenceReport {
  /** Node outputs and graph inputs. */
  valueCount: number;
  /** Of those, how many have an element type and a shape with every dim known (a number or a name). */
  complete: number;
  /** The others: no type, no shape, or some unknown dims. */
  incomplete: Value[];
  /** Values whose type inference added or refined. */
  changed: number;
  /** Op types with no inference rule ('Foo', 'com.microsoft:Bar') → node count; their outputs keep what was recorded. */
  unknownOps: Record<string, number>;
  issues: InferenceIssue[];
  /** Contents inference knows: constants and shape computations (elements may be symbolic dims). */
  knownValues: ReadonlyMap<Value, KnownTensor>;
}

export interface TypeStore {
  get(v: Value): TensorType | undefined;
  set(v: Value, t: TensorType): void;
}

export interface WalkOptions {
  dims?: Readonly<Record<string, number>>;
}

export function walkGraph(graph: Graph, store: TypeStore, options: WalkOptions = {}): InferenceReport {
  const known = new Map<Value, KnownTensor>();
  const issues: InferenceIssue[] = [];
  const unknownOps: Record<string, number> = {};
  let changed = 0;

  if (options.dims && Object.keys(options.dims).length) {
    // Graph inputs, and recorded types elsewhere that name the same dims (a node without a rule keeps its value_info).
    const dims = options.dims;
    for (const v of graph.values()) {
      const t = store.get(v);
      if (!t?.shape || t.shape.every((d) => typeof d !== 'string')) continue;
      const shape = t.shape.map((d) => substituteDim(d, dims));
      if (shape.some((d, i) => d !== t.shape![i])) {
        store.set(v, { dtype: t.dtype, shape });
        changed++;
      }
    }
  }

  const looked = new Set<Value>();
  const valueOf = (v: Value): KnownTensor | undefined => {
    const k = known.get(v);
    if (k || looked.has(v)) return k;
    looked.add(v);
    // An initializer that is also a graph input is only a default: the caller may feed something else.
    const fromTensor = v.initializer && !v.isGraphInput ? knownFromTensor(v.initializer) : undefined;
    if (fromTensor) known.set(v, fromTensor);
    return fromTensor;
  };

  for (const node of nodesInOrder(graph)) {
    const rule = ruleFor(node);
    if (!rule) {
      const key = opKey(node);
      unknownOps[key] = (unknownOps[key] ?? 0) + 1;
      continue;
    }
    let problems: Set<string> | undefined;
    const ctx = new NodeContext(node, store, valueOf, (message) => (problems ??= new Set()).add(message));
    let outputs: (OutputInference | undefined)[];
    try {
      outputs = rule(ctx);
    } catch (e) {
      // A malformed attribute or constant (the reader's checks throw these); anything else is a bug and escapes.
      if (!isSdxlOptError(e)) throw e;
      issues.push({ kind: 'failed', node: `${node}`, message: e.message });
      continue;
    }
    for (const message of problems ?? []) issues.push({ kind: 'incompatible', node: `${node}`, message });
    node.outputs.forEach((out, i) => {
      const inf = outputs[i];
      if (!inf) return;
      if (inf.value) known.set(out, inf.value);
      if (inf.dtype === undefined || inf.dtype === 0) return;
      const before = store.get(out);
      const merged = mergeTypes(before, { dtype: inf.dtype, shape: inf.shape && [...inf.shape] });
      if (merged.conflict) {
        issues.push({
          kind: 'contradiction',
          node: `${node}`,
          value: out.name,
          message: `output '${out.name}' is recorded as ${typeText(before)} but its inputs give ${typeText({ dtype: inf.dtype, shape: inf.shape })}`,
        });
      }
      if (!sameType(before, merged.type)) {
        store.set(out, merged.type);
        changed++;
      }
    });
  }

  const counted = [...graph.inputs, ...graph.nodes().flatMap((n) => n.outputs)];
  const incomplete = counted.filter((v) => {
    const t = store.get(v);
    return !t?.shape || t.shape.includes(undefined);
  });
  return {
    valueCount: counted.length,
    complete: counted.length - incomplete.length,
    incomplete,
    changed,
    unknownOps,
    issues,
    knownValues: known,
  };
}

/** The graph's own order when producers already come first (the usual case: a linear check), else a sort. */
export function nodesInOrder(graph: Graph): Node[] {
  const nodes = graph.nodes();
  const seen = new Set<Node>();
  for (const n of nodes) {
    for (const v of n.inputs) {
      const p = v?.producer;
      if (p && !seen.has(p)) return topologicalOrder(graph);
    }
    for (const v of n.implicitInputs) {
      const p = v.producer;
      if (p && !seen.has(p)) return topologicalOrder(graph);
    }
    seen.add(n);
  }
  return nodes;
}

class NodeContext implements RuleContext {
  constructor(
    readonly node: Node,
    private readonly store: TypeStore,
    private readonly valueOf: (v: Value) => KnownTensor | undefined,
    readonly problem: (message: string) => void,
  ) {}

  get inputCount(): number {
    return this.node.inputs.length;
  }

  has(i: number): boolean {
    return this.node.input(i) !== undefined;
  }

  type(i: number): TensorType | undefined {
    const v = this.node.input(i);
    return v && this.store.get(v);
  }

  dtype(i: number) {
    return this.type(i)?.dtype;
  }

  shape(i: number): Dim[] | undefined {
    return this.type(i)?.shape;
  }

  value(i: number): KnownTensor | undefined {
    const v = this.node.input(i);
    return v && this.valueOf(v);
  }

  ints(i: number): number[] | undefined {
    return numbersOf(this.value(i));
  }
}
