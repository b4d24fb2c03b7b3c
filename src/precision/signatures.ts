/**
 * How each operator's inputs and outputs follow its float type: which ones share the type variable of its float data
 * (they must all be float16 when the node runs in float16), and which ones keep their own type whatever the node runs
 * in (shapes, indices, conditions, Resize's float32 scales, GroupNorm's float32 gamma and beta). Taken from the ONNX
 * and com.microsoft schemas; an operator missing here is left exactly as it is.
 */
import type { Node } from '../ir/node.js';

/**
 * 'T': float data in the node's float type. 'keep': its type does not follow the node's (it keeps the type it has).
 * 'any': the node accepts any type here and its result does not depend on the precision it comes in (Shape).
 */
export type Role = 'T' | 'keep' | 'any';

export interface Signature {
  /**
   * 'compute': the float type changes the arithmetic, so it is chosen per node. 'move': rearranges or selects
   * elements without arithmetic, so it runs in whatever type its data arrives in. 'shape': reads only shapes.
   */
  kind: 'compute' | 'move' | 'shape';
  inputs: readonly Role[];
  /** The role of inputs past `inputs` (variadic ones: Concat, Sum). Default 'keep'. */
  restInputs?: Role;
  outputs: readonly Role[];
  restOutputs?: Role;
}

const compute = (inputs: Role[], outputs: Role[] = ['T'], rest?: { in?: Role; out?: Role }): Signature => ({
  kind: 'compute',
  inputs,
  outputs,
  restInputs: rest?.in,
  restOutputs: rest?.out,
});
const move = (inputs: Role[], outputs: Role[] = ['T'], rest?: { in?: Role; out?: Role }): Signature => ({
  kind: 'move',
  inputs,
  outputs,
  restInputs: rest?.in,
  restOutputs: rest?.out,
});

const UNARY = compute(['T']);
const ALL_T = compute([], ['T'], { in: 'T' });

const ONNX: Record<string, Signature> = {
  ...Object.fromEntries(
    [
      'Abs', 'Neg', 'Sqrt', 'Exp', 'Erf', 'Sigmoid', 'Tanh', 'Relu', 'Sign', 'Log', 'Reciprocal', 'Floor', 'Ceil',
      'Round', 'Sin', 'Cos', 'Elu', 'Selu', 'Softplus', 'Softsign', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Gelu',
      'Softmax', 'LogSoftmax', 'DepthToSpace', 'SpaceToDepth',
    ].map((op) => [op, UNARY]),
  ),
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mod', 'Clip', 'MatMul', 'Gemm', 'Einsum', 'Conv', 'ConvTranspose', 'Range'].map((op) => [op, ALL_T])),
  ...Object.fromEntries(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'].map((op) => [op, compute(['T', 'T'], ['keep'])])),
  ...Object.fromEntries(
    ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp', 'CumSum'].map((op) => [
      op,
      compute(['T', 'keep']),
    ]),
  ),
  ArgMax: compute(['T'], ['keep']),
  ArgMin: compute(['T'], ['keep']),
  AveragePool: UNARY,
  GlobalAveragePool: UNARY,
  GlobalMaxPool: UNARY,
  MaxPool: compute(['T'], ['T', 'keep']),
  LayerNormalization: compute(['T', 'T', 'T'], ['T', 'keep', 'keep']),
  InstanceNormalization: compute(['T', 'T', 'T']),
  GroupNormalization: compute(['T', 'T', 'T']),
  BatchNormalization: compute(['T', 'T', 'T', 'T', 'T'], ['T', 'T', 'T']),
  // Resize's roi and scales are float32 whatever X is; sizes are int64.
  Resize: compute(['T', 'keep', 'keep', 'keep']),
  Upsample: compute(['T', 'keep']),
  Pad: compute(['T', 'keep', 'T', 'keep']),
  TopK: compute(['T', 'keep'], ['T', 'keep']),
  Where: move(['keep', 'T', 'T']),
  Dropout: move(['T', 'keep', 'keep'], ['T', 'keep']),
  Identity: move(['T']),
  Reshape: move(['T', 'keep']),
  Flatten: move(['T']),
  Squeeze: move(['T', 'keep']),
  Unsqueeze: move(['T', 'keep']),
  Transpose: move(['T']),
  Concat: move([], ['T'], { in: 'T' }),
  Split: move(['T', 'keep'], [], { out: 'T' }),
  Slice: move(['T', 'keep', 'keep', 'keep', 'keep']),
  Gather: move(['T', 'keep']),
  GatherElements: move(['T', 'keep']),
  GatherND: move(['T', 'keep']),
  Expand: move(['T', 'keep']),
  Tile: move(['T', 'keep']),
  Trilu: move(['T', 'keep']),
  Shape: { kind: 'shape', inputs: ['any'], outputs: ['keep'] },
  Size: { kind: 'shape', inputs: ['any'], outputs: ['keep'] },
};

const CONTRIB: Record<string, Signature> = {
  // query, key, value, bias, key_padding_mask, attention_bias, past_key, past_value, past_sequence_length, cache_indirection
  MultiHeadAttention: compute(['T', 'T', 'T', 'T', 'keep', 'T', 'T', 'T', 'keep', 'keep'], ['T', 'T', 'T', 'T']),
  // input, weights, bias, mask_index, past, attention_bias, past_sequence_length
  Attention: compute(['T', 'T', 'T', 'keep', 'T', 'T', 'keep'], ['T', 'T']),
  SkipLayerNormalization: compute(['T', 'T', 'T', 'T', 'T'], ['T', 'keep', 'keep', 'T']),
  SkipSimplifiedLayerNormalization: compute(['T', 'T', 'T', 'T'], ['T', 'keep', 'keep', 'T']),
  FastGelu: ALL_T,
  BiasGelu: ALL_T,
  Gelu: UNARY,
  QuickGelu: UNARY,
  FusedMatMul: ALL_T,
  BiasSoftmax: ALL_T,
  // ORT's CUDA GroupNorm reads gamma and beta as float32 whatever X is ("GroupNorm only supports gamma and beta in
  // float type"), though the schema would take float16.
  GroupNorm: compute(['T', 'keep', 'keep']),
  SkipGroupNorm: compute(['T', 'keep', 'keep', 'T', 'T'], ['T', 'T']),
  NhwcConv: ALL_T,
  BiasSplitGelu: ALL_T,
  BiasAdd: ALL_T,
};

/** The signature of a node's operator; undefined for operators this module does not know (left as they are). */
export function signatureOf(node: Node): Signature | undefined {
  const domain = node.domain === 'ai.onnx' ? '' : node.domain;
  if (domain === '') return ONNX[node.opType];
  if (domain === 'com.microsoft') return CONTRIB[node.opType];
  return undefined;
}

export function inputRole(sig: Signature, index: number): Role {
  return sig.inputs[index] ?? sig.restInputs ?? 'keep';
}

export function outputRole(sig: Signature, index: number): Role {
  return sig.outputs[index] ?? sig.restOutputs ?? 'keep';
}
