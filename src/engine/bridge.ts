/**
 * Where the engine meets the ONNX Runtime layer (src/runtime), built beside it. Until that lands, this module stands
 * in for it with the same signatures, so the rest of the engine is written against the real names and this file is
 * the only one to change when it does.
 */
import { SdxlOptError } from '../errors.js';

// ---- ONNX Runtime ----------------------------------------------------------------------------------------------

export type Provider = 'cpu' | 'cuda';

export interface Tolerance {
  cosine?: number;
  relL2?: number;
  maxAbs?: number;
}

export interface ValidationOutput {
  name: string;
  cosine: number;
  relL2: number;
  maxAbs: number;
  /** Elements that are NaN or infinite, in each model's output. */
  nonFinite: { reference: number; candidate: number };
}

export interface ValidationReport {
  passed: boolean;
  /** The models compared. */
  reference?: string;
  candidate?: string;
  outputs: ValidationOutput[];
  placement?: unknown;
  failures: string[];
}

export interface BenchReport {
  model: string;
  loadMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  timesMs: number[];
}

export interface RuntimeEnvironment {
  ortVersion: string;
  nodeVersion: string;
  providers: { cpu: boolean; cuda: boolean; cudaError?: string };
  gpu?: { name: string; driver: string; memoryMiB: number };
}

/** What apply needs from the runtime; tests pass their own. */
export interface RuntimeApi {
  validateModels(
    reference: string,
    candidate: string,
    opts: { provider: Provider; dims?: Record<string, number>; seed?: number; tolerance?: Tolerance },
  ): Promise<ValidationReport>;
  benchModels(models: string[], opts: { provider: Provider; dims?: Record<string, number>; iters?: number; warmup?: number }): Promise<BenchReport[]>;
  runtimeEnvironment(): Promise<RuntimeEnvironment>;
}

const notYet = (): never => {
  throw new SdxlOptError('UNSUPPORTED', 'this build of sdxl-opt has no ONNX Runtime layer yet (src/runtime)', {
    hint: "remove 'validate' and 'bench' from the recipe for now",
  });
};

export const runtime: RuntimeApi = {
  validateModels: async () => notYet(),
  benchModels: async () => notYet(),
  runtimeEnvironment: async () => notYet(),
};
