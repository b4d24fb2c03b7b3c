/** The inference rules by operator: 'OpType' for the ONNX domain, 'domain:OpType' for others. */
import type { Node } from '../../node.js';
import type { Rule } from '../rule.js';
import { biasSplitGelu, CONTRIB_SAME_AS_INPUT, groupNorm, multiHeadAttention, skipLayerNormalization } from './contrib.js';
import { broadcast, BROADCAST_OPS, SAME_AS_INPUT_OPS, sameAsInput } from './elementwise.js';
import {
  conv,
  dynamicQuantizeMatMul,
  gemm,
  layerNormalization,
  matmul,
  matmulInteger,
  matmulIntegerToFloat,
  nhwcConv,
  reduce,
  resize,
} from './nn.js';
import { dequantizeLinear, dynamicQuantizeLinear, quantizeLinear } from './quant.js';
import * as shapeOps from './shape-ops.js';

const MS = 'com.microsoft';

const RULES = new Map<string, Rule>([
  ...SAME_AS_INPUT_OPS.map((op): [string, Rule] => [op, sameAsInput]),
  ...BROADCAST_OPS.map((op): [string, Rule] => [op, broadcast]),
  ['Constant', shapeOps.constant],
  ['Shape', shapeOps.shape],
  ['Size', shapeOps.size],
  ['Cast', shapeOps.cast],
  ['Reshape', shapeOps.reshape],
  ['Flatten', shapeOps.flatten],
  ['Unsqueeze', shapeOps.unsqueeze],
  ['Squeeze', shapeOps.squeeze],
  ['Transpose', shapeOps.transpose],
  ['Concat', shapeOps.concat],
  ['Gather', shapeOps.gather],
  ['Slice', shapeOps.slice],
  ['Expand', shapeOps.expand],
  ['ConstantOfShape', shapeOps.constantOfShape],
  ['Split', shapeOps.split],
  ['Tile', shapeOps.tile],
  ['Range', shapeOps.range],
  ['MatMul', matmul],
  ['MatMulInteger', matmulInteger],
  ['Gemm', gemm],
  ['Conv', conv],
  ['LayerNormalization', layerNormalization],
  ['Resize', resize],
  ...['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceSumSquare'].map((op): [string, Rule] => [op, reduce]),
  ['QuantizeLinear', quantizeLinear],
  ['DequantizeLinear', dequantizeLinear],
  ['DynamicQuantizeLinear', dynamicQuantizeLinear],
  [`${MS}:MultiHeadAttention`, multiHeadAttention],
  [`${MS}:GroupNorm`, groupNorm],
  [`${MS}:SkipGroupNorm`, groupNorm],
  [`${MS}:NhwcConv`, nhwcConv],
  [`${MS}:SkipLayerNormalization`, skipLayerNormalization],
  [`${MS}:SkipSimplifiedLayerNormalization`, skipLayerNormalization],
  [`${MS}:BiasSplitGelu`, biasSplitGelu],
  ...CONTRIB_SAME_AS_INPUT.map((op): [string, Rule] => [`${MS}:${op}`, sameAsInput]),
  [`${MS}:QuantizeLinear`, quantizeLinear],
  [`${MS}:DequantizeLinear`, dequantizeLinear],
  [`${MS}:MatMulIntegerToFloat`, matmulIntegerToFloat],
  [`${MS}:DynamicQuantizeMatMul`, dynamicQuantizeMatMul],
]);

/** The rule key of a node: 'Conv', 'com.microsoft:GroupNorm'. */
export function opKey(node: Node): string {
  const domain = node.domain === 'ai.onnx' ? '' : node.domain;
  return domain ? `${domain}:${node.opType}` : node.opType;
}

export function ruleFor(node: Node): Rule | undefined {
  return RULES.get(opKey(node));
}
