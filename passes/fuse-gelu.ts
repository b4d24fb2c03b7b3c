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
 */
import { definePass } from '../src/engine/pass.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { kernelRefusal } from './lib/contrib-kernels.js';
import { matchErfGelu } from './lib/erf-gelu.js';
import { GraphFacts, lastDim, shapeOf } from './lib/fusion-facts.js';
import { fusedName, fusionResult, MICROSOFT_DOMAIN, producedBy, Refusals, removeFused } from './lib/fusion-match.js';

export const fuseGelu = definePass<Record<string, never>>({
  name: 'fuse-gelu',
  description: 'Fuses the Erf Gelu x·0.5·(1+erf(x/√2)) into com.microsoft.Gelu, or BiasGelu when a bias Add feeds it.',
  params: {},
  run(ctx) {
    const { graph } = ctx;
    const refusals = new Refusals(ctx, 'fuse-gelu');
    const erfs = graph.nodes().filter((n) => n.is('Erf'));
    const counts = { candidates: erfs.length, gelu: 0, bias_gelu: 0 };
    if (!erfs.length) return fusionResult(0, counts, '', refusals, 'no Erf, so no Gelu to fuse');
    const facts = GraphFacts.infer(ctx);
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
    const fused = counts.gelu + counts.bias_gelu;
    if (fused) ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
    return fusionResult(fused, counts, `fused ${fused} of ${erfs.length} Erf Gelus (${counts.bias_gelu} with their bias Add)`, refusals, `fused 0 of ${erfs.length} Erf candidates`);
  },
});

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

