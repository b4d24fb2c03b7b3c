/**
 * Writing a model: weights stream tensor by tensor into one external data file at 4096-byte-aligned offsets (ONNX
 * Runtime maps aligned data instead of copying it), or stay inline for small models. Everything goes through
 * temporary files in the destination's directory, renamed into place once complete; inputs are never overwritten.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Long from 'long';
import { SdxlOptError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { inlineTensorProto } from '../ir/tensor-proto.js';
import type { Tensor } from '../ir/tensor.js';
import { modelToProto } from '../ir/to-proto.js';
import { encodeModel } from '../onnx/codec.js';
import { DataType } from '../onnx/dtype.js';
import type { TensorProto } from '../onnx/types.js';
import { openDirect } from './direct-writer.js';
import { checkLocationSyntax, ExternalData } from './external-data.js';
import { sourceOf } from './read.js';
import { restOf } from '../ir/proto-util.js';
import { STAGING_BYTES, StagedWriter, writeFully } from './staged-writer.js';
import { registerTempFile, unregisterTempFile } from './temp-files.js';
import { writeError } from './write-errors.js';

/** Written through the page cache, the data file is flushed to disk as it grows, every this many bytes (StagedWriter). */
const SYNC_EVERY_BYTES = 256 * 1024 * 1024;
/** Data files from this size on are written with O_DIRECT where the file system allows. */
const DIRECT_IO_MIN_BYTES = 64 * 1024 * 1024;

export { writeError };

export interface WriteOptions {
  /** 'auto': external when the model was read with external data or its weights exceed `inlineLimit`. */
  externalData?: 'auto' | 'always' | 'never';
  /** Name of the data file, beside the model. Default: `<model file name>_data` (model.onnx → model.onnx_data). */
  dataFileName?: string;
  /** Tensors smaller than this stay inline even in external mode. Default 1024 bytes. */
  sizeThreshold?: number;
  /** Offset alignment in the data file. Default 4096. */
  alignment?: number;
  /** Total weight bytes above which 'auto' goes external. Default 1.5 GiB (protobuf's limit is 2 GiB). */
  inlineLimit?: number;
  /** Called as bytes are written, for progress displays. */
  onProgress?: (written: number, total: number) => void;
  /**
   * Write the data file with O_DIRECT (direct-writer.ts says why): 'auto' when it holds at least 64 MiB and the file
   * system allows it; 'always' wherever the file system allows it; 'never' through the page cache.
   */
  directIo?: 'auto' | 'always' | 'never';
}

export interface WriteResult {
  modelFile: string;
  dataFile: string | undefined;
  modelBytes: number;
  dataBytes: number;
  externalTensors: number;
  inlineTensors: number;
}

/** Refuses a destination that is one of the model's own input files, or a directory. */
export function checkDestination(model: Model, modelFile: string, dataFile: string | undefined): void {
  const source = sourceOf(model);
  const inputs = source ? [source.file, ...source.dataFiles].map(realOrResolved) : [];
  for (const target of [modelFile, dataFile]) {
    if (!target) continue;
    const resolved = realOrResolved(target);
    if (inputs.includes(resolved)) {
      throw new SdxlOptError('UNSAFE_PATH', `refusing to overwrite '${target}': it is one of the model's input files`, {
        hint: 'write the optimized model to another folder',
      });
    }
    if (fs.existsSync(resolved) && !fs.statSync(resolved).isFile()) {
      throw new SdxlOptError('UNSAFE_PATH', `'${target}' exists and is not a regular file`, { hint: 'choose another output path' });
    }
  }
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    // The file may not exist yet: resolve its directory (symlinks included) and append the name.
    try {
      return path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
    } catch {
      return path.resolve(p);
    }
  }
}

