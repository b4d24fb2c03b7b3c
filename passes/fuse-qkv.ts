/**
 * fuse-qkv: the Q, K and V projections of one attention (or K and V alone, for cross-attention on
 * encoder_hidden_states) become one MatMul on concatenated weights, one larger GEMM instead of three.
 *
 * Rules:
 * 1. Groups come from attention structure, not from shared inputs alone (the full UNet has 140 MatMuls reading
 *    encoder_hidden_states, in 70 K/V pairs): each com.microsoft.MultiHeadAttention with separate query, key and
 *    value, and each Softmax between a Q·Kᵀ MatMul and a ·V MatMul, the projections found behind their operands
 *    through layout ops, scalings and masks (so also attention fuse-attention leaves alone, such as the CLIP text
 *    encoders' 3-D form with its causal mask). Concatenating MatMuls of one input is exact whatever the structure;
 *    the structure only decides which MatMuls go together.
 * 2. A projection is MatMul(x, W) with W constant ([in, out]; an initializer or a Constant node), optionally
 *    followed by Add with a constant [out] bias (as in the CLIP text encoders and the VAE). When Q, K and V are
 *    projections of one x, the group is QKV; else when K and V are projections of one x, it is KV. Biases must be
 *    on all of a group or on none.
 * 3. Where the attention is a MultiHeadAttention, `packed` is set, the target is CUDA (ONNX Runtime's CPU kernel
 *    has no packed form) and the projections feed nothing else, the fused MatMul (+ bias) is reshaped to
 *    MultiHeadAttention's packed QKV (B, S, N, 3, H) or packed KV (B, L, N, 2, H) input. The weight columns are then
 *    interleaved per head, [N][3][H], which is the order that Reshape reads; otherwise the fused result is Split on
 *    its last axis into the old outputs.
 * 4. The new weights are lazy: their bytes are computed from the old ones when the model is written; the old
 *    MatMuls, Adds and weights are removed.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import { makeAttr } from '../src/ir/attributes.js';
import type { Graph } from '../src/ir/graph.js';
import type { Node } from '../src/ir/node.js';
import { InlineData, Tensor } from '../src/ir/tensor.js';
import type { TensorType, Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { MICROSOFT_DOMAIN } from './fuse-attention.js';
import { attentionInputs } from './lib/attention-inputs.js';
import { packColumns } from './lib/pack-columns.js';
import { projectionOf, type Projection } from './lib/projection.js';
import { removeDeadFrom } from './lib/remove-dead.js';

export interface FuseQkvParams {
  packed: boolean;
}

/** One attention's inputs, and the MultiHeadAttention reading them when there is one. */
interface Site {
  where: Node;
  /** Absent when no MatMul is behind Q (it is not fused then). */
  query: Value | undefined;
  key: Value;
  value: Value;
  mha?: Node;
}

interface Group {
  site: Site;
  kind: 'qkv' | 'kv';
  projections: Projection[];
}

function int64Tensor(values: readonly number[]): Tensor {
  return new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer)));
}

function widened(type: TensorType | undefined, lastDims: readonly number[]): TensorType | undefined {
  if (!type) return undefined;
  return { dtype: type.dtype, shape: type.shape && [...type.shape.slice(0, -1), ...lastDims] };
}

/** The attention sites: MultiHeadAttention nodes with separate q, k, v, and unfused Softmax attentions. */
function findSites(graph: Graph, reasons: string[]): Site[] {
  const sites: Site[] = [];
  for (const node of graph) {
    if (!node.is('MultiHeadAttention', MICROSOFT_DOMAIN)) continue;
    const [query, key, value, ...rest] = node.inputs;
    if (!query || !key || !value) reasons.push(`${node}: its projections are already packed`);
    else if (rest.some((x) => x !== undefined)) reasons.push(`${node}: it has bias, mask or past inputs`);
    else sites.push({ where: node, query, key, value, mha: node });
  }
  for (const node of graph) {
    if (!node.is('Softmax')) continue;
    const inputs = attentionInputs(node);
    if ('reason' in inputs) reasons.push(`${node}: ${inputs.reason}`);
    else sites.push({ where: node, ...inputs });
  }
  return sites;
}

