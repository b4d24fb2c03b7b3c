/**
 * External data: tensors whose bytes live in files beside the model. Locations are untrusted input: one that is
 * absolute, climbs with '..', or resolves (through symlinks) outside the model's directory is refused, the
 * path-traversal class of the 2024 ONNX CVEs. Offsets and lengths are checked against the file and the tensor's
 * dtype × shape before any byte is read; bytes are read on demand, in bounded chunks.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SdxlOptError } from '../errors.js';
import { DEFAULT_CHUNK, type TensorData } from '../ir/tensor.js';
import type { StringStringEntryProto, TensorProto } from '../onnx/types.js';

export interface ExternalLocation {
  /** The location as written in the model (relative to the model's directory). */
  location: string;
  /** The file's resolved path (symlinks followed). */
  file: string;
  offset: number;
  length: number;
}

/** Checks a location string alone: relative, no '..', no drive letters, no NUL. */
export function checkLocationSyntax(location: string, where: string): void {
  const refuse = (why: string): never => {
    throw new SdxlOptError('UNSAFE_PATH', `external data location '${location}' ${why}`, {
      where,
      hint: 'external data must live in the model\'s own directory; a model that points elsewhere may be hostile',
    });
  };
  if (location === '') refuse('is empty');
  if (location.includes('\0')) refuse('contains a NUL character');
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) refuse('is an absolute path');
  if (location.split(/[\\/]/).includes('..')) refuse("contains '..'");
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function parseSize(value: string | undefined, key: string, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new SdxlOptError('EXTERNAL_DATA', `external data ${key} '${value}' is not a valid byte count`, { where });
  }
  return Number(value);
}

export function externalEntries(t: TensorProto): Map<string, string> {
  return new Map((t.external_data ?? []).map((e: StringStringEntryProto) => [e.key ?? '', e.value ?? '']));
}

/** Where an external tensor says its bytes are, before any file is looked at. */
export interface ExternalPlacement {
  location: string;
  offset: number;
  length: number;
}

/** The location, offset and length an external tensor declares, checked against its dtype × shape (`byteLength`). */
export function externalPlacement(t: TensorProto, byteLength: number, where: string): ExternalPlacement {
  const entries = externalEntries(t);
  const location = entries.get('location');
  if (location === undefined) throw new SdxlOptError('EXTERNAL_DATA', 'external tensor has no location', { where });
  checkLocationSyntax(location, where);
  const offset = parseSize(entries.get('offset'), 'offset', where) ?? 0;
  const length = parseSize(entries.get('length'), 'length', where) ?? byteLength;
  if (length !== byteLength) {
    throw new SdxlOptError('EXTERNAL_DATA', `external data length ${length} does not match the tensor's ${byteLength} bytes (dtype × shape)`, {
      where,
      hint: 'the model and its data file disagree; re-export the model',
    });
  }
  return { location, offset, length };
}

/** Resolves and checks data files once per model; stats are cached, so 1,000 tensors cost one stat per file. */
export class ExternalDataResolver {
  private readonly files = new Map<string, { file: string; size: number } | { missing: string }>();
  private realModelDir: string | undefined;

  /** `modelDir` need not exist (a model held in memory): it is resolved when the first data file is found. */
  constructor(readonly modelDir: string) {}

  /** The data files read so far (resolved paths), so writers can refuse to overwrite them. */
  dataFiles(): string[] {
    return [...this.files.values()].flatMap((f) => ('file' in f ? [f.file] : []));
  }

  locate(t: TensorProto, byteLength: number, where: string): ExternalLocation | { missing: string; location: string } {
    const { location, offset, length } = externalPlacement(t, byteLength, where);
    const file = this.resolve(location, where);
    if ('missing' in file) return { missing: file.missing, location };
    if (offset + length > file.size) {
      throw new SdxlOptError('EXTERNAL_DATA', `bytes ${offset}..${offset + length} lie past the end of '${location}' (${file.size} bytes)`, {
        where,
        hint: 'the data file is truncated or belongs to another model',
      });
    }
    return { location, file: file.file, offset, length };
  }

  private resolve(location: string, where: string): { file: string; size: number } | { missing: string } {
    const cached = this.files.get(location);
    if (cached) return cached;
    const joined = path.join(this.modelDir, location);
    let entry: { file: string; size: number } | { missing: string };
    let real: string;
    try {
      real = fs.realpathSync(joined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, joined, where);
      entry = { missing: joined };
      this.files.set(location, entry);
      return entry;
    }
    try {
      this.realModelDir ??= fs.realpathSync(this.modelDir);
    } catch (e) {
      throw ioError(e, this.modelDir, where);
    }
    const rel = path.relative(this.realModelDir, real);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new SdxlOptError('UNSAFE_PATH', `external data location '${location}' resolves to '${real}', outside the model's directory`, {
        where,
        hint: 'a symlink leads out of the model directory; copy the data file next to the model instead',
      });
    }
    const stat = fs.statSync(real);
    if (!stat.isFile()) {
      throw new SdxlOptError('EXTERNAL_DATA', `external data location '${location}' is not a regular file`, { where });
    }
    entry = { file: real, size: stat.size };
    this.files.set(location, entry);
    return entry;
  }
}

