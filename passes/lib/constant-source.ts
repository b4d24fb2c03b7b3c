/**
 * Where a constant operand comes from, seen through the Identity nodes TorchScript exports put in front of shared
 * weights, whether or not cleanup ran: an initializer, or a Constant node. Pattern matchers read small constants
 * (shapes, axes, InstanceNormalization's unit scale) and never the bytes of weights.
 */
import { hostFromTensor, type HostTensor } from '../../src/eval/index.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Node } from '../../src/ir/node.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { constantNodeTensor } from './constant-node.js';

/** The constant tensor behind `value` (through Identity nodes), without reading its bytes; undefined if not constant. */
export function constantSource(value: Value | undefined): { value: Value; tensor: Tensor } | undefined {
  for (let v = value, hops = 0; v && hops < 8; hops++) {
    if (v.isConstant && v.initializer) return { value: v, tensor: v.initializer };
    if (v.initializer) return undefined; // an initializer that is also a graph input can be overridden
    const p = v.producer;
    if (!p || p.graph !== v.graph) return undefined;
    if (p.is('Identity')) {
      v = p.input(0);
      continue;
    }
    if (p.is('Constant')) {
      const t = constantNodeTensor(p, v.name);
      return 'refused' in t ? undefined : { value: v, tensor: t };
    }
    return undefined;
  }
  return undefined;
}

/** A small constant's elements (shapes, axes, scales), only when already in memory: never reads external data. */
export function smallConstant(value: Value | undefined, maxBytes = 64 * 1024): HostTensor | undefined {
  const source = constantSource(value);
  if (!source || source.tensor.byteLength > maxBytes) return undefined;
  return hostFromTensor(source.tensor);
}

/** A small int constant as numbers (int64 shapes and axes); undefined when not constant or not integral. */
export function constantInts(value: Value | undefined): number[] | undefined {
  const h = smallConstant(value);
  if (!h || !(h.data instanceof BigInt64Array || h.data instanceof Int32Array)) return undefined;
  return Array.from(h.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** A small float constant as numbers. */
export function constantFloats(value: Value | undefined): number[] | undefined {
  const h = smallConstant(value);
  if (!h || !(h.data instanceof Float32Array || h.data instanceof Float64Array)) return undefined;
  return Array.from(h.data);
}

/**
 * Removes `nodes` (already unread) and then whatever fed only them: the Shape, Identity and Constant nodes and the
 * initializers a rewritten pattern leaves behind. Graph inputs and outputs stay.
 */
export function removeDeadFeeders(graph: Graph, nodes: readonly Node[]): void {
  const pending = [...nodes];
  while (pending.length) {
    const node = pending.pop()!;
    if (node.graph !== graph || node.outputs.some((o) => o.useCount > 0 || o.isGraphOutput)) continue;
    const inputs = node.inputs.filter((v): v is Value => v !== undefined);
    graph.remove(node);
    for (const v of inputs) {
      if (v.useCount > 0 || v.isGraphOutput) continue;
      if (v.producer) pending.push(v.producer);
      else if (v.isConstant) graph.removeInitializer(v);
    }
  }
}
