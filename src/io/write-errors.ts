/** File-system errors while writing, as SdxlOptErrors that say what to do. */
import path from 'node:path';
import { SdxlOptError } from '../errors.js';

export function writeError(e: unknown, file: string): SdxlOptError {
  const code = (e as NodeJS.ErrnoException).code;
  const dir = path.dirname(file);
  if (code === 'ENOSPC') {
    return new SdxlOptError('IO', `the disk is full while writing '${file}'`, {
      hint: `free space on the disk of '${dir}' (nothing was left behind; the inputs are untouched)`,
      cause: e,
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new SdxlOptError('IO', `no permission to write '${file}' (${code})`, { hint: `choose an output folder you can write to`, cause: e });
  }
  return new SdxlOptError('IO', `cannot write '${file}': ${code ?? String(e)}`, { cause: e });
}
