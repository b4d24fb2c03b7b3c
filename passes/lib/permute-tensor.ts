/**
 * Permuting the axes of a constant tensor without reading it now: a layout rewrite decides at optimization time and
 * the bytes move only when the writer streams the model (the SDXL UNet's conv weights are 5 GB that a pass over the
 * graph must not touch, and the graph-only fixture has no weights at all).
 */
import { SdxlOptError } from '../../src/errors.js';
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
  const data = new ComputedData(
    tensor.byteLength,
    async () => transposeBytes(await tensor.bytes(), dims, perm, elementBytes),
    `transpose [${perm.join(', ')}] of ${tensor.data.describe()}`,
  );
  return new Tensor(tensor.dtype, outDims, data);
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
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : Uint8Array.from(bytes);
  const { buffer, byteOffset, byteLength } = aligned;
  switch (elementBytes) {
    case 1:
      return aligned;
    case 2:
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 4:
      return new Uint32Array(buffer, byteOffset, byteLength / 4);
    case 8:
      return new BigUint64Array(buffer, byteOffset, byteLength / 8);
    default:
      throw new SdxlOptError('UNSUPPORTED', `cannot transpose elements of ${elementBytes} bytes`);
  }
}

function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * dims[i + 1]!;
  return strides;
}
