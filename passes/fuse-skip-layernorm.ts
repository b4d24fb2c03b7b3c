/**
 * fuse-skip-layernorm: a residual Add feeding a LayerNormalization becomes one com.microsoft.SkipLayerNormalization,
 * which also hands out the sum for the residual stream.
 *
 * Rules:
 * 1. Every LayerNormalization is a candidate. It fuses when its input is Add(a, b) with a and b of the same
 *    three-dimensional shape (N, S, C): no broadcasting, as the op wants input and skip alike. The LayerNorm must
 *    normalize the last axis only (axis -1), have a scale (and optionally a bias) of shape [C], stash_type 1, and
 *    no reader of its Mean / InvStdDev outputs. Its epsilon is carried over (SkipLayerNormalization's default,
 *    1e-12, is not LayerNormalization's 1e-5).
 * 2. Bias form: when a (or else b) is y + bias with bias of shape [C], y of a's shape, and nothing else reads a, the
 *    bias Add goes into the op's `bias` input (MatMul → Add(bias) → Add(residual) → LayerNorm, the attention and
 *    feed-forward outputs of a transformer block).
 * 3. Other readers of the Add's sum (the next residual Add of the block) read output 3, input_skip_bias_sum.
 * 4. Only element types the target's kernel takes fuse (passes/lib/contrib-kernels.ts).
 *
 * Schema (read in ORT's bert_defs.cc and contrib_ops/cpu/skip_layer_norm_helper.h): inputs input, skip, gamma,
 * beta (optional), bias (optional); attribute epsilon; outputs output, mean (optional, float), inv_std_var
 * (optional, float), input_skip_bias_sum (optional, "sum of the input and skip inputs (and bias if it exists)").
 * Input and skip are (batch, sequence, hidden); gamma, beta and bias are 1-D of the hidden size. ORT's CUDA
 * kernel writes output 3 whenever it is asked for (skip_layer_norm.cc: `ctx->Output(3, input->Shape())`) and never
 * computes outputs 1 and 2. Element types: the schema says float and float16; CUDA registers float, float16 and
 * (in current sources) bfloat16, and bfloat16 was seen running on an H100 with 1.29 (ORT-FACTS.md); the CPU runs
 * float and float16 (seen, onnxruntime-node 1.29). passes/lib/contrib-kernels.ts holds the table.
 */
import { definePass } from '../src/engine/pass.js';
import { makeAttr } from '../src/ir/attributes.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { kernelRefusal } from './lib/contrib-kernels.js';
import { GraphFacts, lastDim, sameShape, shapeOf } from './lib/fusion-facts.js';
import { fusedName, fusionResult, MICROSOFT_DOMAIN, producedBy, Refusals, removeFused, soleReader } from './lib/fusion-match.js';

interface SkipLayerNorm {
  layerNorm: Node;
  add: Node;
  input: Value;
  skip: Value;
  /** The bias Add folded into the op, when there is one. */
  biasAdd?: Node;
  bias?: Value;
}

export const fuseSkipLayerNorm = definePass<Record<string, never>>({
  name: 'fuse-skip-layernorm',
  description: 'Fuses Add(x, residual) → LayerNormalization (and a bias Add before it) into com.microsoft.SkipLayerNormalization.',
  // TorchScript exports divide attention outputs by 1.0 between the bias Add and the residual: without
  // remove-neutral-ops first those fuse without their bias.
  after: ['remove-neutral-ops'],
  params: {},
  run(ctx) {
    const { graph } = ctx;
    const refusals = new Refusals(ctx, 'fuse-skip-layernorm');
    const norms = graph.nodes().filter((n) => n.is('LayerNormalization'));
    const counts = { candidates: norms.length, fused: 0, with_bias: 0, sum_output: 0 };
    if (!norms.length) return fusionResult(0, counts, '', refusals, 'no LayerNormalization to fuse');
    GraphFacts.infer(ctx); // records shapes on the values
    for (const ln of norms) {
      const m = matchSkipLayerNorm(ln);
      if ('reason' in m) {
        refusals.add(ln, m.reason);
        continue;
      }
      const why = kernelRefusal('SkipLayerNormalization', ctx.target, ln.output().type?.dtype);
      if (why) {
        refusals.add(ln, why);
        continue;
      }
      if (fuse(m)) counts.sum_output++;
      if (m.bias) counts.with_bias++;
      counts.fused++;
    }
    if (counts.fused) {
      ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
      // The sum's other readers may sit between the Add and the LayerNorm, where the fused node now is.
      graph.topologicalSort();
    }
    return fusionResult(
      counts.fused,
      counts,
      `fused ${counts.fused} of ${norms.length} LayerNorms with their residual Add (${counts.with_bias} with a bias Add, ${counts.sum_output} handing out the sum)`,
      refusals,
      `fused 0 of ${norms.length} LayerNorms`,
    );
  },
});

