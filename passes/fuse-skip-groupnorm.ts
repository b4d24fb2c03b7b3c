/**
 * fuse-skip-groupnorm: the Add in front of a channels-last com.microsoft.GroupNorm (a ResNet block's residual sum,
 * or a conv output plus the time embedding) becomes one com.microsoft.SkipGroupNorm, which adds x + skip + bias
 * while it normalizes: Y = GroupNorm(x + skip + bias), S = x + skip + bias.
 *
 * Why: measured on the full UNet in float16 (results/2026-11-26-h100/), ORT adds a Conv's bias in a kernel of its
 * own (40 calls, 1.2 ms) and the Adds are full-tensor passes too. Here each fused site loses the Add, and where x
 * comes from a biased NhwcConv or a bias Add, that bias pass as well.
 *
 * Rules:
 * 1. Candidates: com.microsoft.GroupNorm with channels_last=1 (made by channels-last or fuse-groupnorm) whose input is
 *    an Add of two operands, the sum no graph output.
 * 2. x is an operand of the sum's shape (N, H, W, C); skip is the other, of shape (N, H, W, C), (N, 1, 1, C) or
 *    (N, C): the three ORT's CUDA kernel takes (contrib_ops/cuda/diffusion/group_norm.cc); it does not broadcast x.
 * 3. The bias, when x has one to give (the operand with one is preferred as x):
 *    - x from a com.microsoft.NhwcConv with a constant bias, the Add its only reader: the conv loses its bias;
 *    - x = y + b, or a last-axis-keeping Reshape of it (a channels-last Transformer2DModel's proj_out), b a constant
 *      (C), that path the only reader: the bias Add goes.
 *    A skip of x's full shape may give up its bias the same way (a ResNet block's conv2 output plus its shortcut
 *    MatMul + bias): in float32 the two constant vectors are summed at write time into the one bias input.
 * 4. The sum's other readers (the next residual, a shortcut) read the S output; the node takes the Add's place in
 *    the order, so they still come after it.
 * 5. float32 or float16 (the kernel's types); all operands of one type. CUDA only: there is no CPU kernel.
 */
