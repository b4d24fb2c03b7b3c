/**
 * `sdxl-opt synth`: turns a graph-only model (its external data files absent) into a complete model with
 * synthetic weights. The graph is copied to `<out-dir>/model.onnx` unchanged, and every external initializer's
 * bytes are written at its recorded location and offset, so the data files have exactly the size the model
 * expects. Values are deterministic for a seed (see synth-values.ts); norm-layer scales are drawn around 1 so
 * activations keep a realistic scale. Values are generated straight into two staging buffers and written as large
 * sequential writes, one buffer written while the other fills, so memory does not grow with the model; every
 * file goes through a temporary file renamed into place.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SdxlOptError } from './errors.js';
import { externalPlacement, MissingData, type ExternalPlacement } from './io/external-data.js';
import { checkModelFile } from './io/read.js';
import { registerTempFile, unregisterTempFile } from './io/temp-files.js';
import { StagedWriter } from './io/staged-writer.js';
import { writeError } from './io/write-errors.js';
import { modelFromProto } from './ir/from-proto.js';
import type { Graph } from './ir/graph.js';
import type { Value } from './ir/value.js';
import { decodeModel } from './onnx/codec.js';
import type { DataType } from './onnx/dtype.js';
import { checkSynthesizable, tensorSeed, ValueStream, type WeightRole } from './synth-values.js';

/** The name the graph gets in the output folder. */
export const SYNTH_MODEL_NAME = 'model.onnx';

export interface SynthOptions {
  /** Default 0. */
  seed?: number;
  /** Bytes per write (the size of each of the two staging buffers). Default 8 MiB. */
  chunkBytes?: number;
  /** Called after each chunk is written. */
  onProgress?: (written: number, total: number) => void;
}

export interface SynthResult {
  modelFile: string;
  /** Each data file written, with its size. */
  dataFiles: { file: string; bytes: number }[];
  /** External initializers written. */
  tensors: number;
  /** Of which drawn as norm scales (around 1). */
  normScales: number;
  /** Bytes of weights generated (the data files' sizes less alignment gaps). */
  weightBytes: number;
}

interface PlannedTensor extends ExternalPlacement {
  name: string;
  dtype: DataType;
  role: WeightRole;
}

export async function synthesizeWeights(graphFile: string, outDir: string, options: SynthOptions = {}): Promise<SynthResult> {
  const seed = options.seed ?? 0;
  const chunkBytes = options.chunkBytes ?? 8 * 2 ** 20;
  if (!Number.isSafeInteger(seed)) throw new SdxlOptError('BAD_PARAM', `seed ${seed} is not an integer`);
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) {
    throw new SdxlOptError('BAD_PARAM', `chunk size ${chunkBytes} is not a positive whole number of bytes`);
  }
  const source = checkModelFile(graphFile);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(source);
  } catch (e) {
    throw new SdxlOptError('IO', `cannot read '${graphFile}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  const files = planDataFiles(bytes, graphFile); // everything is checked before the first file is made
  const realOut = prepareOutDir(outDir, source);

  const modelFile = path.join(outDir, SYNTH_MODEL_NAME);
  const total = [...files.values()].reduce((s, f) => s + f.tensors.reduce((t, x) => t + x.length, 0), 0);
  const progress = { written: 0, total, onProgress: options.onProgress };
  const dataFiles: SynthResult['dataFiles'] = [];
  for (const [location, plan] of files) {
    const target = path.join(outDir, location);
    checkInside(realOut, target, location);
    await writeDataFile(target, plan, seed, chunkBytes, progress);
    dataFiles.push({ file: target, bytes: plan.size });
  }
  await writeAtomically(modelFile, async (fh) => {
    await fh.write(bytes, 0, bytes.byteLength, 0);
  });
  const tensors = [...files.values()].flatMap((f) => f.tensors);
  return {
    modelFile,
    dataFiles,
    tensors: tensors.length,
    normScales: tensors.filter((t) => t.role === 'scale').length,
    weightBytes: total,
  };
}

/** Creates the output folder; refuses the input's own folder (the graph's data files may be there). */
function prepareOutDir(outDir: string, realSource: string): string {
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw writeError(e, outDir);
  }
  const realOut = fs.realpathSync(outDir);
  if (realOut === path.dirname(realSource)) {
    throw new SdxlOptError('UNSAFE_PATH', `the output folder '${outDir}' is the input model's own folder`, {
      hint: 'write synthetic weights to another folder, so no file beside the input is replaced',
    });
  }
  return realOut;
}

/** A data file's place must stay inside the output folder even through symlinked subfolders. */
function checkInside(realOut: string, target: string, location: string): void {
  const parent = path.dirname(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw writeError(e, parent);
  }
  const rel = path.relative(realOut, fs.realpathSync(parent));
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new SdxlOptError('UNSAFE_PATH', `data file '${location}' would be written outside the output folder`, {
      hint: 'a symlink in the output folder leads elsewhere; use an empty output folder',
    });
  }
}

