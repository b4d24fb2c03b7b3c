/**
 * cast: runs a float32 model in bfloat16 or float16, the ONNX form of PyTorch's `.to(torch.bfloat16)` step, for the
 * execution provider it is meant for.
 *
 * Rules:
 * 1. float32 weights and compute become `to`. Weights convert lazily, chunk by chunk, when the model is written.
 *    float16 rounds to nearest even, into its subnormals, and clamps finite values past ±65504; bfloat16 rounds to
 *    nearest even. Every tensor with clamped or flushed-to-zero values is reported (counts and log), counted as the
 *    writer converts it: the report is completed once the model is written.
 * 2. An operator runs in `to` only where its ONNX schema accepts `to` at the model's opset and ONNX Runtime has a
 *    kernel for it on the target (src/ort/kernels.ts); otherwise it runs in float16 (bfloat16 models) or float32,
 *    behind Casts. Nothing is left to fall back to the CPU silently, and no dtype is emitted that ONNX rejects.
 * 3. What stays float32: blocked nodes and op types (`block_ops`, `block_nodes`, `keep_fp32`), the timestep
 *    embedding's Sin/Cos and their argument (`keep_sin_cos_fp32`), arithmetic on constants and shapes only, and inputs
 *    that kernels need in float32 (Resize scales, GroupNorm gamma/beta). Integer shape computations are untouched.
 * 4. `overflow: auto` runs the float32 model once on ONNX Runtime's CPU provider and keeps every node that makes or
 *    reads an activation larger than `overflow_threshold` out of float16 (the SDXL VAE decoder's NaNs in float16).
 * 5. With `keep_io_types`, graph inputs and outputs stay float32, with Casts at the boundary; without, they become
 *    float16 (also in bfloat16 models: ONNX Runtime's JavaScript API has no bfloat16 tensors).
 * 6. Casts go only where a value's type differs from what its reader needs; pairs of this pass's own Casts that undo
 *    each other are removed (the model's own Cast pairs are its arithmetic and stay). Running the pass twice changes
 *    nothing the second time.
 */
import { definePass, unchanged, type LateReport, type PassResult } from '../src/engine/pass.js';
import { SdxlOptError, isSdxlOptError } from '../src/errors.js';
import { inferTypes } from '../src/ir/infer/index.js';
import type { Graph } from '../src/ir/graph.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { precisionProblems } from '../src/precision/consistency.js';
import { NarrowedData, narrowingOf } from '../src/precision/convert-tensor.js';
import { dimsInModelNames } from '../src/runtime/dims.js';
import { DEFAULT_OVERFLOW_THRESHOLD, probeOverflow } from '../src/precision/overflow-probe.js';
import { planPrecision, type Reason } from '../src/precision/plan.js';
import { applyPlan, typeSuffix, type ConvertedWeight } from '../src/precision/rewrite.js';

export interface CastParams {
  to: 'float16' | 'bfloat16';
  keep_io_types: boolean;
  block_ops: string[];
  block_nodes: string[];
  keep_fp32: string[];
  target: 'auto' | 'cuda' | 'cpu';
  keep_sin_cos_fp32: boolean;
  overflow: 'off' | 'auto';
  overflow_threshold: number;
  overflow_provider: 'cpu' | 'cuda';
  overflow_dims: string[];
  scan_weights: boolean;
}

/** How many per-tensor lines the log gets before it summarizes. */
const MAX_TENSOR_LINES = 40;

