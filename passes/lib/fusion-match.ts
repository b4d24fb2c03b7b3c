/**
 * Small pieces the fusion passes share: who reads a value, which operand of a two-input op is which, what a fused
 * subgraph leaves behind, and the tally of reasons a candidate did not fuse (the most common question about a
 * fusion is why it matched nothing).
 */
import type { PassContext, PassResult } from '../../src/engine/pass.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';

export const MICROSOFT_DOMAIN = 'com.microsoft';

/** The node that computes `v` in this graph, when it is a default-domain `opType`. */
export function producedBy(v: Value | undefined, opType: string): Node | undefined {
  const p = v?.producer;
  return p && p.graph === v.graph && p.is(opType) ? p : undefined;
}

/** A name for the node replacing `node`: `/u/ff/net.0/Erf` → `/u/ff/net.0/Gelu`, `node_Erf_3` → `node_Gelu`. */
export function fusedName(node: Node, opType: string): string {
  const re = new RegExp(`${node.opType}[^/]*$`);
  if (node.name && re.test(node.name)) return node.name.replace(re, opType);
  return node.name ? `${node.name}_${opType}` : opType;
}

/** For a two-input node known to read `v`: its other input. */
export function otherInput(node: Node, v: Value): Value | undefined {
  if (node.input(0) === v) return node.input(1);
  if (node.input(1) === v) return node.input(0);
  return undefined;
}

/** The one node that reads `v`, when it is read exactly once, by a node input (not a subgraph), and is no graph output. */
export function soleReader(v: Value): Node | undefined {
  const uses = v.uses();
  if (uses.length !== 1 || uses[0]!.index < 0 || v.isGraphOutput) return undefined;
  return uses[0]!.node;
}

/** True when every read of `v` is by one of `nodes` (through a node input) and `v` is no graph output. */
export function onlyReadBy(v: Value, nodes: ReadonlySet<Node>): boolean {
  return !v.isGraphOutput && v.uses().every((u) => u.index >= 0 && nodes.has(u.node));
}

/** Shape nodes reading `from` read `to` instead: for a caller that knows both have the same shape. */
export function moveShapeReaders(from: Value, to: Value): void {
  for (const u of from.uses()) if (u.index >= 0 && u.node.is('Shape')) u.node.replaceInput(u.index, to);
}

/**
 * Removes `nodes` (the fused subgraph; nothing outside may still read them), then whatever only they read: shape
 * computations of Slice bounds, constants of the pattern. Graph inputs and outputs stay.
 */
export function removeFused(graph: Graph, nodes: readonly Node[]): void {
  const inputs = new Set<Value>();
  for (const n of nodes) for (const v of [...n.inputs, ...n.implicitInputs]) if (v) inputs.add(v);
  graph.remove([...nodes]);
  removeUnread(graph, inputs);
}

/** Removes the producers of `values` that nothing reads any more, and on up; then such initializers. */
export function removeUnread(graph: Graph, values: Iterable<Value>): void {
  const stack = [...values];
  while (stack.length) {
    const v = stack.pop()!;
    if (v.useCount > 0 || v.isGraphOutput) continue;
    const p = v.producer;
    if (p?.graph === graph) {
      if (p.outputs.some((o) => o.useCount > 0 || o.isGraphOutput)) continue;
      const feeding = [...p.inputs, ...p.implicitInputs].filter((x): x is Value => x !== undefined);
      graph.remove(p);
      stack.push(...feeding);
    } else if (v.initializer && !v.isGraphInput && graph.initializer(v.name) === v) {
      graph.removeInitializer(v);
    }
  }
}

/** Why candidates did not fuse, counted by reason; each refusal is also logged with the node it concerns. */
export class Refusals {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly ctx: Pick<PassContext, 'log'>,
    private readonly pass: string,
  ) {}

  add(node: Node, reason: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.ctx.log(`${this.pass}: not fused: ${node}: ${reason}`);
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** The most common reasons first, each with its count. */
  reasons(limit = 8): string[] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([why, n]) => `${n}× ${why}`);
  }
}

/** A result for a fusion pass: unchanged with the reasons when nothing fused. */
export function fusionResult(fused: number, counts: Record<string, number>, summary: string, refusals: Refusals, nothing: string): PassResult {
  const reasons = refusals.reasons();
  if (!fused) return { changed: false, counts, summary: nothing, reasons: reasons.length ? reasons : [nothing] };
  return { changed: true, counts, summary, reasons };
}
