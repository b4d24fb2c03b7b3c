/**
 * Which element types ONNX Runtime 1.29 has kernels for, per contrib op the fusion passes make and per target. A
 * fused node without a kernel makes a model that fails to load (CPU) or falls back to the CPU (CUDA), so the passes
 * refuse those instead.
 *
 * Where each row comes from:
 * - CPU: seen with onnxruntime-node 1.29.0 (single-op models with Casts around the op, optimizations off,
 *   2026-11-25): SkipLayerNormalization, Gelu and BiasGelu run in float32 and float16, not bfloat16;
 *   SkipLayerNormalization in float64 is invalid (its schema allows float, float16 only). BiasSplitGelu and BiasAdd
 *   have no CPU kernel ("Could not find an implementation").
 * - QuickGelu on CPU: float32 seen with onnxruntime 1.30 (Python, alpha 1.702, 2026-11-26); float16 has no CPU
 *   kernel (docs/passes/cast.md). On CUDA: float, float16, bfloat16 as src/ort/kernels.ts lists it (source).
 * - CUDA: source (onnxruntime/contrib_ops/cuda/cuda_contrib_kernels.cc, diffusion/bias_split_gelu.cc,
 *   diffusion/bias_add.cc): SkipLayerNormalization float, float16, bfloat16 (bfloat16 also seen on an H100, see
 *   ORT-FACTS.md); Gelu float, float64, float16, bfloat16; BiasGelu float, float16, bfloat16; BiasSplitGelu and
 *   BiasAdd float and float16 only.
 */
import type { PassContext } from '../../src/engine/pass.js';
import { DataType, dataTypeName } from '../../src/onnx/dtype.js';

export type ContribOp = 'SkipLayerNormalization' | 'Gelu' | 'BiasGelu' | 'QuickGelu' | 'BiasSplitGelu' | 'BiasAdd';

const D = DataType;

const KERNEL_TYPES: Record<ContribOp, Record<PassContext['target'], readonly DataType[]>> = {
  SkipLayerNormalization: { cpu: [D.FLOAT, D.FLOAT16], cuda: [D.FLOAT, D.FLOAT16, D.BFLOAT16] },
  Gelu: { cpu: [D.FLOAT, D.FLOAT16], cuda: [D.FLOAT, D.DOUBLE, D.FLOAT16, D.BFLOAT16] },
  BiasGelu: { cpu: [D.FLOAT, D.FLOAT16], cuda: [D.FLOAT, D.FLOAT16, D.BFLOAT16] },
  QuickGelu: { cpu: [D.FLOAT], cuda: [D.FLOAT, D.FLOAT16, D.BFLOAT16] },
  BiasSplitGelu: { cpu: [], cuda: [D.FLOAT, D.FLOAT16] },
  BiasAdd: { cpu: [], cuda: [D.FLOAT, D.FLOAT16] },
};

/** Undefined when the target has a kernel for the op in that type; otherwise why not. */
export function kernelRefusal(op: ContribOp, target: PassContext['target'], dtype: DataType | undefined): string | undefined {
  const types = KERNEL_TYPES[op][target];
  if (!types.length) return `ONNX Runtime has no ${target.toUpperCase()} kernel for ${op}`;
  if (dtype === undefined) return 'the element type is unknown';
  if (!types.includes(dtype)) return `ONNX Runtime's ${target.toUpperCase()} ${op} does not take ${dataTypeName(dtype)}`;
  return undefined;
}

/** The target has some kernel for the op (a pass with none to make says so once, not per candidate). */
export function hasKernel(op: ContribOp, target: PassContext['target']): boolean {
  return KERNEL_TYPES[op][target].length > 0;
}

/**
 * Sizes ONNX Runtime's CUDA kernels take (read in onnxruntime/contrib_ops/cuda/diffusion/, ORT 1.29 era; they fail
 * at run time with INVALID_ARGUMENT on any other):
 * - BiasSplitGelu: the input's last dim (before the split) is 2560, 5120 or 10240. The kernel is instantiated for
 *   half sizes 1280, 2560, 5120 only. SDXL's GEGLU projections are 640 → 5120 and 1280 → 10240.
 * - BiasAdd: channels 320, 640 or 1280 (SDXL's widths).
 */
export const BIAS_SPLIT_GELU_HIDDEN_SIZES: readonly number[] = [2560, 5120, 10240];
export const BIAS_ADD_CHANNELS: readonly number[] = [320, 640, 1280];
