/**
 * fuse-bias-split-gelu: diffusers' GEGLU feed-forward input, (y + b) split in halves h, g on the last axis, then
 * h · gelu(g), becomes one com.microsoft.BiasSplitGelu(y, b).
 *
 * Rules:
 * 1. Every Erf is a candidate. Its Gelu (passes/lib/erf-gelu.ts) must be of the second half g and multiplied by
 *    the first half h: BiasSplitGelu applies Gelu to the right half ("Gelu is applied to right side only" in ORT's
 *    kernel, contrib_ops/cuda/diffusion/bias_split_gelu_impl.cu), as GEGLU's `hidden, gate = x.chunk(2, -1)` does.
 * 2. The halves come from one Split (two equal outputs, last axis: split sizes, num_outputs or neither) or two
 *    Slices of the last axis, [0, D/2) and [D/2, D), steps 1. Slice bounds may be shape computations (TorchScript
 *    writes (D + 1) / 2 from Shape): shape inference evaluates them, with or without cleanup first.
 * 3. The split tensor is y + b with b of shape [D] and y three-dimensional (N, S, D), as the op's schema wants; only
 *    the Split/Slices and Shape nodes may read it (Shape nodes are moved to y, which has the same shape).
 * 4. The CUDA kernel takes only D = 2560, 5120 or 10240 (bias_split_gelu.cc; SDXL's are 5120 and 10240) and float
 *    or float16; other sizes are refused unless `any_hidden_size`. There is no CPU kernel: for target cpu nothing
 *    fuses (use fuse-gelu there).
 */
import { definePass } from '../src/engine/pass.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { BIAS_SPLIT_GELU_HIDDEN_SIZES, hasKernel, kernelRefusal } from './lib/contrib-kernels.js';
import { matchErfGelu } from './lib/erf-gelu.js';
import { GraphFacts, lastDim, shapeOf } from './lib/fusion-facts.js';
import { fusedName, fusionResult, MICROSOFT_DOMAIN, moveShapeReaders, onlyReadBy, otherInput, producedBy, Refusals, removeFused, soleReader } from './lib/fusion-match.js';

export interface FuseBiasSplitGeluParams {
  any_hidden_size: boolean;
}

interface Geglu {
  /** y and b of y + b, the tensor that is split. */
  input: Value;
  bias: Value;
  /** y + b: its Shape readers move to y. */
  biased: Value;
  output: Value;
  nodes: Node[];
}

export const fuseBiasSplitGelu = definePass<FuseBiasSplitGeluParams>({
  name: 'fuse-bias-split-gelu',
  description: 'Fuses GEGLU, (y + b) split in halves h, g then h·gelu(g), into com.microsoft.BiasSplitGelu (CUDA).',
  params: {
    any_hidden_size: {
      type: 'boolean',
      description: 'Fuse whatever the hidden size. ORT 1.29\'s CUDA kernel takes only 2560, 5120 and 10240 and fails at run time on others.',
      default: false,
    },
  },
  run(ctx, params) {
    const { graph } = ctx;
    const refusals = new Refusals(ctx, 'fuse-bias-split-gelu');
    const erfs = graph.nodes().filter((n) => n.is('Erf'));
    const counts = { candidates: erfs.length, fused: 0 };
    if (!erfs.length) return fusionResult(0, counts, '', refusals, 'no Erf, so no GEGLU to fuse');
    if (!hasKernel('BiasSplitGelu', ctx.target)) {
      return fusionResult(0, counts, '', refusals, `ONNX Runtime has no ${ctx.target.toUpperCase()} kernel for BiasSplitGelu; fuse-gelu fuses the Gelu alone`);
    }
    const facts = GraphFacts.infer(ctx);
    for (const erf of erfs) {
      if (erf.graph !== graph) continue;
      const m = matchGeglu(erf, facts);
      if ('reason' in m) {
        refusals.add(erf, m.reason);
        continue;
      }
      const hidden = lastDim(m.input)!;
      const why =
        kernelRefusal('BiasSplitGelu', ctx.target, m.input.type?.dtype) ??
        (params.any_hidden_size || BIAS_SPLIT_GELU_HIDDEN_SIZES.includes(hidden) ? undefined : `hidden size ${hidden} is not one the CUDA kernel takes (${BIAS_SPLIT_GELU_HIDDEN_SIZES.join(', ')})`);
      if (why) {
        refusals.add(erf, why);
        continue;
      }
      const fused = graph.createNode({
        opType: 'BiasSplitGelu',
        domain: MICROSOFT_DOMAIN,
        name: fusedName(erf, 'BiasSplitGelu'),
        inputs: [m.input, m.bias],
        types: [m.output.type && { ...m.output.type }],
        pass: 'fuse-bias-split-gelu',
      });
      graph.insertBefore(erf, fused);
      graph.replaceAllUsesWith(m.output, fused.output(0), { graphOutputs: true });
      moveShapeReaders(m.biased, m.input);
      removeFused(graph, m.nodes);
      counts.fused++;
    }
    if (counts.fused) ctx.model.requireOpset(MICROSOFT_DOMAIN, 1);
    return fusionResult(counts.fused, counts, `fused ${counts.fused} of ${erfs.length} GEGLUs into BiasSplitGelu`, refusals, `fused 0 of ${erfs.length} Erf candidates`);
  },
});

