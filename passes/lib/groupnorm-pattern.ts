/**
 * The GroupNorm pattern PyTorch exports (TorchScript and dynamo alike), found from its InstanceNormalization:
 *
 *   x (N, C, H, W) → Reshape [N|0, G, -1] → InstanceNormalization(scale 1, bias 0, ε) → Reshape [N, C, H, W]
 *     → Mul γ (C, 1, 1) → Add β (C, 1, 1) [→ Sigmoid → Mul: SiLU]
 *
 * The second Reshape's shape is Shape(x) in dynamic exports, a constant in static ones (or after constant folding
 * with fixed dims). γ and β sit behind Identity nodes in TorchScript exports when cleanup has not run.
 *
 * ONNX Runtime's com.microsoft.GroupNorm CUDA kernel (read in onnxruntime/contrib_ops/cuda/diffusion/group_norm.cc,
 * group_norm_common_base.{h,cc} and group_norm_impl.cu, 2026-11): X float or float16 in NHWC (channels_last=0
 * returns NOT_IMPLEMENTED), rank 4; γ and β float32 of shape (C) (float16 γ is refused at run time although the
 * schema in docs/ContribOperators.md allows it); attributes epsilon, groups, activation (0 none, 1 SiLU, required),
 * channels_last (default 1). It refuses inputs where channels per group is odd or more than 512 (the block of
 * channels one CUDA block reduces is at most 512 and a thread reads 2 channels). SDXL has 10 to 80 channels per
 * group (320..2560 channels, 32 groups); the small fixtures 4 to 16.
 */
import type { Node } from '../../src/ir/node.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';
import { constantFloats, constantInts, constantSource } from './constant-source.js';

export interface GroupNormMatch {
  /** The NCHW input. */
  x: Value;
  /** The value the pattern computes: the Add's output, or the SiLU Mul's. */
  output: Value;
  /** Pattern nodes, producers first. */
  nodes: Node[];
  gamma: { value: Value; tensor: Tensor };
  beta: { value: Value; tensor: Tensor };
  channels: number;
  groups: number;
  epsilon: number;
  silu: boolean;
}

/** Most channels per group the CUDA kernel takes (kMaxSize in group_norm_common_base.h). */
export const MAX_CHANNELS_PER_GROUP = 512;

const single = (v: Value): Node | undefined => (v.useCount === 1 && !v.isGraphOutput ? v.uses()[0]!.node : undefined);

/** The pattern around an InstanceNormalization node, or why it is not one ONNX Runtime's GroupNorm can replace. */
export function matchGroupNorm(norm: Node): GroupNormMatch | { reason: string } {
  const first = norm.input(0)?.producer;
  if (!first?.is('Reshape')) return { reason: 'InstanceNormalization does not read a Reshape' };
  const x = first.input(0);
  if (!x) return { reason: 'the first Reshape has no input' };
  if (x.rank !== 4) return { reason: `GroupNorm input has rank ${x.rank ?? 'unknown'}, not 4 (N, C, H, W)` };
  const grouping = constantInts(first.input(1));
  if (!grouping || grouping.length !== 3 || !(grouping[1]! > 0)) return { reason: 'the first Reshape is not to a constant [N, G, -1]' };
  if (first.attrInt('allowzero', 0) !== 0 && grouping[0] === 0) return { reason: 'the first Reshape has allowzero=1' };
  const groups = grouping[1]!;
  const scale = constantFloats(norm.input(1));
  const bias = constantFloats(norm.input(2));
  if (!scale || scale.length !== groups || scale.some((s) => s !== 1)) return { reason: 'InstanceNormalization scale is not a constant of ones (one per group)' };
  if (!bias || bias.length !== groups || bias.some((b) => b !== 0)) return { reason: 'InstanceNormalization bias is not a constant of zeros' };

  const second = single(norm.output());
  if (!second?.is('Reshape') || second.input(0) !== norm.output()) return { reason: 'InstanceNormalization output is not read by one Reshape only' };
  const mul = single(second.output());
  const gamma = mul?.is('Mul') ? perChannelOperand(mul, second.output()) : undefined;
  if (!mul || !gamma) return { reason: 'the Reshape back is not followed by a Mul with a constant (C, 1, 1) scale' };
  const add = single(mul.output());
  const beta = add?.is('Add') ? perChannelOperand(add, mul.output()) : undefined;
  if (!add || !beta) return { reason: 'the scale is not followed by an Add with a constant (C, 1, 1) bias' };
  const channels = gamma.channels;
  if (beta.channels !== channels) return { reason: `γ has ${channels} channels, β ${beta.channels}` };
  const grouped = groupsPerSample(grouping, x, channels);
  if (grouped !== true) return { reason: grouped };
  const restored = restoresShape(second, x, channels);
  if (restored !== true) return { reason: restored };

  const inputDtype = x.dtype;
  if (inputDtype !== DataType.FLOAT && inputDtype !== DataType.FLOAT16) return { reason: 'GroupNorm input is not float32 or float16' };
  if (gamma.tensor.dtype !== DataType.FLOAT || beta.tensor.dtype !== DataType.FLOAT) {
    return { reason: 'γ or β is not float32 (the CUDA GroupNorm kernel reads them as float)' };
  }
  const xChannels = x.shape?.[1];
  if (typeof xChannels === 'number' && xChannels !== channels) return { reason: `input has ${xChannels} channels, γ ${channels}` };
  if (channels % groups !== 0) return { reason: `${channels} channels do not split into ${groups} groups` };
  const perGroup = channels / groups;
  if (perGroup % 2 !== 0 || perGroup > MAX_CHANNELS_PER_GROUP) {
    return { reason: `${perGroup} channels per group: the CUDA GroupNorm kernel needs an even number, at most ${MAX_CHANNELS_PER_GROUP}` };
  }

  const nodes = [first, norm, second, mul, add];
  let output = add.output();
  let silu = false;
  const swish = siluAfter(output);
  if (swish) {
    nodes.push(...swish);
    output = swish[1].output();
    silu = true;
  }
  return { x, output, nodes, gamma, beta, channels, groups, epsilon: norm.attrFloat('epsilon', 1e-5), silu };
}

