/** Running a pass in a test the way the engine would: a context, the pass's defaults overridden by `params`. */
import { defaultParams, type PassContext, type PassDefinition, type PassResult } from '../../src/engine/pass.js';
import type { Model } from '../../src/ir/model.js';

export function passContext(model: Model, dims: Record<string, number> = {}, logs: string[] = []): PassContext {
  return { model, graph: model.graph, dims, target: 'cpu', log: (m) => logs.push(m), progress: () => {} };
}

export async function runPass<P>(pass: PassDefinition<P>, model: Model, params: Partial<P> = {}, dims: Record<string, number> = {}): Promise<PassResult> {
  return pass.run(passContext(model, dims), { ...defaultParams(pass), ...params });
}
