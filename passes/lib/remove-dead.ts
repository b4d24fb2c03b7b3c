/**
 * Removing what a rewrite left without readers, starting from the nodes it bypassed: a fusion leaves its old
 * subgraph (and the shape and scale computations that only fed it) dead, and should not leave that to a later pass.
 * Only nodes reached from `seeds` through their inputs are looked at, so the cost is the size of the dead region.
 */
import type { Graph } from '../../src/ir/graph.js';
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';

function isDead(node: Node): boolean {
  return node.outputs.every((v) => v.useCount === 0 && !v.isGraphOutput);
}

/** Removes the seeds that are dead, then their producers that became dead, and so on; returns how many nodes went. */
export function removeDeadFrom(graph: Graph, seeds: readonly Node[]): number {
  const pending = [...seeds];
  const orphans = new Set<Value>();
  let removed = 0;
  while (pending.length) {
    const node = pending.pop()!;
    if (node.graph !== graph || !isDead(node)) continue;
    const inputs = [...node.inputs, ...node.implicitInputs];
    graph.remove(node);
    removed++;
    for (const v of inputs) {
      if (!v) continue;
      if (v.producer) pending.push(v.producer);
      else if (v.isConstant) orphans.add(v);
    }
  }
  // Weights only the removed nodes read (an initializer that is also a graph input is part of the interface).
  for (const v of orphans) if (v.useCount === 0 && !v.isGraphOutput && graph.initializer(v.name) === v) graph.removeInitializer(v);
  return removed;
}
