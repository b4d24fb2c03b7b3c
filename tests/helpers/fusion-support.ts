/** Running the fusion passes in tests: for a given target, and on the transformer-block test model. */
import * as ort from 'onnxruntime-node';
import { defaultParams, type PassContext, type PassDefinition, type PassResult } from '../../src/engine/pass.js';
import type { Model } from '../../src/ir/model.js';
import { passContext } from './pass-context.js';
import { seededFloats, type Feeds } from './ort.js';

export const UNET_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };

export interface FusionRun {
  target?: PassContext['target'];
  dims?: Record<string, number>;
  logs?: string[];
}

/** Runs `pass` on `model` the way the engine would, for `target` (default cpu). */
export async function runFusion<P>(pass: PassDefinition<P>, model: Model, params: Partial<P> = {}, run: FusionRun = {}): Promise<PassResult> {
  const ctx: PassContext = { ...passContext(model, run.dims ?? {}, run.logs ?? []), target: run.target ?? 'cpu' };
  return pass.run(ctx, { ...defaultParams(pass), ...params });
}

/** Seeded input for the transformer-block model. */
export function blockFeeds(channels: number, batch = 2, sequence = 4): Feeds {
  return { x: new ort.Tensor('float32', seededFloats(batch * sequence * channels, 5), [batch, sequence, channels]) };
}

/** Nodes by `domain:op` for contrib ops and `op` for standard ones. */
export function opCountsWithDomain(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of model.graph) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}:${n.opType}` : n.opType;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
