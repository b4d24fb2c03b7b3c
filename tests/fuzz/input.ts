/**
 * One fuzz input: a model file and the files beside it, made deterministically from (run seed, index). The first
 * inputs of every run are the seeds themselves, unchanged: they must read cleanly, or the mutants prove nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { GRAPH_MUTATORS } from './mutate-graph.js';
import { SEMANTIC_MUTATORS } from './mutate-semantic.js';
import { TENSOR_MUTATORS } from './mutate-tensors.js';
import { BYTE_MUTATORS, WIRE_MUTATORS } from './mutate-wire.js';
import { Rng } from './rng.js';
import type { FileSpec, Seed } from './seeds.js';

export const MODEL_FILE = 'model.onnx';

export interface FuzzInput {
  index: number;
  seed: string;
  /** What was done to the seed, in order. */
  steps: string[];
  model: Uint8Array;
  files: Record<string, FileSpec>;
}

export function makeInput(seeds: readonly Seed[], runSeed: number, index: number): FuzzInput {
  if (index < seeds.length) {
    const s = seeds[index]!;
    return { index, seed: s.name, steps: ['unchanged seed'], model: s.model, files: { ...s.files } };
  }
  const rng = new Rng(runSeed, index);
  const seed = rng.weighted(seeds.map((s) => [s, s.weight] as const));
  const files = { ...seed.files };
  const steps: string[] = [];
  let model = seed.model;

  // 'semantic' keeps the model readable (for inference and inspect); 'structure' draws from both lists.
  const phases = rng.weighted<readonly ('semantic' | 'structure' | 'wire' | 'bytes')[]>([
    [['semantic'], 15],
    [['structure'], 35],
    [['wire'], 20],
    [['bytes'], 15],
    [['structure', 'wire'], 10],
    [['structure', 'bytes'], 5],
    [['wire', 'bytes'], 5],
    [['structure', 'wire', 'bytes'], 5],
  ]);
  for (const phase of phases) {
    const rounds = rng.weighted([[1, 6], [2, 3], [3, 1]] as const);
    if (phase === 'structure' || phase === 'semantic') {
      const proto = decodeModel(model, seed.name); // a fresh, mutable copy of the seed
      const list = phase === 'semantic' ? SEMANTIC_MUTATORS : [...TENSOR_MUTATORS, ...GRAPH_MUTATORS, ...SEMANTIC_MUTATORS];
      for (let i = 0; i < rounds; i++) {
        const [name, mutate] = rng.weighted(list.map((m) => [m, m[2]] as const));
        const what = mutate(proto, { rng, files });
        if (what !== undefined) steps.push(`${name}: ${what}`);
      }
      model = new Uint8Array(encodeModel(proto));
    } else {
      const list = phase === 'wire' ? WIRE_MUTATORS : BYTE_MUTATORS;
      for (let i = 0; i < rounds; i++) {
        const [name, mutate] = rng.weighted(list.map((m) => [m, m[2]] as const));
        const out = mutate(model, rng);
        if (out) {
          model = out.bytes;
          steps.push(`${name}: ${out.what}`);
        }
      }
    }
  }
  if (!steps.length) steps.push('no mutator applied');
  return { index, seed: seed.name, steps, model, files };
}

/**
 * Writes the input into `dir` (which must be empty). Unchanged big seed files are hard-linked from `cacheDir`
 * when one is given, so a worker writes each of them once.
 */
export function writeInput(input: FuzzInput, dir: string, cacheDir?: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, MODEL_FILE), input.model);
  for (const [name, spec] of Object.entries(input.files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (spec.kind === 'dir') fs.mkdirSync(file, { recursive: true });
    else if (spec.kind === 'symlink') fs.symlinkSync(spec.target, file);
    else if (spec.cacheKey && cacheDir) {
      const cached = path.join(cacheDir, spec.cacheKey.replace(/[^\w.-]/g, '_'));
      if (!fs.existsSync(cached)) fs.writeFileSync(cached, spec.bytes);
      fs.linkSync(cached, file);
    } else fs.writeFileSync(file, spec.bytes);
  }
}
