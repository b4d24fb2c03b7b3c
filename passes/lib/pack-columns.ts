/**
 * Weights of several projections side by side, as one lazy tensor: its bytes are produced only when the writer
 * streams it, from the sources' bytes (read then, one tensor at a time), so fusing the projections of a 10 GB model
 * reads nothing while the graph is rewritten.
 */
import { SdxlOptError } from '../../src/errors.js';
import { ComputedData, Tensor } from '../../src/ir/tensor.js';
import { bitsPerElement, dataTypeName } from '../../src/onnx/dtype.js';

/**
 * Sources [rows, cols_t] (or 1-D [cols_t], a bias) become [rows, Σ cols_t]. Each source's columns are cut into
 * `blocks` equal runs, and output row r is: for each block b, for each source t, run b of source t's row r.
 * blocks = 1 concatenates ([Wq | Wk | Wv]); blocks = N heads with runs of head_size interleaves per head, the
 * [N][3][H] column order a Reshape to (…, N, 3, H) needs.
 */
export function packColumns(sources: readonly Tensor[], blocks: number, description: string): Tensor {
  const first = sources[0];
  if (!first) throw new SdxlOptError('BAD_PARAM', 'packColumns needs at least one tensor');
  const { dtype } = first;
  const rank = first.dims.length;
  const rows = rank === 2 ? first.dims[0]! : 1;
  const bits = bitsPerElement(dtype);
  if (bits % 8 !== 0 || bits === 0) throw new SdxlOptError('UNSUPPORTED', `cannot pack ${dataTypeName(dtype)} weights (not whole bytes per element)`);
  const elementBytes = bits / 8;
  for (const t of sources) {
    const tRows = rank === 2 ? t.dims[0] : 1;
    if (t.dtype !== dtype || t.dims.length !== rank || (rank !== 1 && rank !== 2) || tRows !== rows || t.dims[rank - 1]! % blocks !== 0) {
      throw new SdxlOptError('BAD_TENSOR', `cannot pack [${t.dims.join(', ')}] ${dataTypeName(t.dtype)} with [${first.dims.join(', ')}] ${dataTypeName(dtype)} in ${blocks} blocks`, {
        where: description,
      });
    }
  }
  const cols = sources.map((t) => t.dims[rank - 1]!);
  const totalCols = cols.reduce((a, b) => a + b, 0);
  const rowBytes = cols.map((c) => c * elementBytes);
  const runBytes = rowBytes.map((b) => b / blocks);
  const byteLength = rows * totalCols * elementBytes;

  const produce = async (): Promise<Uint8Array> => {
    const bytes: Uint8Array[] = [];
    for (const t of sources) bytes.push(await t.bytes());
    const out = new Uint8Array(byteLength);
    let at = 0;
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < blocks; b++) {
        for (let t = 0; t < bytes.length; t++) {
          const start = r * rowBytes[t]! + b * runBytes[t]!;
          out.set(bytes[t]!.subarray(start, start + runBytes[t]!), at);
          at += runBytes[t]!;
        }
      }
    }
    return out;
  };
  const dims = rank === 2 ? [rows, totalCols] : [totalCols];
  return new Tensor(dtype, dims, new ComputedData(byteLength, produce, description));
}
