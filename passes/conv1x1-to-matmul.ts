/**
 * conv1x1-to-matmul: a 1×1 convolution is a matrix product over channels; as a MatMul it runs through the GEMM
 * kernels instead of the convolution ones.
 *
 * Rules:
 * 1. A Conv (or com.microsoft.NhwcConv) qualifies when its weight is a constant [M, C, 1, 1] (NhwcConv: [M, 1, 1, C]),
 *    strides and dilations are 1, pads 0 and group 1. With `channels` given, only convs whose input and output
 *    channel counts are both in the list convert (`match: either`: one of them; the SDXL VAE's 1×1 convs are
 *    4 → 4, 512 → 256 and 256 → 128, so `[128]` picks the full-resolution shortcut only with `either`); empty: all.
 * 2. NCHW Conv: Reshape x to (N, C, H·W), MatMul W[M, C] · x → (N, M, H·W), Add bias (M, 1), Reshape to
 *    (N, M, H, W): no Transpose, and the weight keeps its bytes (only its dims change). The last Reshape's shape is a
 *    constant when H and W are known (fixed dims), else computed from Shape(x).
 * 3. NhwcConv (after channels-last): MatMul x (N, H, W, C) · Wᵀ[C, M], Add bias (M): no reshaping at all; Wᵀ is
 *    transposed when the model is written. Run channels-last first, then this pass, to get this form.
 * 4. Weights are never read while rewriting.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import { makeAttr } from '../src/ir/attributes.js';
import type { Graph } from '../src/ir/graph.js';
import { inferTypes } from '../src/ir/infer/index.js';
import type { Node } from '../src/ir/node.js';
import { InlineData, Tensor } from '../src/ir/tensor.js';
import type { TensorType, Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import type { AttributeProto } from '../src/onnx/types.js';
import { constantSource, removeDeadFeeders } from './lib/constant-source.js';
import { permuteTensor } from './lib/permute-tensor.js';

export interface Conv1x1ToMatMulParams {
  channels: number[];
  match: 'both' | 'either';
}

const PASS = 'conv1x1-to-matmul';

export const conv1x1ToMatMul = definePass<Conv1x1ToMatMulParams>({
  name: PASS,
  description: 'Turns 1×1 stride-1 convolutions (Conv or NhwcConv) into MatMul + Add, with reshapes (NCHW) or nothing (NHWC) around them.',
  params: {
    channels: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      description: 'Convert only convs whose channel counts are in this list (see match); empty: all 1×1 convs.',
      default: [],
    },
    match: {
      type: 'string',
      enum: ['both', 'either'],
      description: "With channels: 'both' needs the input and the output count in the list, 'either' one of them.",
      default: 'both',
    },
  },
  run(ctx, params) {
    const graph = ctx.graph;
    inferTypes(graph, { dims: ctx.dims });
    const allowed = new Set(params.channels);
    const refusals = new Map<string, number>();
    const matrices = new Map<Value, Value>();
    let converted = 0;
    let filtered = 0;
    for (const node of graph.nodes()) {
      const channelsLast = node.is('NhwcConv', 'com.microsoft');
      if (node.graph !== graph || !(node.is('Conv') || channelsLast)) continue;
      const conv = pointwiseConv(node, channelsLast);
      if ('reason' in conv) {
        refusals.set(conv.reason, (refusals.get(conv.reason) ?? 0) + 1);
        continue;
      }
      const listed = [allowed.has(conv.inChannels), allowed.has(conv.outChannels)];
      if (allowed.size && !(params.match === 'both' ? listed.every(Boolean) : listed.some(Boolean))) {
        filtered++;
        continue;
      }
      if (channelsLast) replaceNhwc(graph, node, conv, matrices);
      else replaceNchw(graph, node, conv, matrices, ctx.model.opset);
      converted++;
    }
    const reasons = [...refusals].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${n}× ${why}`);
    if (filtered) reasons.unshift(`${filtered} 1×1 convs have channels outside [${params.channels.join(', ')}]`);
    const counts = { converted, filtered_out: filtered };
    if (!converted) return unchanged('no 1×1 convolution converted', reasons.length ? reasons : ['the graph has no Conv'], counts);
    return { changed: true, counts, summary: `${converted} 1×1 convolutions became MatMul`, reasons };
  },
});

interface PointwiseConv {
  weight: { value: Value; tensor: Tensor };
  bias: Value | undefined;
  inChannels: number;
  outChannels: number;
}

/** The conv's weight and channel counts when it is a plain 1×1 convolution, or why not. */
function pointwiseConv(node: Node, channelsLast: boolean): PointwiseConv | { reason: string } {
  const weight = constantSource(node.input(1));
  if (!weight || weight.value !== node.input(1) || weight.tensor.dims.length !== 4) return { reason: 'weight is not a constant 4-D initializer' };
  const dims = weight.tensor.dims;
  const kernel = channelsLast ? dims.slice(1, 3) : dims.slice(2);
  if (kernel.some((k) => k !== 1) || (node.attrInts('kernel_shape') ?? [1, 1]).some((k) => k !== 1)) return { reason: `kernel is ${kernel.join('×')}` };
  if ((node.attrInts('strides') ?? []).some((s) => s !== 1)) return { reason: `stride ${node.attrInts('strides')!.join('×')}` };
  if ((node.attrInts('dilations') ?? []).some((d) => d !== 1)) return { reason: 'dilated' };
  if ((node.attrInts('pads') ?? []).some((p) => p !== 0)) return { reason: 'padded' };
  if (node.attrInt('group', 1) !== 1) return { reason: 'grouped' };
  const bias = node.input(2);
  if (bias && !constantSource(bias)) return { reason: 'bias is not constant' };
  return { weight, bias, outChannels: dims[0]!, inChannels: channelsLast ? dims[3]! : dims[1]! };
}

