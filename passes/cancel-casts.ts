/**
 * cancel-casts: removes Casts that cannot change any value.
 *
 * Rules:
 * 1. A Cast to the type its input already has is bypassed. The input type comes from the value's type, its
 *    initializer, or the `to` of the Cast that made it.
 * 2. Cast(to C) of Cast(to B) of a value of type A reads the value directly when A→B is exact for every value of A
 *    (bool→anything, int8→float16, int32→int64, float16→float32, float32→float64...): then A→B→C is A→C, and
 *    when C is A both Casts go. The first Cast goes when nothing else reads it.
 * 3. A round trip through a narrower type (float32→float16→float32 rounds; int64→int32→int64 wraps large values)
 *    changes values and stays, unless `allow_lossy_round_trips` says the caller accepts that.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import type { Graph } from '../src/ir/graph.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { bypass } from './lib/rewire.js';

export interface CancelCastsParams {
  allow_lossy_round_trips: boolean;
}

const D = DataType;

/** For each type, the types that hold every one of its values exactly. */
const EXACT_WIDENINGS: ReadonlyMap<number, ReadonlySet<number>> = new Map<number, ReadonlySet<number>>([
  [D.BOOL, new Set([D.INT8, D.UINT8, D.INT16, D.UINT16, D.INT32, D.UINT32, D.INT64, D.UINT64, D.FLOAT16, D.BFLOAT16, D.FLOAT, D.DOUBLE])],
  [D.INT8, new Set([D.INT16, D.INT32, D.INT64, D.FLOAT16, D.BFLOAT16, D.FLOAT, D.DOUBLE])],
  [D.UINT8, new Set([D.INT16, D.UINT16, D.INT32, D.UINT32, D.INT64, D.UINT64, D.FLOAT16, D.BFLOAT16, D.FLOAT, D.DOUBLE])],
  [D.INT16, new Set([D.INT32, D.INT64, D.FLOAT, D.DOUBLE])],
  [D.UINT16, new Set([D.INT32, D.UINT32, D.INT64, D.UINT64, D.FLOAT, D.DOUBLE])],
  [D.INT32, new Set([D.INT64, D.DOUBLE])],
  [D.UINT32, new Set([D.INT64, D.UINT64, D.DOUBLE])],
  [D.FLOAT16, new Set([D.FLOAT, D.DOUBLE])],
  [D.BFLOAT16, new Set([D.FLOAT, D.DOUBLE])],
  [D.FLOAT, new Set([D.DOUBLE])],
]);

export function isExactConversion(from: number, to: number): boolean {
  return from === to || (EXACT_WIDENINGS.get(from)?.has(to) ?? false);
}

export const cancelCasts = definePass<CancelCastsParams>({
  name: 'cancel-casts',
  description: 'Removes Casts to the type a value already has, and Cast pairs whose first step is exact.',
  params: {
    allow_lossy_round_trips: {
      type: 'boolean',
      description: 'Also remove round trips through a narrower type (float32→float16→float32), which change values.',
      default: false,
    },
  },
  run(ctx, params) {
    const graph = ctx.graph;
    const counts = { same_type: 0, pairs: 0, lossy_round_trips: 0 };
    let lossyKept = 0;
    for (const node of graph) {
      if (node.graph !== graph || !node.is('Cast')) continue;
      const input = node.input(0);
      const to = node.attrInt('to');
      if (!input || to === undefined) continue;
      if (elementTypeOf(input) === to) {
        if (bypassCast(graph, node, input)) counts.same_type++;
        continue;
      }
      const first = input.producer;
      if (first?.graph !== graph || !first.is('Cast')) continue;
      const source = first.input(0);
      const from = source && elementTypeOf(source);
      const middle = first.attrInt('to');
      if (!source || from === undefined || middle === undefined) continue;
      const exact = isExactConversion(from, middle);
      const lossyRoundTrip = !exact && from === to && params.allow_lossy_round_trips;
      if (!exact && !lossyRoundTrip) {
        if (from === to) lossyKept++;
        continue;
      }
      if (from === to) {
        if (!bypassCast(graph, node, source)) continue;
      } else {
        node.replaceInput(0, source);
      }
      if (first.output().useCount === 0 && !first.output().isGraphOutput) graph.remove(first);
      if (lossyRoundTrip) counts.lossy_round_trips++;
      else counts.pairs++;
    }
    const reasons = lossyKept ? [`${lossyKept} round trips through a narrower type change values and stay (allow_lossy_round_trips: false)`] : [];
    if (!counts.same_type && !counts.pairs && !counts.lossy_round_trips) {
      return unchanged('no Cast to cancel', reasons.length ? reasons : ['no Cast to its own type, and no Cast pair with an exact first step']);
    }
    return {
      changed: true,
      counts,
      summary: `removed ${counts.same_type} Casts to the same type, shortened ${counts.pairs} Cast pairs${counts.lossy_round_trips ? `, removed ${counts.lossy_round_trips} lossy round trips` : ''}`,
      reasons,
    };
  },
});

/** The element type of a value, where it is known without inference. */
function elementTypeOf(value: Value): number | undefined {
  const producer = value.producer;
  if (producer?.is('Cast')) return producer.attrInt('to');
  return value.initializer?.dtype ?? value.type?.dtype;
}

function bypassCast(graph: Graph, node: Node, source: Value): boolean {
  if (!bypass(graph, node.output(), source)) return false;
  graph.remove(node);
  return true;
}