function tempName(target: string): string {
  return `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

export async function writeModel(model: Model, modelFile: string, options: WriteOptions = {}): Promise<WriteResult> {
  const alignment = options.alignment ?? 4096;
  if (!Number.isSafeInteger(alignment) || alignment < 1) {
    throw new SdxlOptError('BAD_PARAM', `alignment ${alignment} is not a positive whole number of bytes`);
  }
  const threshold = options.sizeThreshold ?? 1024;
  const dataFileName = options.dataFileName ?? `${path.basename(modelFile)}_data`;
  // The name is written into the model as a location: it must be one a reader accepts, and not the model itself.
  checkLocationSyntax(dataFileName, modelFile);
  const dataFile = path.join(path.dirname(modelFile), dataFileName);
  if (path.resolve(dataFile) === path.resolve(modelFile)) {
    throw new SdxlOptError('UNSAFE_PATH', `the data file '${dataFileName}' would be the model file itself`, {
      where: modelFile,
      hint: 'choose another data file name',
    });
  }
  const initializers = model.graph.initializers();
  const totalBytes = initializers.reduce((s, v) => s + v.initializer!.byteLength, 0);
  const readExternal = initializers.some((v) => v.initializer!.data instanceof ExternalData || v.initializer!.origin?.data_location === 1);
  const mode = options.externalData ?? 'auto';
  const external = mode === 'always' || (mode === 'auto' && (readExternal || totalBytes > (options.inlineLimit ?? 1.5 * 2 ** 30)));

  checkDestination(model, modelFile, external ? dataFile : undefined);
  const goesExternal = (t: Tensor) => external && t.dtype !== DataType.STRING && t.byteLength >= threshold;
  const externalTotal = initializers.reduce((s, v) => s + (goesExternal(v.initializer!) ? v.initializer!.byteLength : 0), 0);

  const protos = new Map<string, TensorProto>();
  const tmpModel = tempName(modelFile);
  const tmpData = external ? tempName(dataFile) : undefined;
  let dataBytes = 0;
  let externalTensors = 0;
  try {
    if (tmpData) {
      registerTempFile(tmpData);
      const direct = options.directIo ?? 'auto';
      const directWriter =
        direct === 'always' || (direct === 'auto' && externalTotal >= DIRECT_IO_MIN_BYTES) ? await openDirect(tmpData) : undefined;
      const fh = directWriter?.fh ?? (await openForWrite(tmpData));
      try {
        const writer = directWriter ?? new StagedWriter(fh, tmpData, STAGING_BYTES, SYNC_EVERY_BYTES);
        let written = 0;
        for (const v of initializers) {
          const t = v.initializer!;
          if (!goesExternal(t)) continue;
          await writer.alignTo(alignment);
          const offset = writer.position;
          for await (const chunk of t.data.chunks()) {
            await writer.append(chunk);
            written += chunk.byteLength;
            options.onProgress?.(written, externalTotal);
          }
          if (writer.position - offset !== t.byteLength) {
            throw new SdxlOptError('BAD_TENSOR', `initializer '${v.name}' produced ${writer.position - offset} bytes, expected ${t.byteLength}`);
          }
          protos.set(v.name, externalTensorProto(v.name, t, dataFileName, offset));
          externalTensors++;
        }
        await writer.finish();
        dataBytes = writer.position;
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    for (const v of initializers) {
      if (protos.has(v.name)) continue;
      const t = v.initializer!;
      const unchanged = t.origin && t.origin.name === v.name && t.origin.data_location !== 1;
      protos.set(v.name, unchanged ? t.origin! : inlineTensorProto(v.name, t, await t.bytes()));
    }
    const bytes = encodeModel(modelToProto(model, (name) => protos.get(name)!));
    registerTempFile(tmpModel);
    const fh = await openForWrite(tmpModel);
    try {
      await writeFully(fh, bytes, 0, tmpModel);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Data first: a model file never points at data that is not complete.
    if (tmpData) await renameInto(tmpData, dataFile);
    await renameInto(tmpModel, modelFile);
    return {
      modelFile,
      dataFile: external ? dataFile : undefined,
      modelBytes: bytes.byteLength,
      dataBytes,
      externalTensors,
      inlineTensors: initializers.length - externalTensors,
    };
  } finally {
    for (const f of [tmpModel, tmpData]) {
      if (!f) continue;
      await fsp.rm(f, { force: true });
      unregisterTempFile(f);
    }
  }
}

function externalTensorProto(name: string, t: Tensor, location: string, offset: number): TensorProto {
  const base = restOf(t.origin, ['raw_data', 'float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'external_data', 'data_location', 'name', 'dims', 'data_type']) as TensorProto;
  const kept = (t.origin?.external_data ?? []).filter((e) => !['location', 'offset', 'length', 'checksum'].includes(e.key ?? ''));
  return {
    ...base,
    name,
    dims: t.dims.map((d) => Long.fromNumber(d)),
    data_type: t.dtype,
    external_data: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(t.byteLength) },
      ...kept,
    ],
    data_location: 1,
  };
}

async function openForWrite(file: string): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file, 'wx');
  } catch (e) {
    throw writeError(e, file);
  }
}

async function renameInto(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (e) {
    throw writeError(e, to);
  }
}
