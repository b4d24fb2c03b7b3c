/** Shape helpers shared by the rules: broadcasting, merging dims that must agree, axes. */
import type { Dim } from '../value.js';
import { sameDim } from './dim-expr.js';

/**
 * numpy broadcasting of several shapes. A known size other than 1 wins; two different known sizes are a problem
 * (reported through `problem`); two different symbolic dims are assumed equal and the first is kept.
 */
export function broadcastShapes(shapes: readonly (readonly Dim[])[], problem?: (message: string) => void): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let known: number | undefined;
    let symbolic: string | undefined;
    let unknown = false;
    for (const s of shapes) {
      const d = s[s.length - rank + i];
      if (s.length - rank + i < 0) continue;
      if (d === undefined) unknown = true;
      else if (typeof d === 'number') {
        if (d === 1) continue;
        if (known !== undefined && known !== d) problem?.(`cannot broadcast shapes ${shapes.map(shapeText).join(' and ')}`);
        known ??= d;
      } else symbolic ??= d;
    }
    out.push(known ?? symbolic ?? (unknown ? undefined : 1));
  }
  return out;
}

/** Two dims that must be equal: a number beats a name, a name beats unknown; a clash of numbers is reported. */
export function mergeDim(a: Dim, b: Dim, problem?: (message: string) => void, what = 'dims'): Dim {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) problem?.(`${what} differ: ${a} vs ${b}`);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a ?? b;
}

/** A negative axis counted from the end; undefined when out of range. */
export function normalizeAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

/**
 * Ranks above this are not shapes but corrupt or hostile lengths (a shape tensor claiming 2^40 dims): inference
 * leaves such a rank unknown rather than allocate it. SDXL tensors have rank 5 at most.
 */
export const MAX_RANK = 64;

/** `rank` unknown dims; undefined (rank unknown too) when `rank` is not a count from 0 to MAX_RANK. */
export function unknownDims(rank: Dim): Dim[] | undefined {
  return typeof rank === 'number' && Number.isInteger(rank) && rank >= 0 && rank <= MAX_RANK ? new Array<Dim>(rank).fill(undefined) : undefined;
}

export function isStatic(shape: readonly Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export function shapeText(shape: readonly Dim[] | undefined): string {
  return shape ? `[${shape.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]` : '[?]';
}

export function dimsEqual(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i] || sameDim(d, b[i]));
}
