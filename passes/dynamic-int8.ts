/**
 * dynamic-int8: dynamic int8 quantization of the layers with constant weights, the ONNX form of PyTorch's
 * `quantize_dynamic` with a shape filter.
 *
 * Rules:
 * 1. Candidates are MatMul and Gemm nodes whose weight (input 1) is a constant 2-D float32, float16 or bfloat16
 *    tensor; the layer shape (in, out) is read from it (a Gemm with transB stores it [out, in]). A Gemm with
 *    transA, alpha ≠ 1 or beta ≠ 1 is left alone and counted as unsupported.
 * 2. The filter decides which candidates are quantized. The default is the seed's: in > `min_in_features` (16) and
 *    (in, out) not in `exclude_shapes` (shapes where int8 did not pay off on the seed's GPU); a field left out keeps
 *    its default. `filter: auto` instead times each distinct (rows, in, out) shape on the target provider, the
 *    float layer against its int8 form, and quantizes the shapes where int8 is faster by `auto_margin`. Rows are
 *    batch × tokens at the recipe's dims, from shape inference; a layer whose rows are not known is not quantized.
 *    An int8 form that fails to load or run on the provider (ORT 1.29's MatMulInteger on an H100: cuBLAS answers
 *    CUBLAS_STATUS_NOT_SUPPORTED, notes/int8-kernels.md) counts as not faster: its shapes stay float and the notes
 *    say why. Timing needs ONNX Runtime, which the core does not import: the Node layer hands the pass a timer
 *    (PassContext.measure, src/engine/measure.ts; `sdxl-opt apply` builds it for the recipe's bench or validate
 *    provider).
 * 3. Weights become int8 [in, out], symmetric, one scale per output channel (scale = max|W[:, n]| / 127), computed
 *    when the writer streams them (passes/lib/int8/weights.ts). A float weight nothing else reads is removed.
 * 4. Activations are quantized at run time with a scale the graph computes. `target` (default: the recipe's
 *    target) picks the form. target 'cuda' builds it only from ops
 *    with CUDA kernels (per-tensor scale through QuantizeLinear, or per-row through Div/Round/Cast, then
 *    MatMulInteger int8 × int8 → int32 and the rescale in float32); target 'cpu' uses DynamicQuantizeLinear and
 *    MatMulIntegerToFloat, which ORT runs (fused) on the CPU only. See passes/lib/int8/subgraph.ts.
 * 5. The output keeps its name and element type. Rewritten layers are MatMulInteger/MatMulIntegerToFloat, so a
 *    second run finds nothing new.
 */
import type { ModelTimer, ModelTiming } from '../src/engine/measure.js';
import { definePass, unchanged, type PassContext, type PassResult } from '../src/engine/pass.js';
import { SdxlOptError } from '../src/errors.js';
import { inferTypes } from '../src/ir/infer/index.js';
import type { Model } from '../src/ir/model.js';
import type { Value } from '../src/ir/value.js';
import { findCandidates, shapeKey, type Candidate } from './lib/int8/candidates.js';
import { probeKey, probeModels, type ProbeShape } from './lib/int8/probe.js';
import { ConstantPool, rewriteToInt8, type ActivationScale, type Int8Form, type Int8Target, type QuantizedWeight } from './lib/int8/subgraph.js';
import { ChannelQuantizer } from './lib/int8/weights.js';

export interface ShapeFilter {
  min_in_features: number;
  exclude_shapes: number[][];
}

export interface DynamicInt8Params {
  filter: ShapeFilter | 'auto';
  /** 'auto': the recipe's target. */
  target: Int8Target | 'auto';
  activation_scale: ActivationScale;
  auto_margin: number;
  auto_iters: number;
  auto_warmup: number;
}

/** The seed's filter: layers of these (in, out) shapes stayed float. */
export const SEED_FILTER: ShapeFilter = {
  min_in_features: 16,
  exclude_shapes: [
    [1280, 640], [1920, 1280], [1920, 640], [2048, 1280], [2048, 2560], [2560, 1280], [256, 128], [2816, 1280], [320, 640],
    [512, 1536], [512, 256], [512, 512], [640, 1280], [640, 1920], [640, 320], [640, 5120], [640, 640], [960, 320], [960, 640],
  ],
};

const PASS = 'dynamic-int8';

