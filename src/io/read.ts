/** Reading an ONNX model file (and its external data, lazily) into the IR. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SdxlOptError } from '../errors.js';
import { modelFromProto } from '../ir/from-proto.js';
import type { Model } from '../ir/model.js';
import { decodeModel } from '../onnx/codec.js';
import { ExternalData, ExternalDataResolver, MissingData } from './external-data.js';

/** protobuf cannot encode a message of 2 GiB or more; a larger .onnx file is not a model. */
const MAX_MODEL_FILE = 2 ** 31 - 1;

export interface ReadModelOptions {
  /** Fail at once when an external data file is missing (commands that need weights). Default false. */
  requireData?: boolean;
}

export interface ModelSource {
  /** The .onnx file, resolved. */
  file: string;
  /** Its external data files, resolved. */
  dataFiles: string[];
}

const sources = new WeakMap<Model, ModelSource>();

/** Where a model was read from: writers refuse to overwrite any of these files. */
export function sourceOf(model: Model): ModelSource | undefined {
  return sources.get(model);
}

/** Checks that `file` is a regular, readable file of a plausible size; returns its resolved path. */
export function checkModelFile(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SdxlOptError('IO', code === 'ENOENT' ? `model file '${file}' does not exist` : `cannot read model file '${file}': ${code}`, {
      cause: e,
      hint: code === 'ENOENT' ? 'check the path (relative paths in recipes are relative to the recipe)' : undefined,
    });
  }
  if (stat.isDirectory()) {
    throw new SdxlOptError('IO', `'${file}' is a directory, not an .onnx file`, { hint: 'name the model.onnx inside it' });
  }
  if (!stat.isFile()) {
    throw new SdxlOptError('UNSAFE_PATH', `'${file}' is not a regular file (a device, FIFO or socket)`, {
      hint: 'sdxl-opt reads models only from regular files',
    });
  }
  if (stat.size > MAX_MODEL_FILE) {
    throw new SdxlOptError('BAD_PROTOBUF', `'${file}' is ${stat.size} bytes, more than a protobuf message can hold (2 GiB)`, {
      hint: 'models over 2 GiB keep their weights in external data files; this file is not an ONNX model',
    });
  }
  return fs.realpathSync(file);
}

export async function readModel(file: string, options: ReadModelOptions = {}): Promise<Model> {
  const real = checkModelFile(file);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(real);
  } catch (e) {
    throw new SdxlOptError('IO', `cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  return modelFromBytes(bytes, file, options);
}

/** The IR of a model held in memory; `file` names it in messages and anchors relative external-data locations. */
export function modelFromBytes(bytes: Uint8Array, file: string, options: ReadModelOptions = {}): Model {
  const proto = decodeModel(bytes, file);
  const resolver = new ExternalDataResolver(path.dirname(path.resolve(file)));
  const model = modelFromProto(proto, {
    source: file,
    externalData: (t, byteLength, where) => {
      const at = resolver.locate(t, byteLength, where);
      if ('missing' in at) {
        if (options.requireData) {
          throw new SdxlOptError('EXTERNAL_DATA', `external data file '${at.location}' is missing (looked for '${at.missing}')`, {
            where,
            hint: 'put the data file next to the model, or write synthetic weights with `sdxl-opt synth`',
          });
        }
        return new MissingData(byteLength, at.location, at.missing, where);
      }
      return new ExternalData(at);
    },
  });
  sources.set(model, { file: path.resolve(file), dataFiles: resolver.dataFiles() });
  return model;
}
