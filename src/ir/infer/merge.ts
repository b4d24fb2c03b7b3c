/** Combining a recorded type (value_info, or what an earlier pass set) with what inference derives. */
import { dataTypeName } from '../../onnx/dtype.js';
import type { Dim, TensorType } from '../value.js';
import { shapeText } from './shape-util.js';

export interface Merged {
  type: TensorType;
  /** Set when the two cannot both be right: what differs. */
  conflict?: string;
}

/**
 * Per dim, a number beats a name and a name beats unknown; of two names the recorded one stays (two names
 * cannot be proven different). A different element type, rank or size is a conflict, and the inferred type
 * wins: it is what the graph computes.
 */
export function mergeTypes(recorded: TensorType | undefined, inferred: TensorType): Merged {
  if (!recorded) return { type: inferred };
  if (recorded.dtype !== inferred.dtype) {
    return {
      type: { dtype: inferred.dtype, shape: inferred.shape ?? recorded.shape },
      conflict: `element type ${dataTypeName(recorded.dtype)} recorded, ${dataTypeName(inferred.dtype)} inferred`,
    };
  }
  if (!recorded.shape) return { type: inferred };
  if (!inferred.shape) return { type: recorded };
  if (recorded.shape.length !== inferred.shape.length) {
    return { type: inferred, conflict: `shape ${shapeText(recorded.shape)} recorded, ${shapeText(inferred.shape)} inferred` };
  }
  let clash = false;
  const shape = recorded.shape.map((r, i): Dim => {
    const n = inferred.shape![i];
    if (typeof r === 'number' && typeof n === 'number' && r !== n) clash = true;
    if (typeof n === 'number') return n;
    if (typeof r === 'number') return r;
    return r ?? n;
  });
  const type = { dtype: inferred.dtype, shape };
  return clash ? { type, conflict: `shape ${shapeText(recorded.shape)} recorded, ${shapeText(inferred.shape)} inferred` } : { type };
}

export function sameType(a: TensorType | undefined, b: TensorType | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.dtype !== b.dtype) return false;
  if (!a.shape || !b.shape) return a.shape === b.shape;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape![i]);
}

export function typeText(t: TensorType | undefined): string {
  return t ? `${dataTypeName(t.dtype)}${t.shape ? shapeText(t.shape) : ''}` : 'unknown';
}
