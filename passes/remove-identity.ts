/**
 * remove-identity: Identity nodes compute nothing; their readers can read the input directly.
 *
 * Rules:
 * 1. Readers of an Identity's output read its input instead, and the node goes.
 * 2. An Identity whose output is a graph output is removed only when its input can take the output's name (a value
 *    a node computes, not itself a graph input, output or initializer): output names are the model's interface.
 *    An Identity from a graph input (or a constant) to a graph output stays.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import { bypass } from './lib/rewire.js';

export const removeIdentity = definePass<Record<string, never>>({
  name: 'remove-identity',
  description: 'Removes Identity nodes, keeping graph output names.',
  params: {},
  run(ctx) {
    const graph = ctx.graph;
    let removed = 0;
    let kept = 0;
    for (const node of graph) {
      if (!node.is('Identity')) continue;
      const input = node.input(0);
      if (input && bypass(graph, node.output(), input)) {
        graph.remove(node);
        removed++;
      } else {
        kept++;
      }
    }
    const why = kept ? [`${kept} Identity nodes connect a graph input or constant to a graph output, and stay to keep its name`] : [];
    if (!removed) return unchanged('no Identity node to remove', kept ? why : ['the graph has no Identity nodes'], { kept });
    return { changed: true, counts: { removed, kept }, summary: `removed ${removed} Identity nodes${kept ? `, kept ${kept}` : ''}`, reasons: why };
  },
});