/** The constant operand of an elementwise node that scales channels: shape (C, 1, 1), maybe with leading ones. */
function perChannelOperand(node: Node, data: Value): { value: Value; tensor: Tensor; channels: number } | undefined {
  if (node.inputs.length !== 2) return undefined;
  const other = node.input(0) === data ? node.input(1) : node.input(1) === data ? node.input(0) : undefined;
  const source = constantSource(other);
  if (!source) return undefined;
  const dims = source.tensor.dims;
  if (dims.length < 3 || dims.length > 4 || dims[dims.length - 1] !== 1 || dims[dims.length - 2] !== 1) return undefined;
  if (dims.length === 4 && dims[0] !== 1) return undefined;
  return { ...source, channels: dims[dims.length - 3]! };
}

/** True when the first Reshape keeps samples apart: [0 or N, G, -1 or C/G·H·W]. */
function groupsPerSample(grouping: readonly number[], x: Value, channels: number): true | string {
  const [n, g, rest] = grouping as [number, number, number];
  const shape = x.shape ?? [];
  if (n !== 0 && n !== shape[0]) return `the first Reshape is to [${grouping.join(', ')}], which does not keep the batch axis`;
  if (rest === -1) return true;
  const [h, w] = [shape[2], shape[3]];
  if (typeof h === 'number' && typeof w === 'number' && rest === (channels / g) * h * w) return true;
  return `the first Reshape is to [${grouping.join(', ')}], not [N, G, -1]`;
}

/** True when the Reshape after InstanceNormalization gives back x's shape; otherwise why that is not certain. */
function restoresShape(reshape: Node, x: Value, channels: number): true | string {
  const target = reshape.input(1);
  const shapeNode = target?.producer;
  if (shapeNode?.is('Shape') && shapeNode.input(0) === x && shapeNode.attrInt('start', 0) === 0 && shapeNode.attrInt('end') === undefined) return true;
  const dims = constantInts(target);
  if (!dims || dims.length !== 4) return 'the Reshape back is neither to Shape(x) nor to a constant 4-D shape';
  const xShape = x.shape ?? [];
  for (let i = 0; i < 4; i++) {
    const expected = i === 1 ? channels : xShape[i];
    if (typeof expected !== 'number') return 'the Reshape back is to a constant shape, and the input dims are not known to compare';
    if (dims[i] !== expected) return `the Reshape back is to [${dims.join(', ')}], not the input's shape`;
  }
  return true;
}

/** Sigmoid(y) and Mul(y, Sigmoid(y)) when they are y's only readers (SiLU), else undefined. */
function siluAfter(y: Value): [Node, Node] | undefined {
  if (y.useCount !== 2 || y.isGraphOutput) return undefined;
  const readers = y.consumers();
  const sigmoid = readers.find((n) => n.is('Sigmoid'));
  const mul = readers.find((n) => n.is('Mul'));
  if (!sigmoid || !mul || sigmoid === mul) return undefined;
  const s = sigmoid.output();
  if (s.useCount !== 1 || s.isGraphOutput || s.uses()[0]!.node !== mul) return undefined;
  const ins = mul.inputs;
  if (ins.length !== 2 || !((ins[0] === y && ins[1] === s) || (ins[0] === s && ins[1] === y))) return undefined;
  return [sigmoid, mul];
}
