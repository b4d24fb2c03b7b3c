/** Reading constant values for rewrites: initializers that no caller can override, held in memory. */
import type { Value } from '../../src/ir/value.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { hostFromTensor, type HostTensor } from '../../src/eval/index.js';

/** The tensor of a constant value (an initializer that is not also a graph input), without reading it. */
export function constantTensor(value: Value | undefined): Tensor | undefined {
  return value && value.isConstant ? value.initializer : undefined;
}

/**
 * A constant's elements, when they are already in memory and at most `maxBytes`: never reads external data (the
 * weights of a full UNet are 10 GB that folding has no business touching).
 */
export function constantElements(value: Value | undefined, maxBytes: number): HostTensor | undefined {
  const t = constantTensor(value);
  if (!t || t.byteLength > maxBytes) return undefined;
  return hostFromTensor(t);
}
