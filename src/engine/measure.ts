/**
 * Timing models on the execution provider an optimization is for: the one capability a pass may need that the
 * pure core cannot provide. The core only declares it; the Node layer implements it with ONNX Runtime
 * (src/runtime/model-timer.ts), and whoever builds the PassContext (the recipe engine, a test) hands it in. A pass
 * that chooses a rewrite by measured speed (dynamic-int8's `filter: auto`) asks the context for a timer and
 * refuses to guess when there is none.
 *
 * Models handed to a timer are self-contained: every input has a static shape (the timer makes the inputs),
 * weights are in memory or computed on demand (they are written to a temporary directory).
 */
import type { Model } from '../ir/model.js';

export interface TimingOptions {
  /** Timed runs per model. */
  iters?: number;
  /** Untimed runs per model first. */
  warmup?: number;
}

export interface ModelTiming {
  medianMs: number;
  minMs: number;
  /**
   * Op types (with counts) of nodes that did real work on the CPU in a session meant for another provider: a
   * timing that says nothing about the provider asked for. Empty on the CPU provider.
   */
  cpuComputeOps: Record<string, number>;
}

export interface ModelTimer {
  readonly provider: 'cpu' | 'cuda';
  /** Times the models in one interleaved group (drift falls on all alike); results in the models' order. */
  time(models: readonly Model[], options?: TimingOptions): Promise<ModelTiming[]>;
}
