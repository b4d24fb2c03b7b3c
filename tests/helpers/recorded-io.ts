/** The small UNet's recorded inputs and PyTorch output as plain float32 arrays, and the repository root. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from './fixtures.js';

/** The repository root (tests compile to dist/tests/helpers/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface RecordedTensor {
  dtype: 'float32';
  dims: number[];
  data: Float32Array;
}

interface RecordedJson {
  inputs: Record<string, { dtype: string; dims: number[]; data_base64_le: string }>;
  outputs: Record<string, { dtype: string; dims: number[]; data_base64_le: string }>;
}

function decodeF32(entry: { dtype: string; dims: number[]; data_base64_le: string }, name: string): RecordedTensor {
  if (entry.dtype !== 'float32') throw new Error(`${name}: expected float32, got ${entry.dtype}`);
  const bytes = Buffer.from(entry.data_base64_le, 'base64');
  const data = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(data.buffer).set(bytes);
  return { dtype: 'float32', dims: entry.dims, data };
}

/** Inputs and PyTorch's output of the small UNet (fixtures/sdxl-unet-small-io.json). */
export function smallUnetIo(): { inputs: Map<string, RecordedTensor>; outputs: Map<string, RecordedTensor> } {
  const json = JSON.parse(fs.readFileSync(fixture('sdxl-unet-small-io.json'), 'utf8')) as RecordedJson;
  const map = (o: RecordedJson['inputs']) => new Map(Object.entries(o).map(([k, v]) => [k, decodeF32(v, k)]));
  return { inputs: map(json.inputs), outputs: map(json.outputs) };
}