/** Every external initializer, grouped by data file, in offset order, checked not to overlap. */
function planDataFiles(bytes: Uint8Array, graphFile: string): Map<string, { tensors: PlannedTensor[]; size: number }> {
  const placements = new Map<string, ExternalPlacement>();
  const model = modelFromProto(decodeModel(bytes, graphFile), {
    source: graphFile,
    externalData: (t, byteLength, where) => {
      const at = externalPlacement(t, byteLength, where);
      placements.set(t.name ?? '', at);
      return new MissingData(byteLength, at.location, at.location);
    },
  });
  const scales = normScaleInitializers(model.graph);
  const files = new Map<string, { tensors: PlannedTensor[]; size: number }>();
  for (const v of model.graph.initializers()) {
    const at = placements.get(v.name);
    if (!at) continue;
    checkSynthesizable(v.initializer!.dtype, `${graphFile}: initializer '${v.name}'`);
    const role: WeightRole = scales.has(v) ? 'scale' : 'weight';
    const plan = files.get(at.location) ?? { tensors: [], size: 0 };
    plan.tensors.push({ ...at, name: v.name, dtype: v.initializer!.dtype, role });
    files.set(at.location, plan);
  }
  for (const [location, plan] of files) {
    if (path.normalize(location) === SYNTH_MODEL_NAME) {
      throw new SdxlOptError('UNSUPPORTED', `external data location '${location}' is the name synth gives the model`, { where: graphFile });
    }
    plan.tensors.sort((a, b) => a.offset - b.offset);
    let end = 0;
    let previous = '';
    for (const t of plan.tensors) {
      if (t.offset < end) {
        throw new SdxlOptError('EXTERNAL_DATA', `initializers '${previous}' and '${t.name}' overlap in '${location}'`, {
          where: graphFile,
          hint: 'two tensors sharing bytes cannot both get their own synthetic values',
        });
      }
      end = t.offset + t.length;
      previous = t.name;
      // Zero-length tensors may sit anywhere; the file must still reach their offset.
      plan.size = Math.max(plan.size, end);
    }
  }
  return files;
}

const NORM_OPS = new Map<string, number[]>([
  ['LayerNormalization', [1]],
  ['InstanceNormalization', [1]],
  ['GroupNormalization', [1]],
  ['RMSNormalization', [1]],
  ['SimplifiedLayerNormalization', [1]],
  ['BatchNormalization', [1, 4]], // scale, and the variance, which must be positive
  ['SkipLayerNormalization', [2]],
  ['SkipSimplifiedLayerNormalization', [2]],
  ['GroupNorm', [1]],
  ['SkipGroupNorm', [1]],
]);

/**
 * Initializers that act as a normalization's scale: named `*norm*weight`, or read (through Identity nodes, which
 * TorchScript exports insert for shared weights) as a norm op's scale, or as the Mul right after the
 * Reshape ← InstanceNormalization that exporters make of GroupNorm.
 */
export function normScaleInitializers(graph: Graph): Set<Value> {
  const scales = new Set<Value>();
  const isGroupNormOutput = (v: Value | undefined) => v?.producer?.opType === 'Reshape' && v.producer.input(0)?.producer?.opType === 'InstanceNormalization';
  for (const init of graph.initializers()) {
    if (/norm/i.test(init.name) && /weight$/.test(init.name)) {
      scales.add(init);
      continue;
    }
    const reach = new Set([init]); // a Set: a (corrupt) cycle of Identity nodes must not loop forever
    for (const value of reach) {
      if (scales.has(init)) break;
      for (const use of value.uses()) {
        const op = use.node.opType;
        if (op === 'Identity') reach.add(use.node.output(0));
        else if (NORM_OPS.get(op)?.includes(use.index)) scales.add(init);
        else if (op === 'Mul' && use.node.inputs.some((x, j) => j !== use.index && isGroupNormOutput(x))) scales.add(init);
      }
    }
  }
  return scales;
}

interface Progress {
  written: number;
  total: number;
  onProgress: ((written: number, total: number) => void) | undefined;
}

/**
 * Writes one data file: each tensor's values at its offset, small gaps as zeros and large ones as holes (both
 * read as zeros), then the file is extended to its full size.
 */
async function writeDataFile(
  target: string,
  plan: { tensors: PlannedTensor[]; size: number },
  seed: number,
  chunkBytes: number,
  progress: Progress,
): Promise<void> {
  await writeAtomically(target, async (fh, file) => {
    const writer = new StagedWriter(fh, file, chunkBytes);
    for (const t of plan.tensors) {
      await writer.skipTo(t.offset);
      const stream = new ValueStream(t.dtype, t.role, tensorSeed(seed, t.name), `initializer '${t.name}'`);
      await writer.produce(t.length, (into) => {
        stream.fill(into);
        progress.written += into.byteLength;
        progress.onProgress?.(progress.written, progress.total);
      });
    }
    await writer.finish();
    await fh.truncate(plan.size);
  });
}

/** Runs `write` on a new temporary file beside `target`, syncs it and renames it into place; removes it on failure. */
async function writeAtomically(target: string, write: (fh: fsp.FileHandle, file: string) => Promise<void>): Promise<void> {
  if (fs.existsSync(target) && !fs.lstatSync(target).isFile()) {
    throw new SdxlOptError('UNSAFE_PATH', `'${target}' exists and is not a regular file`, { hint: 'use an empty output folder' });
  }
  const temp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  registerTempFile(temp);
  try {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(temp, 'wx');
    } catch (e) {
      throw writeError(e, temp);
    }
    try {
      await write(fh, temp);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.rename(temp, target);
    } catch (e) {
      throw writeError(e, target);
    }
  } finally {
    await fsp.rm(temp, { force: true });
    unregisterTempFile(temp);
  }
}
