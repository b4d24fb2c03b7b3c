/**
 * Parity of layout rewrites on the fixtures. The fixtures' GroupNorm scales and shifts are PyTorch's initial ones
 * and zeros, which would hide a γ or β put on the wrong channel: both models get the same seeded per-channel values
 * first.
 */
import { defaultParams, type PassDefinition, type PassResult } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import type { Model } from '../../src/ir/model.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { fixture, fixtureFeeds, type Parity } from './fixtures.js';
import { relativeL2, runOnCpu, seededFloats } from './ort.js';
import { passContext } from './pass-context.js';

/** Runs a pass for target cuda (the layout passes do nothing for cpu); the result is lowered to run on the CPU. */
export async function runForCuda<P>(pass: PassDefinition<P>, model: Model, params: Partial<P> = {}, dims: Record<string, number> = {}): Promise<PassResult> {
  return pass.run({ ...passContext(model, dims), target: 'cuda' }, { ...defaultParams(pass), ...params });
}

/** Replaces every float initializer shaped (C, 1, 1) or (C, 1) — GroupNorm's γ and β — with seeded values. */
export function randomizeChannelAffine(model: Model): number {
  let seed = 11;
  let changed = 0;
  for (const v of model.graph.initializers()) {
    const t = v.initializer!;
    const [c, ...ones] = t.dims;
    if (t.dtype !== DataType.FLOAT || c === undefined || c < 2 || ones.length < 1 || ones.length > 2 || ones.some((d) => d !== 1)) continue;
    const values = seededFloats(c, seed++).map((r) => 1 + 0.5 * r);
    model.graph.setInitializerTensor(v, new Tensor(DataType.FLOAT, t.dims, new InlineData(new Uint8Array(values.buffer))));
    changed++;
  }
  return changed;
}

const references = new Map<string, Promise<Record<string, Float32Array>>>();

/** The randomized fixture's outputs on ORT CPU, once per test process. */
function referenceOutputs(name: string): Promise<Record<string, Float32Array>> {
  let outputs = references.get(name);
  if (!outputs) {
    outputs = readModel(fixture(name)).then((reference) => {
      randomizeChannelAffine(reference);
      return runOnCpu(reference, fixtureFeeds(name));
    });
    references.set(name, outputs);
  }
  return outputs;
}

/** Runs the fixture and its rewritten copy (both with randomized γ and β) on ORT CPU and compares every output. */
export async function layoutParity(name: string, rewrite: (model: Model) => Promise<unknown>): Promise<Parity> {
  const feeds = fixtureFeeds(name);
  const expected = await referenceOutputs(name);
  const model = await readModel(fixture(name));
  randomizeChannelAffine(model);
  const before = model.graph.nodeCount;
  await rewrite(model);
  const after = model.graph.nodeCount;
  const outputs = await runOnCpu(model, feeds);
  let error = 0;
  for (const [k, ref] of Object.entries(expected)) error = Math.max(error, relativeL2(outputs[k] ?? new Float32Array(), ref));
  return { error, before, after, model };
}
