/**
 * fuse-bias-add: (x + bias) + skip, a bias and a residual added to an (N, S, C) tensor, becomes one
 * com.microsoft.BiasAdd(x, bias, skip).
 *
 * Rules:
 * 1. Every Add is a candidate as the residual Add. One operand must be x + bias with bias of shape [C], x
 *    three-dimensional (N, S, C), and the residual Add its only reader; the other operand (skip) must have x's
 *    shape exactly (the op does not broadcast: ORT's kernel checks that skip's shape equals the input's).
 * 2. A residual Add that feeds a LayerNormalization is left alone: fuse-skip-layernorm makes one op of the Add and
 *    the LayerNorm, which saves more (run it first). In an SDXL transformer block that leaves the feed-forward
 *    output of each Transformer2DModel's last block, whose sum goes to proj_out (11 in SDXL: ORT's own optimizer
 *    finds the same, see ORT-FACTS.md).
 * 3. ORT's CUDA kernel (contrib_ops/cuda/diffusion/bias_add.cc) takes C = 320, 640 or 1280 only, in float or
 *    float16; other channel counts are refused unless `any_channels`. There is no CPU kernel: for target cpu
 *    nothing fuses.
 * 4. The proj_out + residual of channels-last Transformer2DModels (after a layout pass) has the residual in
 *    (N, H, W, C) behind a Reshape; that form is not matched here (see the report in the branch's history).
 */
import { definePass } from '../src/engine/pass.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { BIAS_ADD_CHANNELS, hasKernel, kernelRefusal } from './lib/contrib-kernels.js';
import { GraphFacts, lastDim, sameShape, shapeOf } from './lib/fusion-facts.js';
import { fusedName, fusionResult, MICROSOFT_DOMAIN, producedBy, Refusals, removeFused, soleReader } from './lib/fusion-match.js';

export interface FuseBiasAddParams {
  any_channels: boolean;
}

interface BiasAdd {
  residual: Node;
  biasAdd: Node;
  input: Value;
  bias: Value;
  skip: Value;
}

export const fuseBiasAdd = definePass<FuseBiasAddParams>({
  name: 'fuse-bias-add',
  description: 'Fuses (x + bias) + skip on (N, S, C) tensors into com.microsoft.BiasAdd (CUDA).',
  after: ['fuse-skip-layernorm'],
  params: {
    any_channels: {
      type: 'boolean',
      description: "Fuse whatever the channel count. ORT 1.29's CUDA kernel takes only 320, 640 and 1280 and fails at run time on others.",
      default: false,
    },
  },
  run(ctx, params) {
    const { graph } = ctx;
    const refusals = new Refusals(ctx, 'fuse-bias-add');
    const counts = { fused: 0 };
    if (!hasKernel('BiasAdd', ctx.target)) return fusionResult(0, counts, '', refusals, `ONNX Runtime has no ${ctx.target.toUpperCase()} kernel for BiasAdd`);
    GraphFacts.infer(ctx); // records shapes on the values
    // Candidates: Adds one of whose operands is itself a single-use Add (the rest cannot be a bias + residual).
    const adds = graph.nodes().filter((n) => n.is('Add') && n.inputs.some((v) => producedBy(v, 'Add') && soleReader(v!) === n));
    for (const add of adds) {
      if (add.graph !== graph) continue;
      const m = matchBiasAdd(add);
      if ('reason' in m) {
        refusals.add(add, m.reason);
        continue;
      }
      const c = lastDim(m.input)!;
      const why =
        kernelRefusal('BiasAdd', ctx.target, m.input.type?.dtype) ??
        (params.any_channels || BIAS_ADD_CHANNELS.includes(c) ? undefined : `${c} channels is not a count the CUDA kernel takes (${BIAS_ADD_CHANNELS.join(', ')})`);
      if (why) {
        refusals.add(add, why);
        continue;
      }
      const fused = graph.createNode({
        opType: 'BiasAdd',
        domain: MICROSOFT_DOMAIN,
        name: fusedName(add, 'BiasAdd'),
        inputs: [m.input, m.bias, m.skip],
        types: [add.output().type && { ...add.output().type! }],
        pass: 'fuse-bias-add',
      });
      graph.insertBefore(add, fused);
      graph.replaceAllUsesWith(add.output(), fused.output(0), { graphOutputs: true });
      removeFused(graph, [add, m.biasAdd]);
      counts.fused++;
    }
    if (counts.fused) ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
    return fusionResult(counts.fused, { candidates: adds.length, ...counts }, `fused ${counts.fused} bias + residual Adds into BiasAdd`, refusals, 'fused 0 bias + residual Adds');
  },
});

function matchBiasAdd(residual: Node): BiasAdd | { reason: string } {
  if (residual.output().uses().some((u) => u.node.is('LayerNormalization'))) return { reason: 'the sum feeds a LayerNormalization: fuse-skip-layernorm fuses it' };
  for (const [biased, skip] of [[residual.input(0), residual.input(1)], [residual.input(1), residual.input(0)]] as const) {
    const biasAdd = producedBy(biased, 'Add');
    if (!biased || !skip || !biasAdd || soleReader(biased) !== residual) continue;
    for (const [input, bias] of [[biasAdd.input(0), biasAdd.input(1)], [biasAdd.input(1), biasAdd.input(0)]] as const) {
      const b = shapeOf(bias);
      const c = lastDim(input);
      if (!input || !bias || c === undefined || b?.length !== 1 || b[0] !== c || shapeOf(input)?.length !== 3) continue;
      if (!sameShape(input, skip) || bias.type?.dtype !== input.type?.dtype || skip.type?.dtype !== input.type?.dtype) continue;
      return { residual, biasAdd, input, bias, skip };
    }
  }
  return { reason: 'no operand is x + bias with x (N, S, C), bias [C] and the other operand of x\'s shape' };
}