function matchGeglu(erf: Node, facts: GraphFacts): Geglu | { reason: string } {
  const gelu = matchErfGelu(erf, facts);
  if ('reason' in gelu) return gelu;
  const product = soleReader(gelu.output);
  const hidden = product?.is('Mul') ? otherInput(product, gelu.output) : undefined;
  const gate = gelu.x;
  if (!product || !hidden) return { reason: 'the Gelu is not multiplied by anything (a plain Gelu: fuse-gelu)' };
  const split = matchHalves(hidden, gate, facts);
  if ('reason' in split) return split;
  const pattern = new Set([...gelu.nodes, product, ...split.nodes]);
  if (soleReader(hidden) !== product) return { reason: 'the first half is read elsewhere too' };
  if (!onlyReadBy(gate, pattern)) return { reason: 'the gated half is read outside the Gelu' };

  const add = producedBy(split.source, 'Add');
  if (!add) return { reason: 'the split tensor is not y + bias' };
  const d = lastDim(split.source);
  const operands = [[add.input(0), add.input(1)], [add.input(1), add.input(0)]] as const;
  const found = operands.find(([y, b]) => y && b && shapeOf(b)?.length === 1 && shapeOf(b)![0] === d && shapeOf(y)?.length === 3 && lastDim(y) === d && b.type?.dtype === y.type?.dtype);
  if (!found) return { reason: 'the split tensor is not y + b with y three-dimensional (N, S, D) and b of shape [D]' };
  const [y, bias] = found;
  const readers = new Set(split.nodes);
  if (split.source.isGraphOutput || !split.source.uses().every((u) => u.index >= 0 && (readers.has(u.node) || u.node.is('Shape')))) {
    return { reason: 'y + b is read by more than the split' };
  }
  return { input: y!, bias: bias!, biased: split.source, output: product.output(), nodes: [...pattern, add] };
}

/** h and g as the first and second halves of one tensor's last axis, or why not. */
function matchHalves(h: Value, g: Value, facts: GraphFacts): { source: Value; nodes: Node[] } | { reason: string } {
  const split = producedBy(h, 'Split');
  if (split) {
    if (g.producer !== split || split.outputs.length !== 2 || split.output(0) !== h || split.output(1) !== g) {
      return { reason: 'the Gelu is not of the second half of the Split that gives the first' };
    }
    const source = split.input(0)!;
    const d = lastDim(source);
    const rank = shapeOf(source)?.length;
    if (d === undefined || rank === undefined || d % 2) return { reason: 'the split axis has no known even size' };
    if (normalized(split.attrInt('axis', 0), rank) !== rank - 1) return { reason: 'the Split is not along the last axis' };
    const sizes = split.input(1) ? facts.numbers(split.input(1)) : split.attrInts('split');
    if (sizes && !(sizes.length === 2 && sizes[0] === d / 2 && sizes[1] === d / 2)) return { reason: 'the Split is not in equal halves' };
    if (split.input(1) && !sizes) return { reason: 'the Split sizes are not known' };
    return { source, nodes: [split] };
  }
  const first = producedBy(h, 'Slice');
  const second = producedBy(g, 'Slice');
  if (!first || !second || first.input(0) !== second.input(0)) return { reason: 'the Gelu and its multiplier are not halves of one tensor (Split or two Slices)' };
  const source = first.input(0)!;
  const d = lastDim(source);
  const rank = shapeOf(source)?.length;
  if (d === undefined || rank === undefined || d % 2) return { reason: 'the sliced axis has no known even size' };
  const a = sliceRange(first, rank, d, facts);
  const b = sliceRange(second, rank, d, facts);
  if (!a || !b) return { reason: 'the Slices are not of the last axis with known bounds and step 1' };
  if (a[0] !== 0 || a[1] !== d / 2 || b[0] !== d / 2 || b[1] !== d) {
    return { reason: `the Slices take [${a}) and [${b}) of ${d}, not the first half and the gated second half` };
  }
  return { source, nodes: [first, second] };
}

/** [start, end) of a Slice along the last axis, clamped to the axis size; undefined for any other Slice. */
function sliceRange(slice: Node, rank: number, size: number, facts: GraphFacts): [number, number] | undefined {
  if (slice.attr('starts')) return undefined; // Slice-1, attribute form: not what opset ≥ 10 exporters write
  const starts = facts.numbers(slice.input(1));
  const ends = facts.numbers(slice.input(2));
  const axes = slice.input(3) ? facts.numbers(slice.input(3)) : [0];
  const steps = slice.input(4) ? facts.numbers(slice.input(4)) : [1];
  if (starts?.length !== 1 || ends?.length !== 1 || axes?.length !== 1 || steps?.length !== 1 || steps[0] !== 1) return undefined;
  if (normalized(axes[0]!, rank) !== rank - 1) return undefined;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  return [clamp(starts[0]!), clamp(ends[0]!)];
}

function normalized(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
