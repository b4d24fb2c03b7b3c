/**
 * fuse-attention: the exporters' scaled dot-product attention becomes com.microsoft.MultiHeadAttention, which ONNX
 * Runtime runs as flash / memory-efficient attention on CUDA.
 *
 * Rules:
 * 1. Every Softmax is a candidate. It fuses when it is the middle of Q·Kᵀ·scale → Softmax(last axis) → ·V with
 *    per-head Reshape/Transpose on each side (passes/lib/attention-pattern.ts gives the exact forms: TorchScript's,
 *    dynamo's, single-head VAE attention); a Softmax that does not is reported with the reason.
 * 2. num_heads is read from the head-split Reshape's target (constants or shape values inference propagated), not
 *    from weight shapes.
 * 3. scale is computed, never assumed: the product of every scalar multiplying Q, Kᵀ or the scores (Div counts as
 *    multiplying by the inverse), each evaluated from constants or from shape computations.
 * 4. MultiHeadAttention takes the tensors before the head split: query (B, S, D), key and value (B, L, D); its
 *    output replaces the head-merged (B, S, D) result. Self-attention and cross-attention (K and V from
 *    encoder_hidden_states) fuse alike; they are counted apart.
 * 5. What only the old subgraph read (its Reshape targets, its scale computation, its constants) is removed.
 * 6. The model imports com.microsoft version 1 when anything fused.
 * 7. An additive mask on the scores (before the Softmax, after every scale) is kept: the constant causal mask
 *    (0 on and below the diagonal, -inf or ≤ -10⁴ above: the CLIP text encoders once cleanup folded it with the
 *    recipe's sequence length) becomes `unidirectional=1`; another mask of shape (B or 1, N or 1, S, L) becomes
 *    `attention_bias` (passes/lib/attention-mask.ts). Masks counted in `causal` and `biased`.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import type { Graph } from '../src/ir/graph.js';
import { inferTypes } from '../src/ir/infer/index.js';
import { makeAttr } from '../src/ir/attributes.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { maskForm, type MaskForm } from './lib/attention-mask.js';
import { matchAttention, type AttentionMatch } from './lib/attention-pattern.js';
import { removeDeadFrom } from './lib/remove-dead.js';

export const MICROSOFT_DOMAIN = 'com.microsoft';

/**
 * The tensor a linear projection (MatMul, optionally + bias Add, optionally Split after fuse-qkv) was applied to,
 * or the value itself: self-attention projects Q and K from one tensor.
 */
function projectionSource(v: Value): Value {
  let p = v.producer;
  if (p?.is('Split')) p = p.input(0)?.producer;
  if (p?.is('Add')) p = p.inputs.map((x) => x?.producer).find((n) => n?.is('MatMul'));
  return p?.is('MatMul') ? p.input(0)! : v;
}

/** `.../attn1/Softmax` → `.../attn1/MultiHeadAttention`. */
function nameFor(softmax: Node): string {
  return /Softmax[^/]*$/.test(softmax.name) ? softmax.name.replace(/Softmax[^/]*$/, 'MultiHeadAttention') : `${softmax.name || 'attention'}_mha`;
}

type Mask = Exclude<MaskForm, { reason: string }> | undefined;

function fuse(graph: Graph, m: AttentionMatch, mask: Mask): Node {
  const attributes = [makeAttr('num_heads', m.numHeads), makeAttr('scale', Math.fround(m.scale), 'float')];
  if (mask?.kind === 'causal') attributes.push(makeAttr('unidirectional', 1));
  // Inputs 3 and 4 (bias, key_padding_mask) are left out; attention_bias is input 5.
  const inputs = mask?.kind === 'bias' ? [m.query, m.key, m.value, undefined, undefined, mask.bias] : [m.query, m.key, m.value];
  const mha = graph.createNode({
    opType: 'MultiHeadAttention',
    domain: MICROSOFT_DOMAIN,
    name: nameFor(m.softmax),
    inputs,
    attributes,
    types: [m.output.type && { ...m.output.type }],
    pass: 'fuse-attention',
  });
  graph.insertBefore(m.merge, mha);
  graph.replaceAllUsesWith(m.output, mha.output(0), { graphOutputs: true });
  removeDeadFrom(graph, [m.merge]);
  return mha;
}

export const fuseAttention = definePass<Record<string, never>>({
  name: 'fuse-attention',
  description: 'Fuses Q·Kᵀ·scale → Softmax → ·V subgraphs (per-head Reshape/Transpose) into com.microsoft.MultiHeadAttention.',
  params: {},
  run(ctx) {
    const { graph, model } = ctx;
    const softmaxes = graph.nodes().filter((n) => n.is('Softmax'));
    if (!softmaxes.length) return unchanged('no Softmax, so no attention to fuse', ['the graph has no Softmax node']);
    const { knownValues } = inferTypes(graph, { dims: ctx.dims });
    const reasons: string[] = [];
    let self = 0;
    let cross = 0;
    let causal = 0;
    let biased = 0;
    softmaxes.forEach((softmax, i) => {
      ctx.progress(i, softmaxes.length, 'softmax');
      const m = matchAttention(softmax, knownValues, model.opset);
      if ('reason' in m) {
        reasons.push(`${softmax}: ${m.reason}`);
        ctx.log(`not fused: ${softmax}: ${m.reason}`);
        return;
      }
      const scores = m.softmax.input(0)!.shape;
      const form: MaskForm | undefined = m.mask && (scores ? maskForm(graph, m.mask, scores, model.opset) : { reason: 'its scores have no known shape' });
      if (form && 'reason' in form) {
        reasons.push(`${softmax}: ${form.reason}`);
        ctx.log(`not fused: ${softmax}: ${form.reason}`);
        return;
      }
      const mask: Mask = form;
      const isSelf = projectionSource(m.key) === projectionSource(m.query);
      fuse(graph, m, mask);
      if (mask?.kind === 'causal') causal++;
      if (mask?.kind === 'bias') biased++;
      if (isSelf) self++;
      else cross++;
    });
    ctx.progress(softmaxes.length, softmaxes.length, 'softmax');
    const fused = self + cross;
    const counts = { softmax: softmaxes.length, fused, self, cross, causal, biased, unmatched: softmaxes.length - fused };
    if (!fused) return unchanged(`fused 0 of ${softmaxes.length} attention candidates`, reasons, counts);
    model.requireOpset(MICROSOFT_DOMAIN, 1);
    return {
      changed: true,
      counts,
      summary: `fused ${fused} of ${softmaxes.length} attention blocks (${self} self, ${cross} cross${causal ? `, ${causal} causal` : ''}${biased ? `, ${biased} with attention_bias` : ''}) into MultiHeadAttention`,
      reasons,
    };
  },
});
