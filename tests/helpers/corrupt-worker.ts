/**
 * Runs damaged copies of a model through the reader in a worker thread, so the test can stop it when it hangs.
 * Each case is read from memory, its tensors are materialized and the model is encoded again; the outcome is
 * 'ok', the SdxlOptError code, or 'foreign <name>: <message>' for any other exception (a bug).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isSdxlOptError } from '../../src/errors.js';
import { modelFromBytes } from '../../src/io/read.js';
import { inlineTensorProto } from '../../src/ir/tensor-proto.js';
import { modelToProto } from '../../src/ir/to-proto.js';
import { encodeModel } from '../../src/onnx/codec.js';

export type Damage = { cut: number } | { seed: number };

export interface CorruptionJob {
  bytes: Uint8Array;
  /** Where the model claims to live: external-data locations resolve against its directory. */
  file: string;
  cases: Damage[];
}

export interface CaseOutcome {
  damage: Damage;
  outcome: string;
  ms: number;
}

/** xorshift32: deterministic damage from a seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** A damaged copy: a few bytes flipped, overwritten, deleted or replaced by varint continuation bytes. */
export function damage(bytes: Uint8Array, d: Damage): Uint8Array {
  if ('cut' in d) return bytes.subarray(0, d.cut);
  const next = rng(d.seed);
  let out = Uint8Array.from(bytes);
  const edits = 1 + (next() % 4);
  for (let e = 0; e < edits; e++) {
    const at = next() % out.byteLength;
    switch (next() % 4) {
      case 0:
        out[at] = out[at]! ^ (1 << (next() % 8));
        break;
      case 1:
        out[at] = next() & 0xff;
        break;
      case 2: {
        const n = 1 + (next() % 8);
        const end = Math.min(out.byteLength, at + n);
        const shorter = new Uint8Array(out.byteLength - (end - at));
        shorter.set(out.subarray(0, at));
        shorter.set(out.subarray(end), at);
        out = shorter;
        break;
      }
      default:
        out.fill(0xff, at, Math.min(out.byteLength, at + 1 + (next() % 10)));
    }
  }
  return out;
}

async function runCase(job: CorruptionJob, d: Damage): Promise<string> {
  try {
    const model = modelFromBytes(damage(job.bytes, d), job.file);
    for (const v of model.graph.initializers()) await v.initializer!.bytes();
    encodeModel(modelToProto(model, (name, t) => t.origin ?? inlineTensorProto(name, t, t.data.inMemory!)));
    return 'ok';
  } catch (e) {
    if (isSdxlOptError(e)) return e.code;
    return `foreign ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
}

if (parentPort) {
  const job = workerData as CorruptionJob;
  const results: CaseOutcome[] = [];
  for (const d of job.cases) {
    const t0 = performance.now();
    const outcome = await runCase(job, d);
    results.push({ damage: d, outcome, ms: performance.now() - t0 });
  }
  parentPort.postMessage(results);
}