function ioError(e: unknown, file: string, where: string): SdxlOptError {
  const err = e as NodeJS.ErrnoException;
  return new SdxlOptError('IO', `cannot read '${file}': ${err.code ?? err.message}`, { where, cause: e });
}

/**
 * Read buffers of DEFAULT_CHUNK bytes, reused from one tensor to the next. Rewriting the full UNet reads 1,183
 * tensors; a fresh 16 MiB buffer for each cost about 2 GB of page faults. Each reader takes two (it reads ahead);
 * a few are kept for reuse. Reads under 64 KiB use small buffers of their own.
 */
const READ_BUFFER_POOL: Buffer[] = [];
const POOLED_BUFFERS_KEPT = 8;

function takeReadBuffer(bytes: number): Buffer {
  if (bytes < 64 * 1024) return Buffer.allocUnsafeSlow(bytes);
  const pooled = bytes <= DEFAULT_CHUNK ? (READ_BUFFER_POOL.pop() ?? Buffer.allocUnsafeSlow(DEFAULT_CHUNK)) : Buffer.allocUnsafeSlow(bytes);
  return pooled.subarray(0, bytes);
}

function giveBackReadBuffer(buffer: Buffer): void {
  if (buffer.buffer.byteLength === DEFAULT_CHUNK && READ_BUFFER_POOL.length < POOLED_BUFFERS_KEPT) {
    READ_BUFFER_POOL.push(Buffer.from(buffer.buffer, 0, DEFAULT_CHUNK));
  }
}

/** Bytes of one external tensor, read in bounded chunks into a reused buffer. */
export class ExternalData implements TensorData {
  constructor(readonly at: ExternalLocation) {}

  get byteLength(): number {
    return this.at.length;
  }

  get inMemory(): undefined {
    return undefined;
  }

  /**
   * Reads ahead: the next chunk is read while the caller works on this one (two buffers, taking turns), so the
   * read from disk or page cache overlaps the conversion or copy of the chunk before it.
   */
  async *chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    if (this.at.length === 0) return;
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(this.at.file, 'r');
    } catch (e) {
      throw ioError(e, this.at.file, this.describe());
    }
    const size = Math.min(maxChunk, this.at.length);
    const buffers = [takeReadBuffer(size), ...(size < this.at.length ? [takeReadBuffer(size)] : [])];
    const readChunk = (k: number): Promise<void> => {
      const start = k * size;
      const read = this.readFully(handle, buffers[k % buffers.length]!, Math.min(size, this.at.length - start), start);
      read.catch(() => undefined); // awaited below; this keeps a failure meanwhile from counting as unhandled
      return read;
    };
    let pending: Promise<void> | undefined = readChunk(0);
    try {
      for (let k = 0; k * size < this.at.length; k++) {
        await pending;
        const start = k * size;
        const want = Math.min(size, this.at.length - start);
        pending = start + want < this.at.length ? readChunk(k + 1) : undefined;
        yield buffers[k % buffers.length]!.subarray(0, want);
      }
    } finally {
      // A caller that stops early leaves a read in flight: let it land before its buffer and file go.
      await pending?.catch(() => undefined);
      buffers.forEach(giveBackReadBuffer);
      await handle.close();
    }
  }

  private async readFully(handle: fsp.FileHandle, buffer: Buffer, want: number, start: number): Promise<void> {
    for (let got = 0; got < want; ) {
      const { bytesRead } = await handle.read(buffer, got, want - got, this.at.offset + start + got);
      if (bytesRead === 0) {
        throw new SdxlOptError('EXTERNAL_DATA', `'${this.at.location}' ended at byte ${this.at.offset + start + got}, before the tensor's end`, {
          where: this.describe(),
          hint: 'the data file shrank or is truncated',
        });
      }
      got += bytesRead;
    }
  }

  describe(): string {
    return `${this.at.location} @ ${this.at.offset}+${this.at.length}`;
  }
}

/** Stands for the bytes of a tensor whose data file is absent: metadata works, reading says what is missing. */
export class MissingData implements TensorData {
  constructor(
    readonly byteLength: number,
    private readonly location: string,
    private readonly file: string,
    /** The tensor, for the error (model file: initializer name). */
    private readonly where?: string,
  ) {}

  get inMemory(): undefined {
    return undefined;
  }

  // eslint-disable-next-line require-yield
  async *chunks(): AsyncIterable<Uint8Array> {
    throw new SdxlOptError('EXTERNAL_DATA', `external data file '${this.location}' is missing (looked for '${this.file}')`, {
      where: this.where,
      hint: 'put the data file next to the model, or write synthetic weights with `sdxl-opt synth`',
    });
  }

  describe(): string {
    return `${this.location} (missing)`;
  }
}
