/**
 * fuse-gelu: the exact (Erf) Gelu written out in elementwise ops becomes one com.microsoft.Gelu, or BiasGelu when a
 * bias Add feeds it.
 *
 * Rules:
 * 1. Every Erf is a candidate; it fuses when it is the middle of x · 0.5 · (1 + erf(x / √2)) in any grouping of the
 *    factors, with x/√2 written as a Div or as a Mul by 1/√2 (passes/lib/erf-gelu.ts). Only the product may be read
 *    outside the subgraph.
 * 2. When x = y + b with b one-dimensional (the size of x's last dim) and nothing else reads x, the Add goes into
 *    com.microsoft.BiasGelu(y, b) (ORT's kernel adds the bias along the last axis). Otherwise com.microsoft.Gelu(x).
 * 3. Only element types the target's kernels take fuse (passes/lib/contrib-kernels.ts).
 * 4. In SDXL every Erf is the Gelu of a GEGLU feed-forward; on CUDA fuse-bias-split-gelu takes those first (it makes
 *    one kernel of the bias, split, Gelu and product). What it leaves, and CPU targets, are this pass's.
 * 5. CLIP's quick_gelu x·sigmoid(α·x) (the SDXL text_encoder's MLP, α = 1.702) is no Erf Gelu: it becomes
 *    com.microsoft.QuickGelu with that α (passes/lib/quick-gelu.ts). A SiLU x·sigmoid(x) is left alone.
 */
import { definePass } from '../src/engine/pass.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { kernelRefusal } from './lib/contrib-kernels.js';
import { matchErfGelu } from './lib/erf-gelu.js';
import { matchQuickGelu } from './lib/quick-gelu.js';
import { GraphFacts, lastDim, shapeOf } from './lib/fusion-facts.js';
import { makeAttr } from '../src/ir/attributes.js';
import type { Graph } from '../src/ir/graph.js';
import { fusedName, fusionResult, MICROSOFT_DOMAIN, producedBy, Refusals, removeFused } from './lib/fusion-match.js';

export const fuseGelu = definePass<Record<string, never>>({
  name: 'fuse-gelu',
  description: 'Fuses the Erf Gelu x·0.5·(1+erf(x/√2)) into com.microsoft.Gelu, or BiasGelu when a bias Add feeds it; CLIP\'s x·sigmoid(1.702x) into QuickGelu.',
  params: {},
  run(ctx) {
    const { graph } = ctx;
    const refusals = new Refusals(ctx, 'fuse-gelu');
    const erfs = graph.nodes().filter((n) => n.is('Erf'));
    const sigmoids = graph.nodes().filter((n) => n.is('Sigmoid'));
    const counts = { candidates: erfs.length, gelu: 0, bias_gelu: 0, quick_gelu: 0 };
    if (!erfs.length && !sigmoids.length) return fusionResult(0, counts, '', refusals, 'no Erf or Sigmoid, so no Gelu to fuse');
    const facts = GraphFacts.infer(ctx);
    counts.quick_gelu = fuseQuickGelus(graph, sigmoids, facts, ctx.target, refusals);
    for (const erf of erfs) {
      if (erf.graph !== graph) continue;
      const gelu = matchErfGelu(erf, facts);
      if ('reason' in gelu) {
        refusals.add(erf, gelu.reason);
        continue;
      }
      const bias = biasOf(gelu.x, new Set(gelu.nodes));
      const op = bias ? 'BiasGelu' : 'Gelu';
      const why = kernelRefusal(op, ctx.target, gelu.output.type?.dtype ?? gelu.x.type?.dtype);
      if (why) {
        refusals.add(erf, why);
        continue;
      }
      const fused = graph.createNode({
        opType: op,
        domain: MICROSOFT_DOMAIN,
        name: fusedName(erf, op),
        inputs: bias ? [bias.input, bias.bias] : [gelu.x],
        types: [gelu.output.type && { ...gelu.output.type }],
        pass: 'fuse-gelu',
      });
      graph.insertBefore(erf, fused);
      graph.replaceAllUsesWith(gelu.output, fused.output(0), { graphOutputs: true });
      removeFused(graph, bias ? [...gelu.nodes, bias.add] : gelu.nodes);
      if (bias) counts.bias_gelu++;
      else counts.gelu++;
    }
    const fused = counts.gelu + counts.bias_gelu + counts.quick_gelu;
    if (fused) ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
    const quick = counts.quick_gelu ? `, ${counts.quick_gelu} QuickGelus` : '';
    return fusionResult(fused, counts, `fused ${counts.gelu + counts.bias_gelu} of ${erfs.length} Erf Gelus (${counts.bias_gelu} with their bias Add)${quick}`, refusals, `fused 0 of ${erfs.length} Erf candidates and no QuickGelu`);
  },
});

/** Rule 5: the quick_gelus among `sigmoids` (a Sigmoid that is no quick_gelu is not reported: most are SiLUs). */
function fuseQuickGelus(graph: Graph, sigmoids: readonly Node[], facts: GraphFacts, target: 'cuda' | 'cpu', refusals: Refusals): number {
  let fused = 0;
  for (const sigmoid of sigmoids) {
    if (sigmoid.graph !== graph) continue;
    const quick = matchQuickGelu(sigmoid, facts);
    if ('reason' in quick) continue;
    const why = kernelRefusal('QuickGelu', target, quick.output.type?.dtype ?? quick.x.type?.dtype);
    if (why) {
      refusals.add(sigmoid, why);
      continue;
    }
    const node = graph.createNode({
      opType: 'QuickGelu',
      domain: MICROSOFT_DOMAIN,
      name: fusedName(sigmoid, 'QuickGelu'),
      inputs: [quick.x],
      attributes: [makeAttr('alpha', Math.fround(quick.alpha), 'float')],
      types: [quick.output.type && { ...quick.output.type }],
      pass: 'fuse-gelu',
    });
    graph.insertBefore(sigmoid, node);
    graph.replaceAllUsesWith(quick.output, node.output(0), { graphOutputs: true });
    removeFused(graph, quick.nodes);
    fused++;
  }
  return fused;
}

/** x = y + b with b of shape [C] (C = x's last dim), read only by the Gelu's nodes: the BiasGelu inputs. */
function biasOf(x: Value, geluNodes: ReadonlySet<Node>): { add: Node; input: Value; bias: Value } | undefined {
  const add = producedBy(x, 'Add');
  if (!add || x.isGraphOutput || !x.uses().every((u) => u.index >= 0 && geluNodes.has(u.node))) return undefined;
  const c = lastDim(x);
  for (const [input, bias] of [[add.input(0), add.input(1)], [add.input(1), add.input(0)]] as const) {
    const b = shapeOf(bias);
    if (!input || !bias || c === undefined || b?.length !== 1 || b[0] !== c || lastDim(input) !== c) continue;
    if (bias.type?.dtype !== input.type?.dtype) continue;
    return { add, input, bias };
  }
  return undefined;
}

