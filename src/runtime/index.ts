/**
 * The runtime layer's public API: running models on ONNX Runtime (onnxruntime-node) to prove an optimization
 * (parity, speed, placement) and to describe the machine. The recipe engine and the CLI call only these.
 */
import { DimResolver } from './dims.js';
import { DEFAULT_SEED, type GeneratedInput } from './inputs.js';
import { prepareModel } from './prepare.js';

export type { Provider } from './ort.js';
export type { Tolerance, OutputComparison } from './compare.js';
export { DEFAULT_TOLERANCE, metrics } from './compare.js';
export type { Placement } from './placement.js';
export { describePlacement } from './placement.js';
export type { ValidationReport, ValidateOptions } from './validate.js';
export { validateModels } from './validate.js';
export type { BenchReport, BenchResult, BenchOptions } from './bench.js';
export { benchModel, benchModels, DEFAULT_ITERS, DEFAULT_WARMUP } from './bench.js';
export type { ProfileSummary, OpTypeTime, NodeTime } from './profile-summary.js';
export type { RuntimeEnvironment, CudaLibraries } from './environment.js';
export { runtimeEnvironment, defaultProvider } from './environment.js';
export type { ModelTimerSettings } from './model-timer.js';
export { modelTimer } from './model-timer.js';
export { SDXL_DEFAULT_DIMS, parseDims } from './dims.js';
export { DEFAULT_SEED };
export type { GeneratedInput };

/** Options for generating inputs: named dim sizes (over the SDXL defaults) and the seed. */
export interface InputOptions {
  dims?: Record<string, number>;
  seed?: number;
}

/** The inputs validate and bench would feed `model` (for callers that run or record it themselves). */
export async function generateModelInputs(model: string, opts: InputOptions = {}): Promise<GeneratedInput[]> {
  return (await prepareModel(model, new DimResolver(opts.dims), opts.seed ?? DEFAULT_SEED)).inputs;
}
