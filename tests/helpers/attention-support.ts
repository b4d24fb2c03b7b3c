/**
 * What the attention-fusion tests share: the fixtures, running a pass as the engine would, seeded inputs, and
 * running models on ONNX Runtime CPU (written with writeModel to a temporary folder) to compare outputs.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { defaultParams, type PassDefinition, type PassResult } from '../../src/engine/pass.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import { modelFromBytes } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import { tensorFromProto } from '../../src/ir/tensor-proto.js';

/** dist/tests/helpers → the repository's fixtures/ */
export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures');

export const SMALL_UNET_TS17 = 'sdxl-unet-small-ts17.onnx';
export const SMALL_UNET_DYNAMO18 = 'sdxl-unet-small-dynamo18.onnx';
export const VAE_DECODER = 'sdxl-vae-decoder-tiny-ts17.onnx';
export const FULL_UNET_GRAPH = 'sdxl-unet-full-graph-only.onnx';

const fileBytes = new Map<string, Buffer>();

/** A fresh IR of a fixture (the file is read once per test process; each call decodes its own copy). */
export function loadFixture(name: string): Model {
  const file = path.join(FIXTURES, name);
  let bytes = fileBytes.get(file);
  if (!bytes) fileBytes.set(file, (bytes = fs.readFileSync(file)));
  return modelFromBytes(bytes, file);
}

export async function runPass<P>(
  pass: PassDefinition<P>,
  model: Model,
  params: Partial<P> = {},
  dims: Record<string, number> = {},
  target: 'cuda' | 'cpu' = 'cuda',
): Promise<PassResult> {
  return pass.run({ model, graph: model.graph, dims, target, log() {}, progress() {} }, { ...defaultParams(pass), ...params });
}

export function countOps(graph: Graph, opType: string, domain = ''): number {
  return graph.nodes().filter((n) => n.is(opType, domain)).length;
}

export type Feeds = Record<string, ort.Tensor>;

/** Deterministic float32 values in [-1, 1) (a linear congruential generator). */
export function seededFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function seededTensor(dims: number[], seed: number, scale = 1): ort.Tensor {
  const data = seededFloats(dims.reduce((a, b) => a * b, 1), seed).map((x) => x * scale);
  return new ort.Tensor('float32', data, dims);
}

/** The small UNet's real inputs, recorded with the fixtures (the same for the TorchScript and dynamo exports). */
export function smallUnetFeeds(): Feeds {
  const io = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'sdxl-unet-small-io.json'), 'utf8')) as {
    inputs: Record<string, { dims: number[]; data_base64_le: string }>;
  };
  const feeds: Feeds = {};
  for (const [name, t] of Object.entries(io.inputs)) {
    const bytes = Buffer.from(t.data_base64_le, 'base64');
    feeds[name] = new ort.Tensor('float32', new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), t.dims);
  }
  return feeds;
}

export function vaeFeeds(): Feeds {
  return { latent_sample: seededTensor([1, 4, 8, 8], 7) };
}

/** Writes the model to a temporary folder and runs it on the CPU provider, graph optimizations off. */
export async function runOnCpu(model: Model, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sdxl-opt-attention-'));
  try {
    const file = path.join(dir, 'model.onnx');
    await writeModel(model, file);
    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
    try {
      const results = await session.run(feeds);
      return Object.fromEntries(Object.entries(results).map(([k, t]) => [k, t.data as Float32Array]));
    } finally {
      await session.release();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** ‖a − b‖₂ / ‖b‖₂ */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm || 1);
}

/** The worst relative L2 error of `candidate`'s outputs against `reference`'s, on the same inputs. */
export async function parityOnCpu(reference: Model, candidate: Model, feeds: Feeds): Promise<number> {
  const want = await runOnCpu(reference, feeds);
  const got = await runOnCpu(candidate, feeds);
  let worst = 0;
  for (const [name, ref] of Object.entries(want)) worst = Math.max(worst, relativeL2(got[name] ?? new Float32Array(), ref));
  return worst;
}

/** What constant folding leaves: every Constant node's tensor as an initializer instead. */
export function constantsToInitializers(model: Model): number {
  const graph = model.graph;
  let moved = 0;
  for (const node of graph.nodes()) {
    const t = node.is('Constant') ? node.attrTensor('value') : undefined;
    if (!t) continue;
    const value = graph.addInitializer(`${node.output(0).name}_folded`, tensorFromProto(t, `${node}`));
    graph.replaceAllUsesWith(node.output(0), value);
    graph.remove(node);
    moved++;
  }
  return moved;
}

const references = new Map<string, Promise<Record<string, Float32Array>>>();

/** The unchanged fixture's outputs on the CPU provider, computed once per test process. */
export function fixtureOutputs(name: string, feeds: () => Feeds): Promise<Record<string, Float32Array>> {
  let outputs = references.get(name);
  if (!outputs) references.set(name, (outputs = runOnCpu(loadFixture(name), feeds())));
  return outputs;
}

/** The worst relative L2 error of a rewritten fixture's outputs against the unchanged fixture's. */
export async function fixtureParity(name: string, candidate: Model, feeds: () => Feeds): Promise<number> {
  const want = await fixtureOutputs(name, feeds);
  const got = await runOnCpu(candidate, feeds());
  let worst = 0;
  for (const [output, ref] of Object.entries(want)) worst = Math.max(worst, relativeL2(got[output] ?? new Float32Array(), ref));
  return worst;
}

/** A value computed on first use and shared by the tests after (each test file runs in its own process). */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}