export const cast = definePass<CastParams>({
  name: 'cast',
  description: 'Runs float32 weights and compute in bfloat16 or float16, keeping in float32 (or float16) what the target has no kernel for or what would overflow.',
  params: {
    to: { type: 'string', enum: ['float16', 'bfloat16'], description: 'The float type to run in.', default: 'float16' },
    keep_io_types: { type: 'boolean', description: 'Graph inputs and outputs stay float32, with Casts at the boundary.', default: true },
    block_ops: { type: 'array', items: { type: 'string' }, description: 'Op types that stay float32 (Resize, com.microsoft.GroupNorm...).', default: [] },
    block_nodes: { type: 'array', items: { type: 'string' }, description: 'Node names that stay float32.', default: [] },
    keep_fp32: {
      type: 'array',
      items: { type: 'string' },
      description: 'Node names or op types that stay float32 (for values known to overflow float16).',
      default: [],
    },
    target: {
      type: 'string',
      enum: ['auto', 'cuda', 'cpu'],
      description: "The execution provider whose kernels decide what runs in which type; 'auto' is the recipe's target.",
      default: 'auto',
    },
    keep_sin_cos_fp32: {
      type: 'boolean',
      description: 'Sin/Cos and the arithmetic computing their argument (the timestep embedding) stay float32.',
      default: true,
    },
    overflow: {
      type: 'string',
      enum: ['off', 'auto'],
      description: "'auto': run the float32 model once on ONNX Runtime (overflow_provider) and keep nodes with activations past overflow_threshold out of float16.",
      default: 'off',
    },
    overflow_threshold: {
      type: 'number',
      minimum: 1,
      maximum: 65504,
      description: 'Largest activation magnitude float16 is trusted with (default a quarter of 65504).',
      default: DEFAULT_OVERFLOW_THRESHOLD,
    },
    overflow_provider: {
      type: 'string',
      enum: ['cpu', 'cuda'],
      description: "Where the probe runs the float32 model: 'cuda' lets it run after CUDA-only rewrites (channels-last's NhwcConv and GroupNorm have no CPU kernel).",
      default: 'cpu',
    },
    overflow_dims: {
      type: 'array',
      items: { type: 'string' },
      description: "Sizes for the probe run, as name=size ('h=32'); unnamed symbolic dims take the recipe's dims, else 1 for batch and 32.",
      default: [],
    },
    scan_weights: {
      type: 'boolean',
      description: 'Count, weight by weight, values that clamp or flush to zero, as the writer converts them (no read of its own).',
      default: true,
    },
  },
  async run(ctx, params): Promise<PassResult> {
    const to = params.to === 'bfloat16' ? DataType.BFLOAT16 : params.to === 'float16' ? DataType.FLOAT16 : undefined;
    if (to === undefined) throw new SdxlOptError('BAD_PARAM', `cast: 'to' must be float16 or bfloat16, got '${String(params.to)}'`);
    const provider = params.target === 'auto' ? ctx.target : params.target;
    const graph = ctx.graph;
    inferTypes(graph, { dims: ctx.dims });

    let overflowing = new Set<Value>();
    if (params.overflow === 'auto') {
      // overflow_dims may use the recipe's names (height=64) for the model's own (h, height_latent).
      const names = graph.inputs.flatMap((v) => (v.shape ?? []).filter((d): d is string => typeof d === 'string'));
      const dims = { ...ctx.dims, ...dimsInModelNames(parseDims(params.overflow_dims), names) };
      const probe = await probeOverflow(ctx.model, {
        threshold: params.overflow_threshold,
        dims,
        defaultDim: (name) => (/batch/i.test(name) ? 1 : 32),
        provider: params.overflow_provider,
      });
      overflowing = probe.overflowing;
      ctx.log(`overflow probe on ${params.overflow_provider}: ${probe.probed} float32 values at ${JSON.stringify(dims)}, ${overflowing.size} above ${params.overflow_threshold}`);
      for (const v of [...overflowing].slice(0, MAX_TENSOR_LINES)) ctx.log(`  ${v.name}: max |x| = ${probe.maxAbs.get(v)} (${v.producer ?? 'graph input'})`);
    }

    const blockedOps = new Set([...params.block_ops, ...params.keep_fp32]);
    const blockedNames = new Set([...params.block_nodes, ...params.keep_fp32]);
    const opName = (n: Node) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType);
    const plan = planPrecision(graph, {
      to,
      provider,
      opset: (domain) => (domain === '' ? ctx.model.opset : (ctx.model.opsets.get(domain) ?? 1)),
      keepIoTypes: params.keep_io_types,
      blocked: (n) => (blockedNames.has(n.name) ? 'name' : blockedOps.has(opName(n)) || blockedOps.has(n.opType) ? 'op' : undefined),
      overflowing,
      keepSinCosFp32: params.keep_sin_cos_fp32,
    });

    const reasons = countReasons(plan.nodes.values());
    for (const entry of unmatchedBlockEntries(graph, params, opName)) ctx.log(`'${entry}' (block_ops, block_nodes or keep_fp32) matches no node name or op type`);
    const problemsBefore = new Set(precisionProblems(graph));
    const rewrite = applyPlan(graph, plan);
    const introduced = precisionProblems(graph).filter((p) => !problemsBefore.has(p));
    if (introduced.length) {
      throw new SdxlOptError('PASS_FAILED', `cast left nodes whose float inputs disagree: ${introduced.slice(0, 5).join('; ')}`, {
        hint: 'this is a bug in the cast pass; block the ops named here (block_ops) to work around it',
      });
    }
    const changed = rewrite.valuesRetyped + rewrite.castsRetargeted + rewrite.castsAdded + rewrite.castsCancelled + rewrite.weights.length + rewrite.constantsConverted > 0;
    if (!changed) {
      return unchanged(`nothing in float32 to run in ${params.to}`, whyUnchanged(graph, plan.nodes.size), {
        ...dtypeCounts(graph),
        ...reasons,
      });
    }

    const counts: Record<string, number> = {
      ...dtypeCounts(graph),
      casts_added: rewrite.castsAdded,
      casts_cancelled: rewrite.castsCancelled,
      casts_retargeted: rewrite.castsRetargeted,
      weights_converted: rewrite.weights.length,
      weight_copies: rewrite.weightCopies,
      constants_converted: rewrite.constantsConverted,
      overflow_values: overflowing.size,
      ...reasons,
    };
    for (const [key, says] of Object.values(REASON_KEYS)) if (reasons[key]) ctx.log(`${reasons[key]} nodes ${says}`);
    const spread =
      to === DataType.BFLOAT16
        ? `${counts.nodes_bf16} nodes in bfloat16, ${counts.nodes_fp16} in float16, ${counts.nodes_fp32} in float32`
        : `${counts.nodes_fp16} nodes in float16, ${counts.nodes_fp32} in float32`;
    return {
      changed: true,
      counts,
      summary: `${spread} for ${provider}; ${rewrite.weights.length} weights converted, ${rewrite.castsAdded} Casts added`,
      ...(params.scan_weights ? { afterWrite: () => narrowingReport(rewrite.weights) } : {}),
    };
  },
});

