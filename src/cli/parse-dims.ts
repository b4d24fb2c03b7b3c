/** `--dims batch=2,height=128,width=128,sequence=77` → { batch: 2, ... }, checked. */
import { SdxlOptError } from '../errors.js';

export function parseDims(text: string | undefined): Record<string, number> {
  const dims: Record<string, number> = {};
  if (text === undefined || text.trim() === '') return dims;
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_][\w.]*)\s*=\s*(\d+)\s*$/.exec(part);
    const size = m ? Number(m[2]) : NaN;
    if (!m || !Number.isSafeInteger(size) || size < 1) {
      throw new SdxlOptError('BAD_PARAM', `--dims entry '${part.trim()}' is not name=size with a positive integer size`, {
        hint: 'write --dims batch=2,height=128,width=128,sequence=77',
      });
    }
    if (Object.hasOwn(dims, m[1]!)) throw new SdxlOptError('BAD_PARAM', `--dims names '${m[1]}' twice`);
    dims[m[1]!] = size;
  }
  return dims;
}
