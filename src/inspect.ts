/**
 * `sdxl-opt inspect`: what a model is. Pure: a Model in, a report out; it reads no file and no weight bytes (a
 * model whose external data is absent inspects the same), and it leaves the model's types as they were. The one
 * part that reads weights, the count of NaN and ±Infinity in them, is separate (inspect/non-finite.ts) and joins
 * the report as `nonFiniteWeights`.
 */
import { analyzeTypes } from './ir/infer/index.js';
import { nodesInOrder } from './ir/infer/engine.js';
import type { Model } from './ir/model.js';
import type { Node } from './ir/node.js';
import type { Dim, Value } from './ir/value.js';
import { dataTypeName } from './onnx/dtype.js';
import { findAttention, type AttentionBlock } from './inspect/attention.js';
import { countFlops, type FlopCount } from './inspect/flops.js';
import type { NonFiniteWeights } from './inspect/non-finite.js';
import { constantValues, summarizeParameters, tallyWeightShapes, type ParameterSummary, type WeightShapes } from './inspect/weights.js';

export interface InspectOptions {
  /** Sizes for symbolic input dims (batch, height, width, sequence); FLOPs need every dim they touch. */
  dims?: Readonly<Record<string, number>>;
}

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: Dim[] | null;
}

export interface InspectReport {
  irVersion: number;
  /** Domain ('ai.onnx' for the default one) → version. */
  opsets: Record<string, number>;
  producer: string;
  graphName: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  nodeCount: number;
  /** 'Conv', 'com.microsoft.GroupNorm' → count, most frequent first. */
  opTypes: Record<string, number>;
  parameters: ParameterSummary;
  weightShapes: WeightShapes;
  attention: { self: number; cross: number; multiHeadAttention: number; blocks: AttentionBlock[] };
  /** The dims FLOPs were counted at. */
  dims: Record<string, number>;
  /** Input dims still symbolic (not given in `dims`). */
  symbolicDims: string[];
  /** Names given in `dims` that no input has. */
  ignoredDims: string[];
  flops: FlopCount;
  inference: { values: number; complete: number; unknownOps: Record<string, number>; issues: string[] };
  /** NaN and ±Infinity in the weights, by tensor; absent when the weights were not read. */
  nonFiniteWeights?: NonFiniteWeights;
}

function opName(node: Node): string {
  return node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
}

export function inspectModel(model: Model, options: InspectOptions = {}): InspectReport {
  const graph = model.graph;
  const dims = { ...(options.dims ?? {}) };
  const { report: inference, typeOf } = analyzeTypes(graph, { dims });
  const order = nodesInOrder(graph);
  const constant = constantValues(graph, order);

  const opTypes = new Map<string, number>();
  for (const node of order) opTypes.set(opName(node), (opTypes.get(opName(node)) ?? 0) + 1);

  const blocks = findAttention(order, typeOf, constant);
  const attentionNodes = new Set<Node>(blocks.flatMap((b) => b.matmuls ?? []));
  for (const node of order) if (node.is('MultiHeadAttention', 'com.microsoft')) attentionNodes.add(node);
  const flops = countFlops(order, typeOf, (node) => {
    if (attentionNodes.has(node)) return 'attention';
    const w = node.input(1);
    return node.is('Conv') || node.is('NhwcConv', 'com.microsoft') || (w && constant.has(w)) ? 'weights' : 'other';
  });

  const summary = (v: Value): TensorSummary => {
    const t = typeOf(v);
    return { name: v.name, dtype: t ? dataTypeName(t.dtype) : 'unknown', shape: t?.shape ?? null };
  };
  const realInputs = graph.inputs.filter((v) => !v.initializer);
  const inputDimNames = new Set(realInputs.flatMap((v) => (v.type?.shape ?? []).filter((d): d is string => typeof d === 'string')));
  const symbolicDims = [...new Set(realInputs.flatMap((v) => (typeOf(v)?.shape ?? []).filter((d): d is string => typeof d === 'string')))];

  return {
    irVersion: model.irVersion,
    opsets: Object.fromEntries([...model.opsets].map(([domain, version]) => [domain || 'ai.onnx', version])),
    producer: model.producer,
    graphName: graph.name,
    inputs: realInputs.map(summary),
    outputs: graph.outputs.map(summary),
    nodeCount: graph.nodeCount,
    opTypes: Object.fromEntries([...opTypes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    parameters: summarizeParameters(graph),
    weightShapes: tallyWeightShapes(order, typeOf, constant),
    attention: {
      self: blocks.filter((b) => b.kind === 'self').length,
      cross: blocks.filter((b) => b.kind === 'cross').length,
      multiHeadAttention: blocks.filter((b) => b.form === 'MultiHeadAttention').length,
      blocks: blocks.map(({ matmuls: _, ...rest }) => rest),
    },
    dims,
    symbolicDims,
    ignoredDims: Object.keys(dims).filter((name) => !inputDimNames.has(name)),
    flops,
    inference: {
      values: inference.valueCount,
      complete: inference.complete,
      unknownOps: inference.unknownOps,
      issues: inference.issues.map((i) => `${i.node}: ${i.message}`),
    },
  };
}
