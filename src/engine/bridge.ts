/**
 * Where the engine meets the ONNX Runtime layer (src/runtime): the three calls apply makes, gathered into one
 * object so that tests can hand apply a runtime of their own.
 */
import { benchModels, runtimeEnvironment, validateModels } from '../runtime/index.js';

export type { BenchReport, Provider, RuntimeEnvironment, Tolerance, ValidationReport } from '../runtime/index.js';

export interface RuntimeApi {
  validateModels: typeof validateModels;
  benchModels: typeof benchModels;
  runtimeEnvironment: typeof runtimeEnvironment;
}

export const runtime: RuntimeApi = { validateModels, benchModels, runtimeEnvironment };
