/** Quantization operators (ONNX and their com.microsoft twins). */
import { DataType } from '../../../onnx/dtype.js';
import type { Rule } from '../rule.js';

/** QuantizeLinear: typed like y_zero_point, else the output_dtype attribute (opset 21), else uint8. */
export const quantizeLinear: Rule = (ctx) => {
  const fromAttr = ctx.node.attrInt('output_dtype', 0);
  const dtype = (ctx.has(2) ? ctx.dtype(2) : undefined) ?? (fromAttr ? (fromAttr as DataType) : DataType.UINT8);
  return [{ dtype, shape: ctx.shape(0) }];
};

/** DequantizeLinear: typed like x_scale (output_dtype in opset 23 may say otherwise). */
export const dequantizeLinear: Rule = (ctx) => {
  const fromAttr = ctx.node.attrInt('output_dtype', 0);
  return [{ dtype: fromAttr ? (fromAttr as DataType) : ctx.dtype(1), shape: ctx.shape(0) }];
};

/** DynamicQuantizeLinear: y (uint8, like x), y_scale (float scalar), y_zero_point (uint8 scalar). */
export const dynamicQuantizeLinear: Rule = (ctx) => [
  { dtype: DataType.UINT8, shape: ctx.shape(0) },
  { dtype: DataType.FLOAT, shape: [] },
  { dtype: DataType.UINT8, shape: [] },
];
