/** Numpy (multidirectional) broadcasting, as ONNX's elementwise operators and Expand use it. */
import { refuse, stridesOf } from './host-tensor.js';

export function broadcastDims(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const at = rank - s.length + i;
      const d = s[i]!;
      const have = out[at]!;
      if (d === have || d === 1) continue;
      if (have === 1) out[at] = d;
      else refuse(`shapes [${shapes.map((x) => x.join(', ')).join('] and [')}] do not broadcast`);
    }
  }
  return out;
}

/** For each element of `outDims`, the flat index of the element of `inDims` it reads. */
export function broadcastIndex(outDims: readonly number[], inDims: readonly number[]): Int32Array | undefined {
  const count = outDims.reduce((a, b) => a * b, 1);
  const inCount = inDims.reduce((a, b) => a * b, 1);
  if (inCount === count) return undefined; // same element count means same shape up to leading 1s: identity
  const index = new Int32Array(count);
  if (inCount === 1) return index; // all zeros
  const rank = outDims.length;
  const padded = [...new Array<number>(rank - inDims.length).fill(1), ...inDims];
  const inStrides = stridesOf(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  const counter = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < count; i++) {
    index[i] = at;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      at += inStrides[axis]!;
      if (counter[axis]! < outDims[axis]!) break;
      at -= inStrides[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return index;
}
