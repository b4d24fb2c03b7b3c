/**
 * What the fusion passes ask of values: shapes (from shape inference, run once per pass with the recipe's dims) and
 * the contents of small constants and shape computations. Inference's known values cover Constant nodes and shape
 * chains (`(Shape(x)[-1] + 1) / 2`), so a pass sees through them whether or not cleanup folded them first.
 */
import type { PassContext } from '../../src/engine/pass.js';
import { inferTypes } from '../../src/ir/infer/index.js';
import { knownFromTensor } from '../../src/ir/infer/known-values.js';
import type { KnownTensor } from '../../src/ir/infer/rule.js';
import { sameDim } from '../../src/ir/infer/index.js';
import type { Dim, Value } from '../../src/ir/value.js';

export class GraphFacts {
  private constructor(private readonly known: ReadonlyMap<Value, KnownTensor>) {}

  /** Runs shape inference (recording types on the values) and keeps what it knows of contents. */
  static infer(ctx: Pick<PassContext, 'graph' | 'dims'>): GraphFacts {
    return new GraphFacts(inferTypes(ctx.graph, { dims: ctx.dims }).knownValues);
  }

  /** Contents of a small constant or shape computation; elements may be symbolic dims. */
  contents(v: Value | undefined): KnownTensor | undefined {
    if (!v) return undefined;
    const k = this.known.get(v);
    if (k) return k;
    return v.isConstant && v.initializer ? knownFromTensor(v.initializer) : undefined;
  }

  /** Every element as a number, or undefined. */
  numbers(v: Value | undefined): number[] | undefined {
    const k = this.contents(v);
    return k && k.data.every((d): d is number => typeof d === 'number') ? (k.data as number[]) : undefined;
  }

  /**
   * The value of a one-element constant that cannot change the shape of what it is combined with: its rank is at
   * most `maxRank` (a [1, 1] constant broadcast onto a vector would make a matrix).
   */
  scalar(v: Value | undefined, maxRank = Infinity): number | undefined {
    const k = this.contents(v);
    if (!k || k.data.length !== 1 || k.dims.length > maxRank) return undefined;
    const x = k.data[0];
    return typeof x === 'number' ? x : undefined;
  }

  /** Elements as dims (numbers or symbolic names): for shape values such as an Expand target. */
  dims(v: Value | undefined): Dim[] | undefined {
    return this.contents(v)?.data;
  }
}

/** The shape, when at least the rank is known. */
export function shapeOf(v: Value | undefined): Dim[] | undefined {
  return v?.type?.shape;
}

/** Same rank, and every dim known to be the same (equal numbers or the same symbolic expression). */
export function sameShape(a: Value | undefined, b: Value | undefined): boolean {
  const x = shapeOf(a);
  const y = shapeOf(b);
  return !!x && !!y && x.length === y.length && x.every((d, i) => sameDim(d, y[i]));
}

/** The last dim as a number, when known. */
export function lastDim(v: Value | undefined): number | undefined {
  const s = shapeOf(v);
  const d = s?.[s.length - 1];
  return typeof d === 'number' ? d : undefined;
}

/** True when `x` is within `rel` (relative) of `target`: exporters store √2 in float32, some in float16. */
export function near(x: number | undefined, target: number, rel = 1e-3): boolean {
  return x !== undefined && Math.abs(x - target) <= rel * Math.abs(target);
}
