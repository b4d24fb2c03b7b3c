/**
 * Permuting the axes of a constant tensor without reading it now: a layout rewrite decides at optimization time and
 * the bytes move only when the writer streams the model (the SDXL UNet's conv weights are 5 GB that a pass over the
 * graph must not touch, and the graph-only fixture has no weights at all).
 */
import { SdxlOptError } from '../../src/errors.js';
import { BlockMappedData, wordView } from '../../src/ir/block-data.js';
import { ComputedData, Tensor } from '../../src/ir/tensor.js';
import { bitsPerElement, dataTypeName } from '../../src/onnx/dtype.js';

/** NCHW → NHWC, and back, as Transpose perms. */
export const TO_NHWC: readonly number[] = [0, 2, 3, 1];
export const TO_NCHW: readonly number[] = [0, 3, 1, 2];

/** out.dims[i] = dims[perm[i]], as ONNX Transpose. */
export function permutedDims<T>(dims: readonly T[], perm: readonly number[]): T[] {
  return perm.map((p) => dims[p]!);
}

/** The inverse permutation: inverse(perm)[perm[i]] = i. */
export function inversePerm(perm: readonly number[]): number[] {
  const out = new Array<number>(perm.length);
  perm.forEach((p, i) => (out[p] = i));
  return out;
}

/**
 * True when permuting moves only axes of size 1 relative to the others: then the bytes are already in the permuted
 * order and the result is a reshape ([C, 1, 1] → [1, 1, C], an OIHW 1×1 kernel → OHWI).
 */
export function permutationIsReshape(dims: readonly number[], perm: readonly number[]): boolean {
  const order = perm.filter((p) => dims[p] !== 1);
  return order.every((p, i) => i === 0 || p > order[i - 1]!);
}

/**
 * `tensor` with its axes permuted: the same bytes under new dims when that is exact, otherwise bytes computed when
 * someone reads them (the writer, or a test).
 */
export function permuteTensor(tensor: Tensor, perm: readonly number[]): Tensor {
  const dims = tensor.dims;
  if (perm.length !== dims.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new SdxlOptError('BAD_MODEL', `cannot permute a tensor of shape [${dims.join(', ')}] by [${perm.join(', ')}]`);
  }
  const outDims = permutedDims(dims, perm);
  if (permutationIsReshape(dims, perm)) return tensor.withDims(outDims);
  const bits = bitsPerElement(tensor.dtype);
  if (bits === 0 || bits % 8 !== 0) {
    throw new SdxlOptError('UNSUPPORTED', `cannot permute the axes of a ${dataTypeName(tensor.dtype)} tensor (elements smaller than a byte)`);
  }
  const elementBytes = bits / 8;
  const swap = blockSwapOf(dims, perm);
  if (swap && elementBytes <= 4) {
    const { outer, rows, cols } = swap;
    const block = rows * cols * elementBytes;
    const data = new BlockMappedData(
      [tensor.data],
      [block],
      block,
      outer,
      ([input], output, count) => {
        if (elementBytes === 4) {
          const [from, to] = [wordView(input!, 4) as Uint32Array, wordView(output, 4) as Uint32Array];
          for (let b = 0; b < count; b++) transposeWords(from, to, b * rows * cols, rows, cols);
        } else {
          for (let b = 0; b < count; b++) transposeElements(input!, output, b * rows * cols, rows, cols, elementBytes);
        }
      },
      `transpose [${perm.join(', ')}] of ${tensor.data.describe()}`,
    );
    return new Tensor(tensor.dtype, outDims, data);
  }
  const data = new ComputedData(
    tensor.byteLength,
    async () => transposeBytes(await tensor.bytes(), dims, perm, elementBytes),
    `transpose [${perm.join(', ')}] of ${tensor.data.describe()}`,
  );
  return new Tensor(tensor.dtype, outDims, data);
}

/**
 * A permutation that, once axes of size 1 are dropped and axes that stay neighbours are merged, keeps its leading
 * axes and swaps the last two groups: each of `outer` blocks is a [rows, cols] matrix to transpose. OIHW → OHWI is
 * one: O blocks of [I, H·W]. Undefined for any other permutation.
 */
export function blockSwapOf(dims: readonly number[], perm: readonly number[]): { outer: number; rows: number; cols: number } | undefined {
  const kept = perm.filter((p) => dims[p] !== 1);
  // Groups of input axes that stay adjacent and in order, in output order.
  const groups: number[][] = [];
  for (const p of kept) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1]! + 1 === p) last.push(p);
    else groups.push([p]);
  }
  const size = (g: readonly number[]) => g.reduce((n, p) => n * dims[p]!, 1);
  const byInput = [...groups].sort((a, b) => a[0]! - b[0]!);
  const k = groups.length;
  if (k < 2) return undefined;
  for (let i = 0; i < k - 2; i++) if (groups[i] !== byInput[i]) return undefined;
  if (groups[k - 2] !== byInput[k - 1] || groups[k - 1] !== byInput[k - 2]) return undefined;
  return { outer: byInput.slice(0, k - 2).reduce((n, g) => n * size(g), 1), rows: size(byInput[k - 2]!), cols: size(byInput[k - 1]!) };
}

/** TILE × TILE tiles keep both the rows read and the rows written in cache. */
const TILE = 32;

/** output[base + c·rows + r] = input[base + r·cols + c], for one [rows, cols] matrix of 32-bit words at `base`. */
export function transposeWords(input: Uint32Array, output: Uint32Array, base: number, rows: number, cols: number): void {
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(r0 + TILE, rows);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(c0 + TILE, cols);
      for (let r = r0; r < r1; r++) {
        const from = base + r * cols;
        for (let c = c0, to = base + c0 * rows + r; c < c1; c++, to += rows) output[to] = input[from + c]!;
      }
    }
  }
}

/** The same for elements of 1 or 2 bytes, byte by byte (float16 weights are rare enough not to need more). */
function transposeElements(input: Uint8Array, output: Uint8Array, base: number, rows: number, cols: number, size: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const from = (base + r * cols + c) * size;
      const to = (base + c * rows + r) * size;
      for (let k = 0; k < size; k++) output[to + k] = input[from + k]!;
    }
  }
}

/** Row-major transpose of raw elements of `elementBytes` bytes each. */
export function transposeBytes(bytes: Uint8Array, dims: readonly number[], perm: readonly number[], elementBytes: number): Uint8Array {
  const input = elementView(bytes, elementBytes);
  const out = new Uint8Array(bytes.byteLength);
  const output = elementView(out, elementBytes);
  const rank = dims.length;
  const outDims = permutedDims(dims, perm);
  const inStrides = stridesOf(dims);
  // Walking the output in order, the input index advances by the stride of the input axis each output axis maps to.
  const step = perm.map((p) => inStrides[p]!);
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  const count = output.length;
  for (let o = 0; o < count; o++) {
    output[o] = input[source]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      source += step[axis]!;
      if (index[axis]! < outDims[axis]!) break;
      source -= step[axis]! * outDims[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

/** Integer views copy bit patterns exactly (a float view could canonicalize NaN payloads). */
function elementView(bytes: Uint8Array, elementBytes: number): { length: number; [i: number]: number | bigint } {
  if (elementBytes === 1 || elementBytes === 2 || elementBytes === 4) return wordView(bytes, elementBytes);
  if (elementBytes !== 8) throw new SdxlOptError('UNSUPPORTED', `cannot transpose elements of ${elementBytes} bytes`);
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : Uint8Array.from(bytes);
  return new BigUint64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8);
}

function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * dims[i + 1]!;
  return strides;
}