export const dynamicInt8 = definePass<DynamicInt8Params>({
  name: PASS,
  description: 'Dynamic int8 quantization of MatMul/Gemm layers with constant weights (per-channel int8 weights, activations quantized at run time), for the CUDA or CPU provider.',
  params: {
    filter: {
      description: "Which layers to quantize: {min_in_features, exclude_shapes: [[in, out], ...]} (defaults: the seed's), or 'auto' to time each shape on the target provider.",
      oneOf: [
        { const: 'auto', description: 'time float against int8 for each distinct (rows, in, out) and keep what is faster' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            min_in_features: { type: 'integer', minimum: 0, description: 'quantize only layers with more inputs than this' },
            exclude_shapes: { type: 'array', items: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 }, description: '(in, out) shapes that stay float' },
          },
        },
      ],
      default: SEED_FILTER,
    },
    target: {
      type: 'string',
      enum: ['auto', 'cuda', 'cpu'],
      description: "The provider the int8 form must run on: 'cuda' uses only ops with CUDA kernels; 'cpu' uses ORT's dynamic-quantization ops; 'auto' is the recipe's target.",
      default: 'auto',
    },
    activation_scale: {
      type: 'string',
      enum: ['tensor', 'row'],
      description: "Activation scale (target cuda): one per tensor (QuantizeLinear, one kernel) or one per row (more accurate, Div/Round/Cast). target cpu is always per tensor.",
      default: 'tensor',
    },
    auto_margin: { type: 'number', minimum: 0, maximum: 1, description: "filter auto: int8 must be at least this fraction faster than float (0.05 = 5%).", default: 0.05 },
    auto_iters: { type: 'integer', minimum: 1, description: 'filter auto: timed runs per layer model.', default: 20 },
    auto_warmup: { type: 'integer', minimum: 0, description: 'filter auto: untimed runs per layer model first.', default: 3 },
  },
  async run(ctx, params) {
    const target = params.target === 'auto' ? ctx.target : params.target;
    const form: Int8Form = { target, activationScale: params.activation_scale, opset: ctx.model.opset };
    const inference = inferTypes(ctx.graph, { dims: ctx.dims });
    if (inference.issues.length) ctx.log(`${PASS}: shape inference reported ${inference.issues.length} issues, first: ${inference.issues[0]!.node}: ${inference.issues[0]!.message}`);
    const { candidates, unsupported } = findCandidates(ctx.graph);
    const counts: Record<string, number> = { candidates: candidates.length, quantized: 0, excluded: 0, unsupported: unsupported.length, bytes_saved: 0 };
    const why = unsupported.map((u) => u.reason);
    if (!candidates.length) {
      const reasons = tallyReasons(why);
      return unchanged('no MatMul or Gemm with a constant 2-D float weight', reasons.length ? reasons : ['no MatMul or Gemm reads a constant 2-D float weight'], counts);
    }

    const choice = params.filter === 'auto' ? await autoChoice(ctx, candidates, form, params, counts) : filterChoice(candidates, params.filter);
    const quantizers = new Map<string, { quantizer: ChannelQuantizer; weight: QuantizedWeight }>();
    const constants = new ConstantPool(ctx.graph);
    const touched = new Set<Value>();
    let done = 0;
    for (const c of candidates) {
      ctx.progress(++done, candidates.length, 'layers');
      const kept = choice.get(c);
      if (kept !== undefined) {
        counts.excluded!++;
        bump(counts, `excluded.${shapeKey(c)}`);
        why.push(kept);
        continue;
      }
      const key = `${c.weight.name}|${c.transposed}`;
      let q = quantizers.get(key);
      if (!q) {
        const quantizer = new ChannelQuantizer(c.weight.initializer!, c.transposed, c.weight.name);
        const qv = ctx.graph.addInitializer(`${c.weight.name}_int8`, quantizer.quantizedTensor());
        const scale = ctx.graph.addInitializer(`${c.weight.name}_int8_scale`, quantizer.scaleTensor());
        counts.bytes_saved! -= qv.initializer!.byteLength + scale.initializer!.byteLength;
        q = { quantizer, weight: { q: qv, scale } };
        quantizers.set(key, q);
      }
      rewriteToInt8(ctx.graph, { node: c.node, x: c.x, dtype: c.dtype, bias: c.bias, weight: q.weight }, form, constants, PASS);
      touched.add(c.weight);
      counts.quantized!++;
      bump(counts, `quantized.${shapeKey(c)}`);
    }
    for (const w of touched) {
      if (w.useCount > 0 || w.isGraphOutput || w.isGraphInput) continue;
      counts.bytes_saved! += w.initializer!.byteLength;
      ctx.graph.removeInitializer(w);
    }
    if (counts.quantized && target === 'cpu') ctx.model.requireOpset('com.microsoft', 1);
    ctx.log(`${PASS}: ${shapeTable(counts)}`);
    return result(counts, tallyReasons(why));
  },
});