function matchSkipLayerNorm(ln: Node): SkipLayerNorm | { reason: string } {
  const x = ln.input(0);
  const add = producedBy(x, 'Add');
  if (!x || !add) return { reason: 'its input is not an Add' };
  const [a, b] = [add.input(0), add.input(1)];
  const shape = shapeOf(x);
  const c = lastDim(x);
  if (!a || !b) return { reason: 'its input is not an Add' };
  if (Math.min(shapeOf(a)?.length ?? 0, shapeOf(b)?.length ?? 0) === 1) return { reason: 'its input is a bias Add (y + b[C]), not a residual Add' };
  if (!sameShape(a, b) || !sameShape(a, x)) return { reason: 'the Add broadcasts or its shapes are unknown' };
  if (shape!.length !== 3 || c === undefined) return { reason: 'the sum is not three-dimensional (N, S, C) with a known C' };
  const axis = ln.attrInt('axis', -1);
  if (axis !== -1 && axis !== 2) return { reason: `LayerNormalization axis ${axis} is not the last axis` };
  if (ln.attrInt('stash_type', 1) !== 1) return { reason: 'LayerNormalization stash_type is not 1 (float)' };
  if (ln.outputs.slice(1).some((o) => o.useCount > 0 || o.isGraphOutput)) return { reason: "the LayerNorm's Mean or InvStdDev is read" };
  for (const v of [ln.input(1), ln.input(2)]) {
    const s = v && shapeOf(v);
    if (v && !(s?.length === 1 && s[0] === c)) return { reason: `the LayerNorm scale or bias is not of shape [${c}]` };
  }
  if (!ln.input(1)) return { reason: 'the LayerNorm has no scale' };
  const dtype = x.type?.dtype;
  if ([a, b, ln.input(1), ln.input(2)].some((v) => v && v.type?.dtype !== dtype)) return { reason: 'inputs of different element types' };
  for (const [input, skip] of [[a, b], [b, a]] as const) {
    const folded = biasAddOf(input, c);
    if (folded) return { layerNorm: ln, add, input: folded.input, skip, biasAdd: folded.add, bias: folded.bias };
  }
  return { layerNorm: ln, add, input: a, skip: b };
}

/** v = y + bias (bias of shape [C], y of v's shape), when the residual Add is v's only reader. */
function biasAddOf(v: Value, c: number): { add: Node; input: Value; bias: Value } | undefined {
  const add = producedBy(v, 'Add');
  if (!add || !soleReader(v)) return undefined;
  for (const [input, bias] of [[add.input(0), add.input(1)], [add.input(1), add.input(0)]] as const) {
    const s = shapeOf(bias);
    if (input && bias && s?.length === 1 && s[0] === c && sameShape(input, v) && bias.type?.dtype === v.type?.dtype) return { add, input, bias };
  }
  return undefined;
}

/** Rewrites the match; true when the sum is read elsewhere (output 3 is used). */
function fuse(m: SkipLayerNorm): boolean {
  const graph = m.layerNorm.graph!;
  const ln = m.layerNorm;
  const sum = m.add.output();
  const sumRead = sum.isGraphOutput || sum.uses().some((u) => u.node !== ln);
  const type = ln.output().type;
  const stats = type?.shape && { dtype: DataType.FLOAT, shape: type.shape.map((d, i, all) => (i === all.length - 1 ? 1 : d)) };
  const fused = graph.createNode({
    opType: 'SkipLayerNormalization',
    domain: MICROSOFT_DOMAIN,
    name: fusedName(ln, 'SkipLayerNormalization'),
    inputs: [m.input, m.skip, ln.input(1), ln.input(2), m.bias],
    // mean and inv_std_var are never read; they exist only so the sum can be output 3.
    outputs: sumRead ? 4 : 1,
    attributes: [makeAttr('epsilon', ln.attrFloat('epsilon', 1e-5), 'float')],
    types: [type && { ...type }, stats, stats, sum.type && { ...sum.type }],
    pass: 'fuse-skip-layernorm',
  });
  graph.insertBefore(ln, fused);
  graph.replaceAllUsesWith(ln.output(), fused.output(0), { graphOutputs: true });
  if (sumRead) graph.replaceAllUsesWith(sum, fused.output(3), { graphOutputs: true });
  removeFused(graph, m.biasAdd ? [ln, m.add, m.biasAdd] : [ln, m.add]);
  return sumRead;
}
