/**
 * Where the engine meets modules built beside it: the type checker of shape inference (src/ir/infer) and the ONNX
 * Runtime layer (src/runtime). Until those land, this module stands in for them with the same signatures, so the
 * rest of the engine is written against the real names and this file is the only one to change when they do.
 */
import { SdxlOptError } from '../errors.js';
import type { Graph } from '../ir/graph.js';

// ---- shape inference --------------------------------------------------------------------------------------------

/** Type problems in a graph (stand-in: none until src/ir/infer/check-types.ts lands). */
export function checkTypes(_graph: Graph): string[] {
  return [];
}

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
  nonFinite: number;
}

export interface ValidationReport {
  passed: boolean;
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
