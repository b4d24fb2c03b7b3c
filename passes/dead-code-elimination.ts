/**
 * dead-code-elimination: removes what no graph output depends on.
 *
 * Rules:
 * 1. A node none of whose outputs is read, or is a graph output, goes; nodes are visited last to first, so a whole
 *    dead chain goes in one run.
 * 2. This holds for every node, of any domain: inference has no side effects, so a node whose results nobody reads
 *    (a custom op included) changes nothing by running. Subgraph reads of outer values count as reads.
 * 3. Then initializers nothing reads go, except those that are also graph inputs (overridable defaults are part of
 *    the model's interface).
 */
import { definePass, unchanged } from '../src/engine/pass.js';

export const deadCodeElimination = definePass<Record<string, never>>({
  name: 'dead-code-elimination',
  description: 'Removes nodes whose outputs nothing reads, then initializers nothing reads.',
  params: {},
  run(ctx) {
    const graph = ctx.graph;
    let nodes = 0;
    const order = graph.nodes();
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      if (node.outputs.every((v) => v.useCount === 0 && !v.isGraphOutput)) {
        graph.remove(node);
        nodes++;
      }
    }
    let initializers = 0;
    for (const v of graph.initializers()) {
      if (v.useCount === 0 && !v.isGraphOutput && !v.isGraphInput) {
        graph.removeInitializer(v);
        initializers++;
      }
    }
    if (!nodes && !initializers) return unchanged('nothing is dead', ['every node and initializer is read on the way to a graph output']);
    return { changed: true, counts: { nodes, initializers }, summary: `removed ${nodes} dead nodes and ${initializers} unused initializers` };
  },
});