function unmatchedBlockEntries(graph: Graph, params: CastParams, opName: (n: Node) => string): string[] {
  const names = new Set<string>();
  const ops = new Set<string>();
  for (const n of graph) {
    names.add(n.name);
    ops.add(n.opType);
    ops.add(opName(n));
  }
  return [
    ...params.block_ops.filter((e) => !ops.has(e)),
    ...params.block_nodes.filter((e) => !names.has(e)),
    ...params.keep_fp32.filter((e) => !ops.has(e) && !names.has(e)),
  ];
}

function parseDims(entries: readonly string[]): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const e of entries) {
    const m = /^\s*([A-Za-z_][\w.]*)\s*=\s*(\d+)\s*$/.exec(e);
    if (!m || Number(m[2]) < 1) {
      throw new SdxlOptError('BAD_PARAM', `cast: overflow_dims entry '${e}' is not name=size`, { hint: "write sizes like 'h=32' or 'batch=1'" });
    }
    dims[m[1]!] = Number(m[2]);
  }
  return dims;
}

/** Count keys for the plan's reasons, and how the log says them. */
const REASON_KEYS: Record<Reason, [key: string, says: string]> = {
  preferred: ['nodes_as_requested', 'run in the requested type'],
  fallback: ['nodes_fp16_fallback', 'run in float16: no bfloat16 kernel or schema at this opset'],
  no_kernel: ['nodes_fp32_no_kernel', 'stay float32: no narrow kernel on the target'],
  blocked: ['nodes_fp32_blocked', 'stay float32: blocked by the params'],
  overflow: ['nodes_kept_from_fp16_overflow', 'kept out of float16: their activations overflow it'],
  sin_cos: ['nodes_fp32_sin_cos', 'stay float32: Sin/Cos and their argument'],
  static: ['nodes_fp32_static', 'stay float32: arithmetic on constants and shapes only'],
  follows: ['nodes_follow_input', 'move data in the type it arrives in'],
};

