/**
 * For parity tests on ONNX Runtime CPU, which has no kernel for com.microsoft.NhwcConv or GroupNorm: rewrites them
 * back into standard ONNX with the layout made explicit.
 *
 *   NhwcConv(x, W[M, kH, kW, C], B)  →  Transpose [0, 2, 3, 1] (Conv(Transpose [0, 3, 1, 2] (x), W[M, C, kH, kW], B))
 *   GroupNorm(x, γ, β), channels_last  →  Transpose back (Add(Mul(Reshape(InstanceNormalization(Reshape(
 *                                          Transpose(x), [0, G, -1]), 1, 0, ε), Shape), γ), β) [→ SiLU])
 *   SkipGroupNorm(x, γ, β, skip, bias)   →  S = x + skip (an (N, C) skip unsqueezed to (N, 1, 1, C)) [+ bias];
 *                                          Y = the GroupNorm lowering of S
 *
 * The weight is permuted back here with its own loop, not with the passes' permute helper, so that a mistake there
 * cannot cancel itself out. Running the lowered model proves the weight layouts, the attributes and the layout
 * propagation around the contrib ops, exactly as the CUDA kernels would read them.
 */
import { makeAttr } from '../../src/ir/attributes.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';

export async function lowerContribOps(model: Model): Promise<{ nhwcConvs: number; groupNorms: number }> {
  const graph = model.graph;
  const counts = { nhwcConvs: 0, groupNorms: 0 };
  for (const node of graph.nodes()) {
    if (node.is('NhwcConv', 'com.microsoft')) {
      await lowerNhwcConv(graph, node);
      counts.nhwcConvs++;
    } else if (node.is('GroupNorm', 'com.microsoft')) {
      lowerGroupNorm(graph, node);
      counts.groupNorms++;
    } else if (node.is('SkipGroupNorm', 'com.microsoft')) {
      lowerSkipGroupNorm(graph, node);
      counts.groupNorms++;
    }
  }
  return counts;
}

async function lowerNhwcConv(graph: Graph, node: Node): Promise<void> {
  const w = node.input(1)!;
  const t = w.initializer;
  if (!t || t.dtype !== DataType.FLOAT || t.dims.length !== 4) throw new Error(`${node}: test lowering handles float32 4-D constant weights only`);
  const [m, kh, kw, c] = t.dims as [number, number, number, number];
  const ohwi = new Float32Array(Uint8Array.from(await t.bytes()).buffer);
  const oihw = new Float32Array(ohwi.length);
  for (let o = 0; o < m; o++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < c; i++) oihw[((o * c + i) * kh + y) * kw + x] = ohwi[((o * kh + y) * kw + x) * c + i]!;
  const weight = graph.addInitializer(`${w.name}_oihw`, new Tensor(DataType.FLOAT, [m, c, kh, kw], new InlineData(new Uint8Array(oihw.buffer))));
  const nchw = add(graph, node, 'Transpose', [node.input(0)!], [makeAttr('perm', [0, 3, 1, 2])]);
  const conv = add(graph, node, 'Conv', [nchw, weight, node.input(2)], node.attributes);
  finish(graph, node, add(graph, node, 'Transpose', [conv], [makeAttr('perm', [0, 2, 3, 1])]));
}

function lowerGroupNorm(graph: Graph, node: Node): void {
  if (node.attrInt('channels_last', 1) !== 1) throw new Error(`${node}: test lowering expects channels_last=1`);
  const groups = node.attrInt('groups')!;
  const [gamma, beta] = [node.input(1)!.initializer!, node.input(2)!.initializer!];
  const channels = gamma.elementCount;
  const x = add(graph, node, 'Transpose', [node.input(0)!], [makeAttr('perm', [0, 3, 1, 2])]);
  const grouped = add(graph, node, 'Reshape', [x, ints(graph, [0, groups, -1])]);
  const normalized = add(graph, node, 'InstanceNormalization', [grouped, floats(graph, new Array(groups).fill(1)), floats(graph, new Array(groups).fill(0))], [
    makeAttr('epsilon', node.attrFloat('epsilon', 1e-5), 'float'),
  ]);
  const restored = add(graph, node, 'Reshape', [normalized, add(graph, node, 'Shape', [x])]);
  const scaled = add(graph, node, 'Mul', [restored, graph.addInitializer('gamma_c11', gamma.withDims([channels, 1, 1]))]);
  let y = add(graph, node, 'Add', [scaled, graph.addInitializer('beta_c11', beta.withDims([channels, 1, 1]))]);
  if (node.attrInt('activation', 0) === 1) y = add(graph, node, 'Mul', [y, add(graph, node, 'Sigmoid', [y])]);
  finish(graph, node, add(graph, node, 'Transpose', [y], [makeAttr('perm', [0, 2, 3, 1])]));
}

function lowerSkipGroupNorm(graph: Graph, node: Node): void {
  let skip = node.input(3)!;
  if (skip.type?.shape?.length === 2) skip = add(graph, node, 'Unsqueeze', [skip, ints(graph, [1, 2])]);
  let sum = add(graph, node, 'Add', [node.input(0)!, skip]);
  if (node.input(4)) sum = add(graph, node, 'Add', [sum, node.input(4)!]);
  const groupNorm = graph.createNode({ opType: 'GroupNorm', domain: 'com.microsoft', name: `${node.name}_lowered_GroupNorm`, inputs: [sum, node.input(1), node.input(2)], attributes: node.attributes.map((a) => ({ ...a })) });
  graph.insertBefore(node, groupNorm);
  if (node.outputs.length > 1) graph.replaceAllUsesWith(node.output(1), sum, { graphOutputs: true });
  finish(graph, node, groupNorm.output());
  lowerGroupNorm(graph, groupNorm);
}

function add(graph: Graph, before: Node, opType: string, inputs: (Value | undefined)[], attributes = before.attributes.slice(0, 0)): Value {
  const node = graph.createNode({ opType, name: `${before.name}_lowered_${opType}`, inputs, attributes: attributes.map((a) => ({ ...a })) });
  graph.insertBefore(before, node);
  return node.output();
}

/** The contrib node's readers read `result`; the node and the constants only it read go. */
function finish(graph: Graph, node: Node, result: Value): void {
  graph.replaceAllUsesWith(node.output(), result, { graphOutputs: true });
  const inputs = node.inputs;
  graph.remove(node);
  for (const v of inputs) if (v?.isConstant && v.useCount === 0) graph.removeInitializer(v);
}

function ints(graph: Graph, values: number[]): Value {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return graph.addInitializer('lowered_shape', new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(data.buffer))));
}

function floats(graph: Graph, values: number[]): Value {
  return graph.addInitializer('lowered_const', new Tensor(DataType.FLOAT, [values.length], new InlineData(new Uint8Array(Float32Array.from(values).buffer))));
}
