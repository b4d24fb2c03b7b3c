/**
 * cancel-transposes: a Transpose of a Transpose is one Transpose; one that permutes nothing is none.
 *
 * Rules:
 * 1. Transpose(perm q) of Transpose(perm p) becomes one Transpose of the first one's input with perm p∘q
 *    (out[i] = p[q[i]]), when the first has no other reader (otherwise nothing is saved). When p∘q is the identity,
 *    both go.
 * 2. A Transpose whose perm is given and is the identity is bypassed. Both rules keep graph output names: a pair
 *    or node between a graph input and a graph output stays.
 * 3. A missing perm means "reverse the axes"; two missing perms cancel whatever the rank.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import type { Graph } from '../src/ir/graph.js';
import type { Node } from '../src/ir/node.js';
import { bypass } from './lib/rewire.js';

export const cancelTransposes = definePass<Record<string, never>>({
  name: 'cancel-transposes',
  description: 'Composes adjacent Transposes and removes identity Transposes.',
  params: {},
  run(ctx) {
    const graph = ctx.graph;
    const counts = { composed: 0, removed: 0 };
    for (const node of graph) {
      if (node.graph !== graph || !node.is('Transpose')) continue;
      const first = node.input(0)?.producer;
      if (first?.graph === graph && first.is('Transpose') && first.output().useCount === 1 && !first.output().isGraphOutput) {
        const perm = composedPerm(first, node);
        const source = first.input(0);
        if (perm === undefined || !source) continue;
        if (perm === 'identity') {
          // Both go; when the pair ends at a graph output the source cannot be renamed to, both stay.
          if (!bypass(graph, node.output(), source)) continue;
          graph.remove(node);
          graph.remove(first);
          counts.removed += 2;
          continue;
        }
        node.replaceInput(0, source);
        node.setAttr('perm', { ints: perm });
        graph.remove(first);
        counts.composed++;
        continue;
      }
      if (removeIfIdentity(graph, node)) counts.removed++;
    }
    if (!counts.composed && !counts.removed) return unchanged('no Transposes to cancel', ['no Transpose reads a single-use Transpose, and none has an identity perm']);
    return { changed: true, counts, summary: `composed ${counts.composed} Transpose pairs into one, removed ${counts.removed} Transposes that cancelled out` };
  },
});

/** p∘q, 'identity' when it is (including two reversals of unknown rank), undefined when a rank is unknown. */
function composedPerm(first: Node, second: Node): number[] | 'identity' | undefined {
  let p = first.attrInts('perm');
  let q = second.attrInts('perm');
  if (!p && !q) return 'identity';
  const rank = p?.length ?? q!.length;
  p ??= reversed(rank);
  q ??= reversed(rank);
  if (p.length !== q.length) return undefined;
  const out = q.map((i) => p![i]!);
  return out.every((v, i) => v === i) ? 'identity' : out;
}

function reversed(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

/** Bypasses a Transpose whose perm is given and is 0..n-1. */
function removeIfIdentity(graph: Graph, node: Node): boolean {
  const perm = node.attrInts('perm');
  const input = node.input(0);
  if (!perm || !perm.every((v, i) => v === i) || !input || !bypass(graph, node.output(), input)) return false;
  graph.remove(node);
  return true;
}
