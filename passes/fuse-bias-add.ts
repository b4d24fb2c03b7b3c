/**
 * fuse-bias-add: (x + bias) + skip, a bias and a residual added to an (N, S, C) tensor, becomes one
 * com.microsoft.BiasAdd(x, bias, skip).
 *
 * Rules:
 * 1. Every Add is a candidate as the residual Add. One operand must be x + bias with bias of shape [C], x
 *    three-dimensional (N, S, C), and the residual Add its only reader; the other operand (skip) must have x's
 *    shape exactly (the op does not broadcast: ORT's kernel checks that skip's shape equals the input's).
 * 2. Through a Reshape: when x + bias reaches the residual Add through a Reshape that keeps the last axis
 *    ((N, S, C) → (N, H, W, C), proj_out of a channels-last Transformer2DModel, where the residual is NHWC), skip is
 *    reshaped to x's shape, BiasAdd runs on (N, S, C) and its result is reshaped with the original target. Reshapes
 *    are views in ORT; two full-tensor Adds become one kernel. The fixtures as exported (NCHW) have a Transpose
 *    there instead, so this form fires only after a channels-last pass.
 * 3. A residual Add that feeds a LayerNormalization is left alone: fuse-skip-layernorm makes one op of the Add and
 *    the LayerNorm, which saves more (run it first). In an SDXL transformer block that leaves the feed-forward
 *    output of each Transformer2DModel's last block, whose sum goes to proj_out (11 in SDXL: ORT's own optimizer
 *    finds the same, see ORT-FACTS.md).
 * 4. ORT's CUDA kernel (contrib_ops/cuda/diffusion/bias_add.cc) takes C = 320, 640 or 1280 only, in float or
 *    float16; other channel counts are refused unless `any_channels`. There is no CPU kernel: for target cpu
 *    nothing fuses.
 */
import { definePass } from '../src/engine/pass.js';
import type { Graph } from '../src/ir/graph.js';
import type { Node } from '../src/ir/node.js';
import { InlineData, Tensor } from '../src/ir/tensor.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import type { AttributeProto } from '../src/onnx/types.js';
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
  /** The Reshape between the bias Add and the residual Add (rule 2). */
  reshape?: Node;
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
    const counts = { fused: 0, through_reshape: 0 };
    if (!hasKernel('BiasAdd', ctx.target)) return fusionResult(0, counts, '', refusals, `ONNX Runtime has no ${ctx.target.toUpperCase()} kernel for BiasAdd`);
    GraphFacts.infer(ctx); // records shapes on the values
    // Candidates: Adds one of whose operands is a single-use Add or Reshape (the rest cannot be a bias + residual).
    const adds = graph.nodes().filter((n) => n.is('Add') && n.inputs.some((v) => (producedBy(v, 'Add') || producedBy(v, 'Reshape')) && soleReader(v!) === n));
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
      fuse(m);
      counts.fused++;
      if (m.reshape) counts.through_reshape++;
    }
    if (counts.fused) ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
    return fusionResult(counts.fused, { candidates: adds.length, ...counts }, `fused ${counts.fused} bias + residual Adds into BiasAdd (${counts.through_reshape} through a Reshape)`, refusals, 'fused 0 bias + residual Adds');
  },
});

function matchBiasAdd(residual: Node): BiasAdd | { reason: string } {
  if (residual.output().uses().some((u) => u.node.is('LayerNormalization'))) return { reason: 'the sum feeds a LayerNormalization: fuse-skip-layernorm fuses it' };
  for (const [operand, skip] of [[residual.input(0), residual.input(1)], [residual.input(1), residual.input(0)]] as const) {
    if (!operand || !skip || soleReader(operand) !== residual) continue;
    const reshape = producedBy(operand, 'Reshape');
    const biased = reshape ? reshape.input(0) : operand;
    const biasAdd = producedBy(biased, 'Add');
    if (!biased || !biasAdd || (reshape && soleReader(biased) !== reshape)) continue;
    for (const [input, bias] of [[biasAdd.input(0), biasAdd.input(1)], [biasAdd.input(1), biasAdd.input(0)]] as const) {
      const b = shapeOf(bias);
      const c = lastDim(input);
      if (!input || !bias || c === undefined || b?.length !== 1 || b[0] !== c || shapeOf(input)?.length !== 3) continue;
      if (bias.type?.dtype !== input.type?.dtype || skip.type?.dtype !== input.type?.dtype) continue;
      if (reshape ? !(sameShape(operand, skip) && lastDim(operand) === c) : !sameShape(input, skip)) continue;
      return { residual, biasAdd, input, bias, skip, ...(reshape ? { reshape } : {}) };
    }
  }
  return { reason: "no operand is x + bias (or a Reshape of it keeping C) with x (N, S, C), bias [C] and the other operand of the same shape" };
}

function fuse(m: BiasAdd): void {
  const graph = m.residual.graph!;
  const node = (opType: string, inputs: Value[], domain = '', attributes: AttributeProto[] = []) => {
    const n = graph.createNode({ opType, domain, name: fusedName(m.residual, opType), inputs, attributes, pass: 'fuse-bias-add' });
    graph.insertBefore(m.residual, n);
    return n.output(0);
  };
  const type = (v: Value, like: Value) => void (v.type = like.type && { ...like.type });
  // Rule 2: skip to x's (N, S, C), BiasAdd, then back with the Reshape's own target.
  const skip = m.reshape ? node('Reshape', [m.skip, shapeValue(graph, m.input, node)]) : m.skip;
  if (m.reshape) type(skip, m.input);
  let result = node('BiasAdd', [m.input, m.bias, skip], MICROSOFT_DOMAIN);
  type(result, m.input);
  if (m.reshape) {
    result = node('Reshape', [result, m.reshape.input(1)!], '', [...m.reshape.attributes]); // allowzero as it was
    type(result, m.residual.output());
  }
  graph.replaceAllUsesWith(m.residual.output(), result, { graphOutputs: true });
  removeFused(graph, m.reshape ? [m.residual, m.reshape, m.biasAdd] : [m.residual, m.biasAdd]);
}

/** x's shape as a value: a constant when every dim is known, else Shape(x). */
function shapeValue(graph: Graph, x: Value, node: (opType: string, inputs: Value[]) => Value): Value {
  const dims = shapeOf(x)!;
  if (dims.every((d): d is number => typeof d === 'number')) {
    const data = BigInt64Array.from(dims, (d) => BigInt(d));
    return graph.addInitializer(`${x.name}_shape`, new Tensor(DataType.INT64, [dims.length], new InlineData(new Uint8Array(data.buffer))));
  }
  return node('Shape', [x]);
}
