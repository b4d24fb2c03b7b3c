/**
 * NaN and ±Infinity in the weights: a model that holds them produces garbage whatever the optimizer does, so
 * `inspect` says which tensors hold them. Reads each float initializer once, chunk by chunk, on its bit patterns
 * (an all-ones exponent); weights whose external data is absent are counted as unread, so a graph-only model still
 * inspects.
 */
import { isSdxlOptError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { DataType, dataTypeName } from '../onnx/dtype.js';

export interface NonFiniteTensor {
  name: string;
  dtype: string;
  nan: number;
  posInf: number;
  negInf: number;
}

export interface NonFiniteWeights {
  /** Float initializers read. */
  scanned: number;
  /** Float initializers whose data could not be read (external data absent). */
  unread: number;
  /** Tensors holding at least one NaN or ±Infinity, in graph order. */
  tensors: NonFiniteTensor[];
  /** Sums over `tensors`. */
  nan: number;
  posInf: number;
  negInf: number;
}

/** Bytes per element and the bits of an element's sign, exponent and mantissa, for the float types weights use. */
const LAYOUTS: Partial<Record<DataType, { bytes: 2 | 4 | 8; sign: bigint; exponent: bigint; mantissa: bigint }>> = {
  [DataType.FLOAT16]: { bytes: 2, sign: 0x8000n, exponent: 0x7c00n, mantissa: 0x03ffn },
  [DataType.BFLOAT16]: { bytes: 2, sign: 0x8000n, exponent: 0x7f80n, mantissa: 0x007fn },
  [DataType.FLOAT]: { bytes: 4, sign: 0x80000000n, exponent: 0x7f800000n, mantissa: 0x007fffffn },
  [DataType.DOUBLE]: { bytes: 8, sign: 0x8000000000000000n, exponent: 0x7ff0000000000000n, mantissa: 0x000fffffffffffffn },
};

/** Reading chunks a whole number of elements long, for every layout above. */
const CHUNK = 16 * 1024 * 1024;

export async function countNonFiniteWeights(graph: Graph): Promise<NonFiniteWeights> {
  const out: NonFiniteWeights = { scanned: 0, unread: 0, tensors: [], nan: 0, posInf: 0, negInf: 0 };
  for (const v of graph.initializers()) {
    const t = v.initializer!;
    const layout = LAYOUTS[t.dtype];
    if (!layout) continue;
    const counts = { nan: 0, posInf: 0, negInf: 0 };
    try {
      for await (const chunk of t.data.chunks(CHUNK)) countChunk(chunk, layout.bytes, layout, counts);
    } catch (e) {
      if (isSdxlOptError(e) && e.code === 'EXTERNAL_DATA') {
        out.unread++;
        continue;
      }
      throw e;
    }
    out.scanned++;
    if (counts.nan || counts.posInf || counts.negInf) {
      out.tensors.push({ name: v.name, dtype: dataTypeName(t.dtype), ...counts });
      out.nan += counts.nan;
      out.posInf += counts.posInf;
      out.negInf += counts.negInf;
    }
  }
  return out;
}

type Counts = { nan: number; posInf: number; negInf: number };

function countChunk(chunk: Uint8Array, bytes: 2 | 4 | 8, layout: NonNullable<(typeof LAYOUTS)[DataType]>, counts: Counts): void {
  const elements = Math.floor(chunk.byteLength / bytes);
  // Typed views need aligned offsets; a Buffer's slice() would share memory, so copy explicitly.
  const aligned = chunk.byteOffset % bytes === 0 ? chunk : new Uint8Array(chunk);
  if (bytes === 8) {
    const words = new BigUint64Array(aligned.buffer, aligned.byteOffset, elements);
    for (const bits of words) {
      if ((bits & layout.exponent) === layout.exponent) tally(bits & layout.mantissa ? 'nan' : bits & layout.sign ? 'negInf' : 'posInf', counts);
    }
    return;
  }
  // Narrower types in plain numbers: the loop over a 10 GB UNet must not allocate a BigInt per element.
  const words = bytes === 4 ? new Uint32Array(aligned.buffer, aligned.byteOffset, elements) : new Uint16Array(aligned.buffer, aligned.byteOffset, elements);
  const exponent = Number(layout.exponent);
  const mantissa = Number(layout.mantissa);
  const sign = Number(layout.sign);
  for (let i = 0; i < elements; i++) {
    const bits = words[i]!;
    if ((bits & exponent) === exponent) tally(bits & mantissa ? 'nan' : bits & sign ? 'negInf' : 'posInf', counts);
  }
}

function tally(kind: keyof Counts, counts: Counts): void {
  counts[kind]++;
}