/** For each candidate the filter keeps float, why; candidates not in the map are quantized. */
function filterChoice(candidates: readonly Candidate[], filter: Partial<ShapeFilter>): Map<Candidate, string> {
  const unknown = Object.keys(filter).filter((k) => k !== 'min_in_features' && k !== 'exclude_shapes');
  if (unknown.length) {
    throw new SdxlOptError('BAD_PARAM', `dynamic-int8: the filter has no field ${unknown.map((k) => `'${k}'`).join(', ')}`, {
      hint: "a filter is {min_in_features, exclude_shapes} or 'auto'",
    });
  }
  const min = filter.min_in_features ?? SEED_FILTER.min_in_features;
  const shapes = filter.exclude_shapes ?? SEED_FILTER.exclude_shapes;
  for (const s of shapes) {
    if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new SdxlOptError('BAD_PARAM', `dynamic-int8: exclude_shapes holds ${JSON.stringify(s)}, not an [in, out] pair of positive integers`, {
        hint: 'write exclude_shapes as [[1280, 640], [640, 640]]',
      });
    }
  }
  const excluded = new Set(shapes.map(([i, o]) => `${i}x${o}`));
  const choice = new Map<Candidate, string>();
  for (const c of candidates) {
    if (c.in <= min) choice.set(c, `in_features ≤ ${min} stays float`);
    else if (excluded.has(shapeKey(c))) choice.set(c, `shapes in exclude_shapes stay float`);
  }
  return choice;
}

/** filter auto: times every distinct (rows, in, out, type) once; shapes where int8 is not clearly faster stay float. */
async function autoChoice(ctx: PassContext, candidates: readonly Candidate[], form: Int8Form, params: DynamicInt8Params, counts: Record<string, number>): Promise<Map<Candidate, string>> {
  const timer = ctx.measure;
  if (!timer) {
    throw new SdxlOptError('UNSUPPORTED', 'dynamic-int8 filter: auto times each layer shape on ONNX Runtime, and this run has no timer', {
      hint: 'run it through sdxl-opt, which provides one, or give an explicit filter {min_in_features, exclude_shapes}',
    });
  }
  if (timer.provider !== form.target) {
    throw new SdxlOptError('BAD_PARAM', `dynamic-int8 targets ${form.target} but its timer runs on ${timer.provider}: the timings would not apply`, {
      hint: `set target: ${timer.provider}, or time on the ${form.target} provider`,
    });
  }
  const choice = new Map<Candidate, string>();
  const probes = new Map<string, { shape: ProbeShape; members: Candidate[] }>();
  for (const c of candidates) {
    if (c.rows === undefined) {
      choice.set(c, 'rows unknown (give the recipe dims batch, height, width, sequence): not timed, stays float');
      continue;
    }
    const shape = { rows: c.rows, in: c.in, out: c.out, dtype: c.dtype };
    const key = probeKey(shape);
    const entry = probes.get(key) ?? { shape, members: [] };
    entry.members.push(c);
    probes.set(key, entry);
  }
  const shell = { irVersion: ctx.model.irVersion, opsets: ctx.model.opsets };
  const failures = new Map<string, { layers: number; shapes: number }>();
  let done = 0;
  for (const [key, { shape, members }] of probes) {
    ctx.progress(++done, probes.size, 'shapes timed');
    const models = probeModels(shape, form, shell, PASS);
    const timed = await timePair(timer, models, params);
    if ('failed' in timed) {
      const label = `${key} (×${members.length})`;
      ctx.log(`${PASS} auto on ${timer.provider}: ${label}: ${timed.failed} → float (${timed.detail})`);
      const tally = failures.get(timed.failed) ?? { layers: 0, shapes: 0 };
      tally.layers += members.length;
      tally.shapes++;
      failures.set(timed.failed, tally);
      counts.auto_failed = (counts.auto_failed ?? 0) + members.length;
      for (const c of members) choice.set(c, `${timed.failed}: stays float`);
      continue;
    }
    const [f, q] = timed.timings;
    const fallback = Object.entries(q!.cpuComputeOps).map(([op, n]) => `${op} ×${n}`);
    const faster = q!.medianMs <= f!.medianMs * (1 - params.auto_margin) && fallback.length === 0;
    const label = `${key} (×${members.length})`;
    counts[`auto_us.${shape.rows}x${shape.in}x${shape.out}.float`] = Math.round(f!.medianMs * 1000);
    counts[`auto_us.${shape.rows}x${shape.in}x${shape.out}.int8`] = Math.round(q!.medianMs * 1000);
    const change = ((q!.medianMs / f!.medianMs - 1) * 100).toFixed(1);
    ctx.log(
      `${PASS} auto on ${timer.provider}: ${label}: float ${f!.medianMs.toFixed(3)} ms, int8 ${q!.medianMs.toFixed(3)} ms (${change}%)` +
        `${fallback.length ? `, int8 ran on the CPU: ${fallback.join(', ')}` : ''} → ${faster ? 'int8' : 'float'}`,
    );
    if (!faster) for (const c of members) choice.set(c, `int8 not ${Math.round(params.auto_margin * 100)}% faster on ${timer.provider} for its shape: stays float`);
  }
  for (const [why, { layers, shapes }] of failures) ctx.log(`${PASS}: kept ${layers} layers (${shapes} shapes) in float: ${why}`);
  return choice;
}

