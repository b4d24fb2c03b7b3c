/**
 * Test-only: rewrites the CUDA-only contrib ops the fusion passes make back into standard ONNX ops, written from the
 * ops' definitions (ORT's diffusion_defs.cc and CUDA kernels), not from the passes' patterns, so a fused model runs
 * on ORT CPU and its parity with the original proves the pattern math:
 * - BiasSplitGelu(X (N, S, D), bias (D)): t = X + bias; left = t[..., :D/2]; right = t[..., D/2:];
 *   Y = left · gelu(right), gelu exact: r · 0.5 · (1 + erf(r / √2)). Gelu is applied to the right half only.
 * - BiasAdd(X (N, S, C), bias (C), skip (N, S, C)): Y = X + bias + skip.
 */
import { Graph } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';

export interface LowerOptions {
  /**
   * Which half BiasSplitGelu's Gelu is lowered onto. 'right' is the op's definition; 'left' exists so a test can
   * show that parity would catch a fusion that gated the wrong half.
   */
  geluOn?: 'right' | 'left';
}

/** Lowers every BiasSplitGelu and BiasAdd in the model's graph; returns how many of each. */
export function lowerContribOps(model: Model, options: LowerOptions = {}): { BiasSplitGelu: number; BiasAdd: number } {
  const graph = model.graph;
  const counts = { BiasSplitGelu: 0, BiasAdd: 0 };
  for (const node of graph.nodes()) {
    if (node.domain !== 'com.microsoft') continue;
    if (node.opType === 'BiasSplitGelu') {
      lowerBiasSplitGelu(graph, node, options.geluOn ?? 'right');
      counts.BiasSplitGelu++;
    } else if (node.opType === 'BiasAdd') {
      lowerBiasAdd(graph, node);
      counts.BiasAdd++;
    }
  }
  return counts;
}

function lowerBiasSplitGelu(graph: Graph, node: Node, geluOn: 'right' | 'left'): void {
  const b = new Builder(graph, node);
  const [x, bias] = [node.input(0)!, node.input(1)!];
  const d = bias.initializer?.dims[0] ?? bias.shape?.[0];
  if (typeof d !== 'number') throw new Error(`lower-contrib: ${node} has a bias of unknown length`);
  const t = b.op('Add', [x, bias]);
  const axis = b.int64s([-1]);
  let left = b.op('Slice', [t, b.int64s([0]), b.int64s([d / 2]), axis]);
  let right = b.op('Slice', [t, b.int64s([d / 2]), b.int64s([d]), axis]);
  if (geluOn === 'left') [left, right] = [right, left];
  const erf = b.op('Erf', [b.op('Div', [right, b.float(Math.SQRT2)])]);
  const gelu = b.op('Mul', [b.op('Mul', [right, b.float(0.5)]), b.op('Add', [erf, b.float(1)])]);
  b.finish(b.op('Mul', [left, gelu]));
}

function lowerBiasAdd(graph: Graph, node: Node): void {
  const b = new Builder(graph, node);
  b.finish(b.op('Add', [b.op('Add', [node.input(0)!, node.input(1)!]), node.input(2)!]));
}

/** Standard ops inserted before the contrib node they replace. */
class Builder {
  constructor(
    private readonly graph: Graph,
    private readonly node: Node,
  ) {
    if (node.input(0)?.type?.dtype !== DataType.FLOAT) throw new Error(`lower-contrib: ${node} is not float32 (only float32 is lowered)`);
  }

  op(opType: string, inputs: Value[]): Value {
    const n = this.graph.createNode({ opType, name: `${this.node.name}/lowered/${opType}`, inputs });
    this.graph.insertBefore(this.node, n);
    return n.output(0);
  }

  int64s(values: number[]): Value {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.graph.addInitializer(`${this.node.name}/lowered/ints`, new Tensor(DataType.INT64, [values.length], new InlineData(new Uint8Array(data.buffer))));
  }

  float(value: number): Value {
    return this.graph.addInitializer(`${this.node.name}/lowered/float`, new Tensor(DataType.FLOAT, [], new InlineData(new Uint8Array(Float32Array.of(value).buffer))));
  }

  finish(result: Value): void {
    this.graph.replaceAllUsesWith(this.node.output(0), result, { graphOutputs: true });
    this.graph.remove(this.node);
  }
}
