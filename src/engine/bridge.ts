/**
 * Where the engine meets the ONNX Runtime layer (src/runtime): the calls apply makes, gathered into one object so
 * that tests can hand apply a runtime of their own.
 */
import { benchModels, modelTimer, runtimeEnvironment, validateModels } from '../runtime/index.js';

export type { BenchReport, Provider, RuntimeEnvironment, Tolerance, ValidationReport } from '../runtime/index.js';

export interface RuntimeApi {
  validateModels: typeof validateModels;
  benchModels: typeof benchModels;
  runtimeEnvironment: typeof runtimeEnvironment;
  /** The timer passes that choose by speed get (dynamic-int8's filter: auto); it loads ONNX Runtime only when used. */
  modelTimer: typeof modelTimer;
}

export const runtime: RuntimeApi = { validateModels, benchModels, runtimeEnvironment, modelTimer };