import { definePass } from '../src/engine/pass.js';
import { sameDim } from '../src/ir/infer/dim-expr.js';
import type { Graph } from '../src/ir/graph.js';
import type { Node } from '../src/ir/node.js';
import { ComputedData, Tensor, typedView } from '../src/ir/tensor.js';
import type { Dim, Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { GraphFacts, lastDim, sameShape, shapeOf } from './lib/fusion-facts.js';
import { fusedName, fusionResult, MICROSOFT_DOMAIN, producedBy, Refusals, removeFused, soleReader } from './lib/fusion-match.js';

const PASS = 'fuse-skip-groupnorm';

/** Where the bias comes from (rule 3). */
type BiasSource =
  | { kind: 'conv'; conv: Node; bias: Value }
  | { kind: 'add'; biasAdd: Node; input: Value; bias: Value; reshape?: Node };

interface Site {
  groupNorm: Node;
  sum: Node;
  x: Value;
  skip: Value;
  /** The biases given up by x and (when it has x's shape) by skip: their sum is the node's bias. */
  biases: BiasSource[];
}

export const fuseSkipGroupNorm = definePass<Record<string, never>>({
  name: PASS,
  description: 'Fuses the residual / time-embedding Add (and a conv or bias Add bias) in front of a channels-last GroupNorm into com.microsoft.SkipGroupNorm (CUDA).',
  params: {},
  after: ['channels-last'],
  run(ctx) {
    const { graph } = ctx;
    const refusals = new Refusals(ctx, PASS);
    const counts = { candidates: 0, fused: 0, conv_bias: 0, add_bias: 0, broadcast_skip: 0, sum_read: 0 };
    if (ctx.target !== 'cuda') return fusionResult(0, counts, '', refusals, "ONNX Runtime has no CPU kernel for SkipGroupNorm: set target: cuda");
    GraphFacts.infer(ctx);
    for (const groupNorm of graph.nodes()) {
      if (groupNorm.graph !== graph || !groupNorm.is('GroupNorm', MICROSOFT_DOMAIN)) continue;
      counts.candidates++;
      const site = matchSite(groupNorm);
      if ('reason' in site) {
        refusals.add(groupNorm, site.reason);
        continue;
      }
      const fused = fuse(site);
      counts.fused++;
      for (const b of site.biases) counts[b.kind === 'conv' ? 'conv_bias' : 'add_bias']++;
      if (!sameShape(site.skip, site.x)) counts.broadcast_skip++;
      if (fused.readsSum) counts.sum_read++;
    }
    if (counts.fused) ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
    return fusionResult(
      counts.fused,
      counts,
      `fused ${counts.fused} of ${counts.candidates} Add → GroupNorm into SkipGroupNorm (bias from ${counts.conv_bias} NhwcConv and ${counts.add_bias} bias Adds; ${counts.broadcast_skip} broadcast time embeddings; ${counts.sum_read} sums read on)`,
      refusals,
      'fused 0 Add → GroupNorm',
    );
  },
});

function matchSite(groupNorm: Node): Site | { reason: string } {
  if (groupNorm.attrInt('channels_last', 1) !== 1) return { reason: 'the GroupNorm is not channels-last (the kernel runs NHWC only)' };
  const sumValue = groupNorm.input(0);
  const sum = producedBy(sumValue, 'Add');
  if (!sumValue || !sum) return { reason: `its input is not an Add (${sumValue?.producer?.opType ?? 'a graph input or constant'})` };
  if (sumValue.isGraphOutput) return { reason: 'the sum is a graph output' };
  if (sumValue.uses().some((u) => u.index < 0)) return { reason: 'the sum is read inside a subgraph' };
  const dtype = sumValue.type?.dtype;
  if (dtype !== DataType.FLOAT && dtype !== DataType.FLOAT16) return { reason: 'the sum is not float32 or float16' };
  const shape = shapeOf(sumValue);
  if (shape?.length !== 4) return { reason: 'the sum is not 4-D (N, H, W, C)' };
  const [a, b] = [sum.input(0), sum.input(1)];
  if (!a || !b || a === b) return { reason: 'the Add adds a value to itself' };
  const options: Site[] = [];
  for (const [x, skip] of [[a, b], [b, a]] as const) {
    if (!sameShape(x, sumValue) || !skipFits(skip, shape) || x.type?.dtype !== dtype || skip.type?.dtype !== dtype) continue;
    const biases = [biasOf(x, sum, dtype), sameShape(skip, sumValue) ? biasOf(skip, sum, dtype) : undefined].filter((b): b is BiasSource => !!b);
    // Two biases are summed into one constant, which this pass does in float32 only.
    options.push({ groupNorm, sum, x, skip, biases: dtype === DataType.FLOAT ? biases : biases.slice(0, 1) });
  }
  if (!options.length) return { reason: 'no operand has the sum’s shape with the other (N, H, W, C), (N, 1, 1, C) or (N, C)' };
  return options.reduce((best, o) => (o.biases.length > best.biases.length ? o : best));
}

/** Rule 2: the skip shapes ORT's kernel accepts for an (N, H, W, C) input. */
function skipFits(skip: Value, shape: readonly Dim[]): boolean {
  const s = shapeOf(skip);
  if (!s) return false;
  const [n, , , c] = shape;
  if (s.length === 4) return s.every((d, i) => sameDim(d, shape[i])) || (sameDim(s[0], n) && s[1] === 1 && s[2] === 1 && sameDim(s[3], c));
  return s.length === 2 && sameDim(s[0], n) && sameDim(s[1], c);
}

/** Rule 3: a bias x can give up, read nowhere else. */
function biasOf(x: Value, sum: Node, dtype: DataType): BiasSource | undefined {
  if (soleReader(x) !== sum) return undefined;
  const c = lastDim(x);
  const isBias = (v: Value | undefined): v is Value => !!v?.isConstant && v.type?.dtype === dtype && shapeOf(v)?.length === 1 && shapeOf(v)![0] === c;
  const conv = x.producer;
  if (conv?.graph === x.graph && conv.is('NhwcConv', MICROSOFT_DOMAIN)) {
    const bias = conv.input(2);
    return isBias(bias) ? { kind: 'conv', conv, bias } : undefined;
  }
  const reshape = producedBy(x, 'Reshape');
  const biased = reshape ? reshape.input(0) : x;
  const biasAdd = producedBy(biased, 'Add');
  if (!biased || !biasAdd || (reshape && (soleReader(biased) !== reshape || lastDim(biased) !== c))) return undefined;
  for (const [input, bias] of [[biasAdd.input(0), biasAdd.input(1)], [biasAdd.input(1), biasAdd.input(0)]] as const) {
    if (input && !input.isConstant && isBias(bias) && sameShape(input, biased)) return { kind: 'add', biasAdd, input, bias, ...(reshape ? { reshape } : {}) };
  }
  return undefined;
}

function fuse(site: Site): { readsSum: boolean } {
  const { groupNorm, sum } = site;
  const graph = groupNorm.graph!;
  const removed: Node[] = [groupNorm, sum];
  /** Gives up the bias of `operand`, returning what the node reads in its place. */
  const peel = (operand: Value, bias: BiasSource | undefined): Value => {
    if (bias?.kind === 'conv') bias.conv.setInputs(bias.conv.inputs.slice(0, 2));
    if (bias?.kind !== 'add') return operand;
    removed.push(bias.biasAdd);
    if (!bias.reshape) return bias.input;
    bias.reshape.replaceInput(0, bias.input);
    return operand;
  };
  const [xBias, skipBias] = [site.biases.find((b) => owner(b) === site.x), site.biases.find((b) => owner(b) === site.skip)];
  const x = peel(site.x, xBias);
  const skip = peel(site.skip, skipBias);
  const bias = xBias && skipBias ? summedBias(graph, xBias.bias, skipBias.bias) : (xBias ?? skipBias)?.bias;
  const sumValue = sum.output();
  const readsSum = sumValue.uses().some((u) => u.node !== groupNorm);
  const node = graph.createNode({
    opType: 'SkipGroupNorm',
    domain: MICROSOFT_DOMAIN,
    name: fusedName(groupNorm, 'SkipGroupNorm'),
    inputs: [x, groupNorm.input(1), groupNorm.input(2), skip, bias],
    outputs: readsSum ? 2 : 1,
    attributes: groupNorm.attributes.map((a) => ({ ...a })),
    types: [groupNorm.output().type && { ...groupNorm.output().type! }, sumValue.type && { ...sumValue.type }],
    pass: PASS,
  });
  // In the Add's place: every input is computed before the Add, every reader of the sum after it (rule 4).
  graph.insertBefore(sum, node);
  graph.replaceAllUsesWith(groupNorm.output(), node.output(0), { graphOutputs: true });
  if (readsSum) graph.replaceAllUsesWith(sumValue, node.output(1));
  removeFused(graph, removed);
  return { readsSum };
}

/** The operand a bias is taken from: the conv's output, or the bias Add's (or its Reshape's) output. */
function owner(bias: BiasSource): Value {
  if (bias.kind === 'conv') return bias.conv.output();
  return (bias.reshape ?? bias.biasAdd).output();
}

/** a + b for two float32 (C) constants, computed when the model is written. */
function summedBias(graph: Graph, a: Value, b: Value): Value {
  const [ta, tb] = [a.initializer!, b.initializer!];
  const data = new ComputedData(
    ta.byteLength,
    async () => {
      const [x, y] = [await ta.bytes(), await tb.bytes()];
      const [fx, fy] = [typedView(DataType.FLOAT, x) as Float32Array, typedView(DataType.FLOAT, y) as Float32Array];
      return new Uint8Array(Float32Array.from(fx, (v, i) => v + fy[i]!).buffer);
    },
    `the sum of biases '${a.name}' and '${b.name}'`,
  );
  return graph.addInitializer(`${a.name}_plus_skip_bias`, new Tensor(DataType.FLOAT, [...ta.dims], data));
}
