/**
 * channels-last: convolutions and GroupNorms run NHWC (com.microsoft.NhwcConv and GroupNorm with channels_last=1,
 * ONNX Runtime's CUDA kernels for diffusion models), and whole ResNet blocks stay NHWC between them, so Transposes
 * remain only where the NHWC region meets NCHW: ideally at the model's input and output.
 *
 * Rules:
 * 1. GroupNorm patterns are fused first (fuse-groupnorm's rules; `groupnorm: false` skips that, and then every
 *    GroupNorm pattern is an NCHW island with Transposes around it).
 * 2. Every Conv with a constant 4-D weight becomes NhwcConv; its weight is permuted to [M, kH, kW, C/group] when
 *    the model is written (ORT-FACTS.md: an OIHW weight fails with "Input channels C is not equal to kernel
 *    channels * group", although docs/ContribOperators.md describes W as OIHW).
 * 3. The NHWC layout is carried through layout-indifferent ops and cancelled against Transposes, by the rules of
 *    lib/nhwc-propagation.ts: the transformer blocks' own permutes (NCHW → (N, H·W, C) and back) disappear, the
 *    time embedding (N, C, 1, 1) is reshaped to (N, 1, 1, C), Concat/Split/Slice axes and Resize scales follow.
 * 4. Counts: transposes_before and transposes_after (Transpose nodes in the graph), nhwc_convs, groupnorms.
 * 5. ONNX Runtime has no CPU kernel for NhwcConv or GroupNorm (ORT-FACTS.md): for target cpu the pass does
 *    nothing and says so.
 * 6. Run it before conv1x1-to-matmul: that pass turns NhwcConv 1×1 into a plain MatMul, while the NCHW form it makes
 *    of a Conv (Reshape, MatMul, Reshape) ends the NHWC region (on the full UNet: 22 more Transposes).
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import type { Graph } from '../src/ir/graph.js';
import { inferTypes } from '../src/ir/infer/index.js';
import { CPU_HAS_NO_KERNELS, describeRefusals, fuseGroupNorms, type GroupNormFusion } from './fuse-groupnorm.js';
import { propagateNhwc } from './lib/nhwc-propagation.js';

export interface ChannelsLastParams {
  groupnorm: boolean;
}

export const channelsLast = definePass<ChannelsLastParams>({
  name: 'channels-last',
  description: 'Runs Convs as NhwcConv and GroupNorms as channels-last GroupNorm, keeping ResNet blocks NHWC between them; CUDA only.',
  params: {
    groupnorm: { type: 'boolean', description: 'Fuse GroupNorm patterns into com.microsoft.GroupNorm (channels_last=1) first.', default: true },
  },
  run(ctx, params) {
    if (ctx.target !== 'cuda') return unchanged('channels-last is for CUDA', [CPU_HAS_NO_KERNELS]);
    const graph = ctx.graph;
    inferTypes(graph, { dims: ctx.dims });
    const originalTransposes = graph.nodes().filter((n) => n.is('Transpose'));
    const groupNorms: GroupNormFusion = params.groupnorm ? fuseGroupNorms(ctx, 'channels-last') : { fused: 0, silu: 0, candidates: 0, refusals: new Map() };
    const sweep = propagateNhwc(ctx, 'channels-last');
    const transposesBefore = originalTransposes.length;
    const transposesAfter = countTransposes(graph);
    const removed = originalTransposes.filter((n) => n.graph !== graph).length;
    const counts = {
      transposes_before: transposesBefore,
      transposes_after: transposesAfter,
      transposes_removed: removed,
      transposes_added: transposesAfter - (transposesBefore - removed),
      nhwc_convs: sweep.nhwcConvs,
      groupnorms: groupNorms.fused,
      groupnorm_silu: groupNorms.silu,
      converted_ops: sweep.convertedOps,
      shape_rewrites: sweep.shapeRewrites,
    };
    const reasons = [...describeRefusals(groupNorms.refusals), ...describeRefusals(sweep.refusals)].slice(0, 8);
    const changed = groupNorms.fused + sweep.nhwcConvs + sweep.convertedOps + sweep.shapeRewrites + removed > 0;
    if (!changed) return unchanged('nothing to make channels-last', reasons.length ? reasons : ['the graph has no Conv and no GroupNorm pattern'], counts);
    return {
      changed,
      counts,
      summary: `${sweep.nhwcConvs} NhwcConv, ${groupNorms.fused} GroupNorm (${groupNorms.silu} with SiLU), ${sweep.convertedOps} ops carried NHWC; Transposes ${transposesBefore} → ${transposesAfter}`,
      reasons,
    };
  },
});

export function countTransposes(graph: Graph): number {
  let n = 0;
  for (const node of graph) if (node.is('Transpose')) n++;
  return n;
}
