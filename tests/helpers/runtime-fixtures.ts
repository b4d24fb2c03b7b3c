/** Fixture paths and model files made for the runtime tests (perturbed copies, one-node models of a given dtype). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { SdxlOptError, type ErrorCode } from '../../src/errors.js';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { tinyModelBytes, type TinyModelSpec } from '../../src/runtime/tiny-model.js';
import { probeCuda } from '../../src/runtime/environment.js';

/** The repository root (this file compiles to dist/tests/helpers/). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const SMALL_UNET = path.join(ROOT, 'fixtures', 'sdxl-unet-small-ts17.onnx');
export const SMALL_UNET_DYNAMO = path.join(ROOT, 'fixtures', 'sdxl-unet-small-dynamo18.onnx');
export const TINY_VAE = path.join(ROOT, 'fixtures', 'sdxl-vae-decoder-tiny-ts17.onnx');
export const SMALL_UNET_IO = path.join(ROOT, 'fixtures', 'sdxl-unet-small-io.json');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * One ORT thread per session: test files run two at a time on two cores, and ORT's spinning thread pools of two
 * concurrent sessions would otherwise starve each other (a 2-second test took 20).
 */
export const ONE_THREAD = { threads: 1 } as const;

/** Sizes that keep the fixtures fast on two cores. */
export const SMALL_DIMS = { height: 16, width: 16 };

export function scratchDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-runtime-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of `model` with the initializer `weight` negated: one weight changed, every output changed with it. */
export async function perturbedCopy(model: string, weight: string, dir: string): Promise<string> {
  const m = await readModel(model);
  const value = m.graph.initializer(weight);
  if (!value?.initializer) throw new Error(`${model} has no initializer ${weight}`);
  const bytes = await value.initializer.bytes();
  const values = new Float32Array(Uint8Array.from(bytes).buffer); // a copy: the read bytes may be a view into the file
  for (let i = 0; i < values.length; i++) values[i] = -values[i]!;
  m.graph.setInitializerTensor(value, new Tensor(DataType.FLOAT, value.initializer.dims, new InlineData(new Uint8Array(values.buffer))));
  const out = path.join(dir, `perturbed-${path.basename(model)}`);
  await writeModel(m, out);
  return out;
}

export function writeTinyModel(dir: string, name: string, spec: TinyModelSpec): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, tinyModelBytes(spec));
  return file;
}

/** Why CUDA tests cannot run here, or undefined when they can. */
export function cudaUnavailable(): string | undefined {
  return probeCuda().ok ? undefined : 'CUDA provider not available';
}

/** An assert.throws/rejects predicate: an SdxlOptError of `code` that passes `check`. */
export function sdxlError(code: ErrorCode, check: (e: SdxlOptError) => boolean = () => true): (e: unknown) => boolean {
  return (e) => e instanceof SdxlOptError && e.code === code && check(e);
}
