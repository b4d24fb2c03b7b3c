/**
 * fuse-groupnorm: the exported GroupNorm subgraph (Reshape → InstanceNormalization → Reshape → Mul → Add, and the
 * SiLU after it) becomes one com.microsoft.GroupNorm, for ONNX Runtime's CUDA provider.
 *
 * Rules:
 * 1. The pattern and the kernel's limits are in lib/groupnorm-pattern.ts; a pattern that does not fit is left as is,
 *    and why is reported (the VAE attention's GroupNorm on a rank-3 (N, C, H·W) input is one).
 * 2. The kernel runs channels-last only, so the GroupNorm reads Transpose(x, [0, 2, 3, 1]) and its result goes
 *    through Transpose [0, 3, 1, 2]: the graph stays NCHW around it. `channels-last` removes those Transposes by
 *    keeping whole ResNet blocks NHWC; this pass is for recipes that keep NCHW.
 * 3. A Sigmoid and Mul that form SiLU on the pattern's output (and are its only readers) become activation=1.
 * 4. γ and β (C, 1, 1) become (C) initializers over the same bytes (nothing is read); one per source constant.
 * 5. There is no CPU kernel (ORT-FACTS.md): for target cpu the pass does nothing and says so.
 */
import { definePass, unchanged, type PassContext } from '../src/engine/pass.js';
import type { Graph } from '../src/ir/graph.js';
import { inferTypes } from '../src/ir/infer/index.js';
import { makeAttr } from '../src/ir/attributes.js';
import type { Value } from '../src/ir/value.js';
import { removeDeadFeeders } from './lib/constant-source.js';
import { matchGroupNorm, type GroupNormMatch } from './lib/groupnorm-pattern.js';
import { permutedDims, TO_NCHW, TO_NHWC } from './lib/permute-tensor.js';

export const CPU_HAS_NO_KERNELS = "target is cpu, and ONNX Runtime's CPU provider has no kernel for com.microsoft.NhwcConv or GroupNorm: set target: cuda";

export interface GroupNormFusion {
  fused: number;
  silu: number;
  candidates: number;
  /** Why patterns were left, with how many times. */
  refusals: Map<string, number>;
}

export const fuseGroupNorm = definePass<Record<string, never>>({
  name: 'fuse-groupnorm',
  description: 'Replaces exported GroupNorm subgraphs (with their SiLU) by com.microsoft.GroupNorm between Transposes; CUDA only.',
  params: {},
  run(ctx) {
    if (ctx.target !== 'cuda') return unchanged('GroupNorm fusion is for CUDA', [CPU_HAS_NO_KERNELS]);
    inferTypes(ctx.graph, { dims: ctx.dims });
    const result = fuseGroupNorms(ctx, 'fuse-groupnorm');
    const reasons = describeRefusals(result.refusals);
    if (!result.fused) return unchanged('no GroupNorm pattern fused', reasons.length ? reasons : ['the graph has no InstanceNormalization'], { candidates: result.candidates });
    return {
      changed: true,
      counts: { groupnorms: result.fused, silu_fused: result.silu, candidates: result.candidates },
      summary: `fused ${result.fused} of ${result.candidates} GroupNorm patterns (${result.silu} with SiLU)`,
      reasons,
    };
  },
});

/** Fuses every GroupNorm pattern of the graph; types must be inferred. Shared with channels-last. */
export function fuseGroupNorms(ctx: PassContext, pass: string): GroupNormFusion {
  const graph = ctx.graph;
  const result: GroupNormFusion = { fused: 0, silu: 0, candidates: 0, refusals: new Map() };
  const perChannel = new Map<Value, Value>();
  for (const node of graph.nodes()) {
    if (node.graph !== graph || !node.is('InstanceNormalization')) continue;
    result.candidates++;
    const match = matchGroupNorm(node);
    if ('reason' in match) {
      result.refusals.set(match.reason, (result.refusals.get(match.reason) ?? 0) + 1);
      ctx.log(`${pass}: ${node}: ${match.reason}`);
      continue;
    }
    replaceWithGroupNorm(graph, match, perChannel, pass);
    result.fused++;
    if (match.silu) result.silu++;
  }
  if (result.fused) ctx.model.requireOpset('com.microsoft', 1);
  return result;
}

function replaceWithGroupNorm(graph: Graph, match: GroupNormMatch, perChannel: Map<Value, Value>, pass: string): void {
  const last = match.nodes[match.nodes.length - 1]!;
  const norm = match.nodes[1]!;
  const name = norm.name.replace(/InstanceNormalization/g, 'GroupNorm');
  const xType = match.x.type!;
  const nhwcType = { dtype: xType.dtype, shape: xType.shape && permutedDims(xType.shape, TO_NHWC) };
  const toNhwc = graph.createNode({ opType: 'Transpose', name: `${name}_to_nhwc`, inputs: [match.x], attributes: [makeAttr('perm', [...TO_NHWC])], types: [nhwcType], pass });
  const groupNorm = graph.createNode({
    opType: 'GroupNorm',
    domain: 'com.microsoft',
    name,
    inputs: [toNhwc.output(), channelVector(graph, match.gamma, perChannel), channelVector(graph, match.beta, perChannel)],
    attributes: [
      makeAttr('activation', match.silu ? 1 : 0),
      makeAttr('channels_last', 1),
      makeAttr('epsilon', match.epsilon, 'float'),
      makeAttr('groups', match.groups),
    ],
    types: [nhwcType],
    pass,
  });
  const toNchw = graph.createNode({ opType: 'Transpose', name: `${name}_to_nchw`, inputs: [groupNorm.output()], attributes: [makeAttr('perm', [...TO_NCHW])], types: [match.output.type], pass });
  graph.insertBefore(last, toNhwc);
  graph.insertBefore(last, groupNorm);
  graph.insertBefore(last, toNchw);
  graph.replaceAllUsesWith(match.output, toNchw.output(), { graphOutputs: true });
  removeDeadFeeders(graph, match.nodes);
}

/** γ or β as a (C) initializer over the constant's bytes, one per source constant. */
function channelVector(graph: Graph, source: GroupNormMatch['gamma'], cache: Map<Value, Value>): Value {
  const cached = cache.get(source.value);
  if (cached) return cached;
  const tensor = source.tensor;
  const vector = graph.addInitializer(`${source.value.name}_vector`, tensor.withDims([tensor.elementCount]));
  cache.set(source.value, vector);
  return vector;
}

export function describeRefusals(refusals: ReadonlyMap<string, number>): string[] {
  return [...refusals].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${n}× ${why}`);
}