type PairTiming = { timings: ModelTiming[] } | { failed: string; detail: string };

/**
 * Times the float layer and its int8 form together. When that fails, the float layer alone tells whose failure it
 * was: a form that cannot load or run is not faster, and says why, rather than ending the whole apply.
 */
async function timePair(timer: ModelTimer, models: { float: Model; int8: Model }, params: DynamicInt8Params): Promise<PairTiming> {
  try {
    return { timings: await timer.time([models.float, models.int8], { iters: params.auto_iters, warmup: params.auto_warmup }) };
  } catch (e) {
    const detail = messageOf(e);
    try {
      await timer.time([models.float], { iters: 1, warmup: 0 });
    } catch (floatError) {
      return { failed: `the float layer failed on ${timer.provider} too (${failureKind(messageOf(floatError))})`, detail };
    }
    return { failed: `the int8 form failed on ${timer.provider}: ${failureKind(detail)}`, detail };
  }
}

function messageOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 400);
}

/** The part of an ORT error that names the cause (a cuBLAS or CUDA status), else its first words. */
export function failureKind(message: string): string {
  const status = /\b(CUBLAS_STATUS_\w+|CUDNN_STATUS_\w+|CUDA_ERROR_\w+|cudaError\w+)\b/.exec(message)?.[1];
  if (status) return status;
  // ORT prints cuBLAS statuses by number: "CUBLAS failure 15: the requested functionality is not supported".
  const cublas = /CUBLAS failure (\d+): ([^;]+)/.exec(message);
  if (cublas) return `cuBLAS status ${cublas[1]} (${cublas[2]!.trim()})`;
  return message.length > 120 ? `${message.slice(0, 117)}...` : message;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function tallyReasons(list: readonly string[]): string[] {
  const tally = new Map<string, number>();
  for (const r of list) tally.set(r, (tally.get(r) ?? 0) + 1);
  return [...tally].map(([r, n]) => `${n}× ${r}`);
}

/** "quantized 1280x1280 ×372, 1280x10240 ×60; excluded 640x640 ×70" */
function shapeTable(counts: Record<string, number>): string {
  const part = (prefix: string) =>
    Object.entries(counts)
      .filter(([k]) => k.startsWith(`${prefix}.`))
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k.slice(prefix.length + 1)} ×${n}`)
      .join(', ');
  return `quantized ${part('quantized') || 'none'}; excluded ${part('excluded') || 'none'}`;
}

function result(counts: Record<string, number>, reasons: string[]): PassResult {
  const { candidates, quantized, excluded } = counts;
  if (!quantized) return unchanged(`all ${candidates} candidate layers stay float`, reasons, counts);
  const mb = (counts.bytes_saved! / 2 ** 20).toFixed(1);
  return { changed: true, counts, summary: `quantized ${quantized} of ${candidates} layers to int8 (${excluded} excluded by the filter), ${mb} MiB saved`, reasons };
}