/** x (N, C, H, W) → Reshape (N, C, H·W) → W[M, C] · x → + bias (M, 1) → Reshape (N, M, H, W). */
function replaceNchw(graph: Graph, node: Node, conv: PointwiseConv, matrices: Map<Value, Value>, opset: number): void {
  const x = node.input(0)!;
  const y = node.output();
  const { inChannels: c, outChannels: m } = conv;
  const flatType = (channels: number): TensorType | undefined => y.dtype !== undefined ? { dtype: y.dtype, shape: [x.shape?.[0], channels, undefined] } : undefined;
  const at = (opType: string, inputs: (Value | undefined)[], type: TensorType | undefined, attributes: AttributeProto[] = []) => {
    const n = graph.createNode({ opType, name: `${node.name}_${opType}`, inputs, attributes, types: [type], pass: PASS });
    graph.insertBefore(node, n);
    return n.output();
  };
  const flat = at('Reshape', [x, int64s(graph, `${node.name}_flat_shape`, [0, c, -1])], flatType(c));
  const matrix = cachedInitializer(graph, matrices, conv.weight, () => conv.weight.tensor.withDims([m, c]), '_matrix');
  let product = at('MatMul', [matrix, flat], flatType(m));
  if (conv.bias) {
    const source = constantSource(conv.bias)!;
    product = at('Add', [product, graph.addInitializer(`${source.value.name}_column`, source.tensor.withDims([m, 1]))], flatType(m));
  }
  const [h, w] = [y.shape?.[2], y.shape?.[3]];
  const outShape =
    typeof h === 'number' && typeof w === 'number'
      ? int64s(graph, `${node.name}_out_shape`, [0, m, h, w])
      : at('Concat', [int64s(graph, `${node.name}_batch_channels`, [0, m]), spatialShape(graph, node, x, opset)], { dtype: DataType.INT64, shape: [4] }, [makeAttr('axis', 0)]);
  finish(graph, node, at('Reshape', [product, outShape], y.type));
}

/** x (N, H, W, C) · Wᵀ[C, M] + bias (M). */
function replaceNhwc(graph: Graph, node: Node, conv: PointwiseConv, matrices: Map<Value, Value>): void {
  const { inChannels: c, outChannels: m } = conv;
  const y = node.output();
  const matrix = cachedInitializer(graph, matrices, conv.weight, () => permuteTensor(conv.weight.tensor.withDims([m, c]), [1, 0]), '_matrix_t');
  const make = (opType: string, inputs: Value[]) => {
    const n = graph.createNode({ opType, name: `${node.name}_${opType}`, inputs, types: [y.type], pass: PASS });
    graph.insertBefore(node, n);
    return n.output();
  };
  let out = make('MatMul', [node.input(0)!, matrix]);
  if (conv.bias) out = make('Add', [out, conv.bias]);
  finish(graph, node, out);
}

/** The (H, W) part of x's shape, as an int64 vector computed at run time. */
function spatialShape(graph: Graph, before: Node, x: Value, opset: number): Value {
  const shape = graph.createNode({
    opType: 'Shape',
    name: `${before.name}_spatial`,
    inputs: [x],
    // Shape's start/end exist from opset 15; before that, slice the full shape.
    attributes: opset >= 15 ? [makeAttr('start', 2)] : [],
    types: [{ dtype: DataType.INT64, shape: [opset >= 15 ? 2 : 4] }],
    pass: PASS,
  });
  graph.insertBefore(before, shape);
  if (opset >= 15) return shape.output();
  const slice = graph.createNode({
    opType: 'Slice',
    name: `${before.name}_spatial_slice`,
    inputs: [shape.output(), int64s(graph, `${before.name}_two`, [2]), int64s(graph, `${before.name}_four`, [4])],
    types: [{ dtype: DataType.INT64, shape: [2] }],
    pass: PASS,
  });
  graph.insertBefore(before, slice);
  return slice.output();
}

function cachedInitializer(graph: Graph, cache: Map<Value, Value>, source: { value: Value }, tensor: () => Tensor, suffix: string): Value {
  let v = cache.get(source.value);
  if (!v) {
    v = graph.addInitializer(`${source.value.name}${suffix}`, tensor());
    cache.set(source.value, v);
  }
  return v;
}

function finish(graph: Graph, node: Node, result: Value): void {
  graph.replaceAllUsesWith(node.output(), result, { graphOutputs: true });
  removeDeadFeeders(graph, [node]);
}

function int64s(graph: Graph, name: string, values: readonly number[]): Value {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return graph.addInitializer(name, new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(data.buffer))));
}
