/** A linear projection in the graph: MatMul(x, constant W), optionally followed by Add(constant bias). */
import { tensorFromProto } from '../../src/ir/tensor-proto.js';
import type { Node } from '../../src/ir/node.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';

export interface Projection {
  matmul: Node;
  /** What the projection reads. */
  input: Value;
  /** [in, out] */
  weight: Tensor;
  bias?: { add: Node; tensor: Tensor };
  /** Its result: the Add's output when there is a bias, else the MatMul's. */
  output: Value;
}

/** The tensor a value holds when it is constant: an initializer or a Constant node's, through Identity nodes. */
export function constantTensor(v: Value | undefined): Tensor | { reason: string } {
  for (let at = v, hops = 0; at && hops < 8; hops++) {
    if (at.isConstant && at.initializer) return at.initializer;
    const p = at.producer;
    if (p?.is('Identity')) {
      at = p.input(0);
      continue;
    }
    const t = p?.is('Constant') ? p.attrTensor('value') : undefined;
    if (t) return tensorFromProto(t, `${p}`);
    if (at.isGraphInput) return { reason: `it is graph input ${at}, not a constant` };
    return { reason: `${at} is computed${p ? ` by ${p}` : ''}, not a constant` };
  }
  return { reason: 'it is not a constant' };
}

/** The projection producing `v`, or why `v` is not one (named by `role`: "K"). */
export function projectionOf(v: Value, role: string): Projection | { reason: string } {
  let p = v.producer;
  let bias: Projection['bias'];
  if (p?.is('Add')) {
    const add = p;
    const matmulSide = add.inputs.findIndex((x) => x?.producer?.is('MatMul'));
    const biasValue = add.input(1 - matmulSide);
    const tensor = matmulSide >= 0 && add.inputs.length === 2 ? constantTensor(biasValue) : { reason: 'no MatMul' };
    if ('reason' in tensor) return { reason: `${role} is ${add}, not a projection with a constant bias` };
    const width = v.shape?.[v.shape.length - 1];
    if (tensor.dims.length !== 1 || (typeof width === 'number' && tensor.dims[0] !== width)) {
      return { reason: `the bias of ${role} has shape [${tensor.dims.join(', ')}], not [out]` };
    }
    const matmulOut = add.input(matmulSide)!;
    if (matmulOut.useCount !== 1 || matmulOut.isGraphOutput) return { reason: `${role}'s MatMul result is read by more than its bias Add` };
    bias = { add, tensor };
    p = matmulOut.producer;
  }
  if (!p?.is('MatMul')) return { reason: `${role} is produced by ${p ?? 'no node'}, not by a MatMul projection` };
  const weight = constantTensor(p.input(1));
  if ('reason' in weight) return { reason: `the ${role} projection weight is not constant: ${weight.reason}` };
  if (weight.dims.length !== 2) return { reason: `the ${role} projection weight has shape [${weight.dims.join(', ')}], not [in, out]` };
  if (bias && bias.tensor.dims[0] !== weight.dims[1]) return { reason: `the ${role} bias does not match its weight` };
  return { matmul: p, input: p.input(0)!, weight, bias, output: v };
}
