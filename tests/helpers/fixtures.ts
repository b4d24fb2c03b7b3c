/** The committed fixtures, and a parity check of a rewrite on one of them: original vs rewritten on ORT CPU. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import type { Model } from '../../src/ir/model.js';
import { relativeL2, runOnCpu, seededFloats, smallUnetIo, type Feeds } from './ort.js';

/** fixtures/ at the repository root (tests run from dist/tests/...). */
export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures');

export const fixture = (name: string): string => path.join(FIXTURES, name);

/** Inputs for a fixture: the recorded ones for the small UNets, seeded ones ([1, 4, 8, 8]) for the VAE decoder. */
export function fixtureFeeds(name: string): Feeds {
  if (name.startsWith('sdxl-unet-small')) return smallUnetIo(FIXTURES).inputs;
  if (name.startsWith('sdxl-vae-decoder')) return { latent_sample: new ort.Tensor('float32', seededFloats(4 * 8 * 8, 7), [1, 4, 8, 8]) };
  throw new Error(`no inputs known for fixture ${name}`);
}

export interface Parity {
  /** Worst relative L2 error over the outputs. */
  error: number;
  before: number;
  after: number;
  model: Model;
}

const references = new Map<string, Promise<Record<string, Float32Array>>>();

/** The fixture's outputs on ORT CPU, computed once per test process. */
function referenceOutputs(name: string): Promise<Record<string, Float32Array>> {
  let r = references.get(name);
  if (!r) {
    r = readModel(fixture(name)).then((m) => runOnCpu(m, fixtureFeeds(name)));
    references.set(name, r);
  }
  return r;
}

/** Rewrites a fresh copy of a fixture with `rewrite`, runs it, and compares every output with the original's. */
export async function parityOnFixture(name: string, rewrite: (model: Model) => Promise<unknown>): Promise<Parity> {
  const feeds = fixtureFeeds(name);
  const reference = await referenceOutputs(name);
  const model = await readModel(fixture(name));
  const before = model.graph.nodeCount;
  await rewrite(model);
  const after = model.graph.nodeCount;
  const outputs = await runOnCpu(model, feeds);
  let error = 0;
  for (const [k, ref] of Object.entries(reference)) error = Math.max(error, relativeL2(outputs[k] ?? new Float32Array(), ref));
  return { error, before, after, model };
}
