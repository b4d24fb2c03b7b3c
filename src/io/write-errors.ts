/** File-system errors while writing, as SdxlOptErrors that say what to do. */
import path from 'node:path';
import { SdxlOptError } from '../errors.js';

/** Temporary names (`model.onnx.tmp-<pid>-<random>`, `out.tmp-<pid>-<random>`) are renamed into place when complete. */
const TEMP_SUFFIX = /\.tmp-\d+-[a-z0-9]+(?=$|[\\/])/g;

/** What a write error names: the file or folder being made, not the temporary name it is written under. */
export function destinationOf(file: string): string {
  return file.replace(TEMP_SUFFIX, '');
}

export function writeError(e: unknown, written: string): SdxlOptError {
  const code = (e as NodeJS.ErrnoException).code;
  const file = destinationOf(written);
  const dir = path.dirname(file);
  if (code === 'ENOSPC') {
    return new SdxlOptError('IO', `the disk is full while writing '${file}'`, {
      hint: `free space on the disk of '${dir}'; nothing was left behind, and the inputs are untouched`,
      cause: e,
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new SdxlOptError('IO', `no permission to write '${file}' (${code})`, { hint: `choose an output folder you can write to`, cause: e });
  }
  return new SdxlOptError('IO', `cannot write '${file}': ${code ?? String(e)}`, { cause: e });
}