function groupOf(site: Site): Group | { reason: string } {
  const k = projectionOf(site.key, 'K');
  if ('reason' in k) return k;
  const v = projectionOf(site.value, 'V');
  if ('reason' in v) return v;
  if (k.input !== v.input) return { reason: 'K and V are projected from different tensors' };
  if (k.matmul === v.matmul) return { reason: 'K and V are one projection' };
  const q = site.query ? projectionOf(site.query, 'Q') : { reason: 'no Q projection' };
  const self = !('reason' in q) && q.input === k.input && q.matmul !== k.matmul && q.matmul !== v.matmul;
  const projections = self ? [q as Projection, k, v] : [k, v];
  const w = projections[0]!.weight;
  if (projections.some((p) => p.weight.dtype !== w.dtype || p.weight.dims[0] !== w.dims[0])) {
    return { reason: 'the projection weights differ in type or input size' };
  }
  const biased = projections.filter((p) => p.bias).length;
  if (biased && biased !== projections.length) return { reason: 'only some of the projections have a bias' };
  return { site, kind: self ? 'qkv' : 'kv', projections };
}

/** Whether the packed MultiHeadAttention form applies: the heads divide evenly and nothing else reads the projections. */
function canPack(group: Group, heads: number | undefined): heads is number {
  const mha = group.site.mha;
  if (!mha || !heads) return false;
  const width = group.projections[0]!.weight.dims[1]!;
  return (
    group.projections.every((p) => p.weight.dims[1] === width && p.output.useCount === 1 && !p.output.isGraphOutput) &&
    width % heads === 0 &&
    (group.projections[0]!.input.rank ?? 3) === 3
  );
}

function fusedName(group: Group): string {
  const first = group.projections[0]!.matmul.name;
  const tag = group.kind === 'qkv' ? 'to_qkv' : 'to_kv';
  return /to_[qk]\//.test(first) ? first.replace(/to_[qk]\//, `${tag}/`) : `${first}_${tag}`;
}

/** MatMul(x, packed W) (+ packed bias), inserted before the first old projection; returns the last new node. */
function fusedProjection(graph: Graph, group: Group, blocks: number, before: Node): Node {
  const name = fusedName(group);
  const { projections } = group;
  const layout = blocks > 1 ? `interleaved per head (${blocks} heads)` : 'concatenated';
  const weightNames = projections.map((p) => p.matmul.input(1)!.name).join(', ');
  const weight = graph.addInitializer(`${name}.weight`, packColumns(projections.map((p) => p.weight), blocks, `columns of ${weightNames}, ${layout}`));
  const width = weight.initializer!.dims[1]!;
  const x = projections[0]!.input;
  let last = graph.insertBefore(
    before,
    graph.createNode({ opType: 'MatMul', name, inputs: [x, weight], types: [widened(x.type && { ...x.type, dtype: weight.dtype! }, [width])], pass: 'fuse-qkv' }),
  );
  if (projections[0]!.bias) {
    const bias = graph.addInitializer(`${name}.bias`, packColumns(projections.map((p) => p.bias!.tensor), blocks, `${layout} biases of ${name}`));
    last = graph.insertAfter(
      last,
      graph.createNode({ opType: 'Add', name: `${name}/Add`, inputs: [last.output(0), bias], types: [last.output(0).type], pass: 'fuse-qkv' }),
    );
  }
  return last;
}

function splitInto(graph: Graph, group: Group, opset: number, before: Node): void {
  const fused = fusedProjection(graph, group, 1, before);
  const sizes = group.projections.map((p) => p.weight.dims[1]!);
  const name = `${fused.name}/Split`;
  const inputs: Value[] = [fused.output(0)];
  const attributes = [makeAttr('axis', -1)];
  // Split's sizes are an input from opset 13, an attribute before.
  if (opset >= 13) inputs.push(graph.addInitializer(`${name}.split`, int64Tensor(sizes)));
  else attributes.push(makeAttr('split', { ints: sizes }));
  const split = graph.insertAfter(
    fused,
    graph.createNode({ opType: 'Split', name, inputs, outputs: sizes.length, attributes, types: group.projections.map((p) => p.output.type), pass: 'fuse-qkv' }),
  );
  group.projections.forEach((p, i) => graph.replaceAllUsesWith(p.output, split.output(i), { graphOutputs: true }));
}

