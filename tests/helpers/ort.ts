/**
 * Running models on ONNX Runtime CPU (onnxruntime-node) for parity checks: the fixture inputs, seeded inputs for
 * models without recorded ones, and relative L2 error.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Model } from '../../src/ir/model.js';
import { writeModel } from '../../src/io/write.js';

export type Feeds = Record<string, ort.Tensor>;

/** The recorded inputs and PyTorch's output of the small UNet fixtures. */
export function smallUnetIo(fixtures: string): { inputs: Feeds; expected: Float32Array } {
  const io = JSON.parse(fs.readFileSync(path.join(fixtures, 'sdxl-unet-small-io.json'), 'utf8')) as {
    inputs: Record<string, { dims: number[]; data_base64_le: string }>;
    outputs: Record<string, { dims: number[]; data_base64_le: string }>;
  };
  const decode = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64');
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  const inputs: Feeds = {};
  for (const [name, t] of Object.entries(io.inputs)) inputs[name] = new ort.Tensor('float32', decode(t.data_base64_le), t.dims);
  return { inputs, expected: decode(io.outputs.out_sample!.data_base64_le) };
}

/** Deterministic float32 values in [-1, 1) (a linear congruential generator: tests must not depend on Math.random). */
export function seededFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Writes the model to a temporary directory and runs it on the CPU provider; every output as float32 (ints too). */
export async function runOnCpu(model: Model, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sdxl-opt-test-'));
  try {
    const file = path.join(dir, 'model.onnx');
    await writeModel(model, file);
    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
    try {
      const results = await session.run(feeds);
      const out: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(results)) {
        out[name] = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
      }
      return out;
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

/** Runs an encoded model held in memory (a tiny test model) on the CPU provider, optimizations off. */
export async function runBytesOnCpu(bytes: Uint8Array, feeds: Feeds = {}): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Runs two models on the same feeds and returns the worst relative L2 error over the first one's outputs. */
export async function compareOnCpu(reference: Model, candidate: Model, feeds: Feeds): Promise<number> {
  const a = await runOnCpu(reference, feeds);
  const b = await runOnCpu(candidate, feeds);
  let worst = 0;
  for (const [name, ref] of Object.entries(a)) worst = Math.max(worst, relativeL2(b[name] ?? new Float32Array(), ref));
  return worst;
}