function countReasons(plans: Iterable<{ reason: Reason }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key] of Object.values(REASON_KEYS)) counts[key] = 0;
  for (const p of plans) counts[REASON_KEYS[p.reason][0]]!++;
  return counts;
}

/** Nodes and weight bytes per float type, over the whole graph after the pass. Casts and Constants are not counted. */
export function dtypeCounts(graph: Graph): Record<string, number> {
  const counts: Record<string, number> = { nodes_fp32: 0, nodes_fp16: 0, nodes_bf16: 0, bytes_fp32: 0, bytes_fp16: 0, bytes_bf16: 0 };
  for (const node of graph) {
    if (node.is('Cast') || node.is('Constant')) continue;
    const t = node.outputs.map((o) => o.type?.dtype).find((d) => d === DataType.FLOAT || d === DataType.FLOAT16 || d === DataType.BFLOAT16);
    if (t !== undefined) counts[`nodes_${typeSuffix(t)}`]!++;
  }
  for (const v of graph.initializers()) {
    const t = v.initializer!.dtype;
    if (t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.BFLOAT16) counts[`bytes_${typeSuffix(t)}`]! += v.initializer!.byteLength;
  }
  return counts;
}

function whyUnchanged(graph: Graph, planned: number): string[] {
  const floats = graph.nodes().some((n) => n.outputs.some((o) => o.type?.dtype === DataType.FLOAT));
  if (!floats && !graph.initializers().some((v) => v.initializer!.dtype === DataType.FLOAT)) return ['the graph has no float32 values'];
  return [`${planned} nodes with float32 data all stay float32 (blocked, shape arithmetic, Sin/Cos, or no narrow kernel)`];
}

/**
 * What narrowing clamped and flushed, weight by weight. The writer converts each weight once and its data counts as
 * it goes; a weight the writer did not read through (no write yet, or a later pass dropped it) is read here.
 */
async function narrowingReport(weights: readonly ConvertedWeight[]): Promise<LateReport> {
  const totals = { weights_clamped: 0, weights_flushed: 0, tensors_clamped: 0, tensors_flushed: 0, weights_unscanned: 0, weights_scanned_again: 0 };
  const lines: string[] = [];
  for (const w of weights) {
    let stats = w.tensor.data instanceof NarrowedData ? w.tensor.data.narrowing : undefined;
    if (!stats) {
      try {
        stats = await narrowingOf(w.source, w.to);
        totals.weights_scanned_again++;
      } catch (e) {
        // A weight whose data file is missing cannot be read now (nor written): count it, say so once.
        if (!isSdxlOptError(e) || e.code !== 'EXTERNAL_DATA') throw e;
        totals.weights_unscanned++;
        continue;
      }
    }
    totals.weights_clamped += stats.clamped;
    totals.weights_flushed += stats.flushed;
    if (stats.clamped) totals.tensors_clamped++;
    if (stats.flushed) totals.tensors_flushed++;
    if (stats.clamped || stats.flushed) lines.push(`  ${w.name} → ${typeSuffix(w.to)}: ${stats.clamped} clamped, ${stats.flushed} flushed to zero`);
  }
  const log: string[] = [];
  if (lines.length) {
    log.push(`${lines.length} weights lose values in narrowing (clamped to the largest finite value, or flushed to zero):`);
    log.push(...lines.slice(0, MAX_TENSOR_LINES));
    if (lines.length > MAX_TENSOR_LINES) log.push(`  ... and ${lines.length - MAX_TENSOR_LINES} more`);
  }
  if (totals.weights_unscanned) log.push(`${totals.weights_unscanned} weights not scanned: their external data is missing`);
  const lost = [
    totals.weights_clamped && `${totals.weights_clamped} weight values clamped in ${plural(totals.tensors_clamped, 'tensor')}`,
    totals.weights_flushed && `${totals.weights_flushed} weight values flushed to zero in ${plural(totals.tensors_flushed, 'tensor')}`,
  ].filter(Boolean);
  return { counts: totals, log, ...(lost.length ? { summary: `; ${lost.join(', ')}` } : {}) };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