function packInto(graph: Graph, group: Group, heads: number, before: Node): void {
  const mha = group.site.mha!;
  const fused = fusedProjection(graph, group, heads, before);
  const parts = group.projections.length;
  const headSize = group.projections[0]!.weight.dims[1]! / heads;
  const name = `${fused.name}/Reshape`;
  const shape = graph.addInitializer(`${name}.shape`, int64Tensor([0, 0, heads, parts, headSize]));
  const packed = graph.insertAfter(
    fused,
    graph.createNode({ opType: 'Reshape', name, inputs: [fused.output(0), shape], types: [widened(fused.output(0).type, [heads, parts, headSize])], pass: 'fuse-qkv' }),
  );
  mha.setInputs(group.kind === 'qkv' ? [packed.output(0)] : [mha.input(0), packed.output(0)]);
}

export const fuseQkv = definePass<FuseQkvParams>({
  name: 'fuse-qkv',
  description: 'Fuses the Q/K/V (or cross-attention K/V) projections of each attention into one MatMul on concatenated weights.',
  params: {
    packed: {
      type: 'boolean',
      description: "Feed MultiHeadAttention's packed QKV / packed KV inputs (weights interleaved per head) instead of splitting the fused result; CUDA only",
      default: true,
    },
  },
  after: ['fuse-attention'],
  run(ctx, params) {
    const { graph, model } = ctx;
    const reasons: string[] = [];
    const sites = findSites(graph, reasons);
    if (!sites.length) return unchanged('no attention whose projections could fuse', reasons.length ? reasons : ['the graph has no attention']);
    const position = new Map(graph.nodes().map((n, i) => [n, i]));
    const claimed = new Set<Node>();
    const counts = { attention: sites.length, qkv: 0, kv: 0, packed: 0, split: 0, skipped: 0 };
    const pack = params.packed && ctx.target === 'cuda';
    if (params.packed && !pack) ctx.log(`packed MultiHeadAttention inputs need CUDA; splitting instead for target '${ctx.target}'`);
    sites.forEach((site, i) => {
      ctx.progress(i, sites.length, 'attention');
      const group = groupOf(site);
      if ('reason' in group || group.projections.some((p) => claimed.has(p.matmul))) {
        counts.skipped++;
        reasons.push(`${site.where}: ${'reason' in group ? group.reason : 'a projection is shared with another attention'}`);
        return;
      }
      group.projections.forEach((p) => claimed.add(p.matmul));
      const first = group.projections.map((p) => p.matmul).sort((a, b) => position.get(a)! - position.get(b)!)[0]!;
      const heads = site.mha?.attrInt('num_heads');
      if (pack && canPack(group, heads)) {
        packInto(graph, group, heads, first);
        counts.packed++;
      } else {
        splitInto(graph, group, model.opset, first);
        counts.split++;
      }
      counts[group.kind]++;
      removeDeadFrom(graph, group.projections.flatMap((p) => (p.bias ? [p.bias.add, p.matmul] : [p.matmul])));
    });
    ctx.progress(sites.length, sites.length, 'attention');
    const fused = counts.qkv + counts.kv;
    reasons.forEach((r) => ctx.log(`not fused: ${r}`));
    if (!fused) return unchanged(`fused the projections of 0 of ${sites.length} attentions`, reasons, counts);
    return {
      changed: true,
      counts,
      summary: `fused ${counts.qkv} QKV and ${counts.kv} KV projection groups (${counts.packed} packed, ${counts.split} split) of ${sites.length} attentions`,
      reasons,
    };
  },
});
