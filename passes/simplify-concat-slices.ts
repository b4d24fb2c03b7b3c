/**
 * simplify-concat-slices: Slices that take whole parts back out of a Concat read those parts directly.
 *
 * Rules:
 * 1. A Slice of a Concat's output along the Concat's axis, step 1, whose [start, end) is exactly the span of
 *    inputs i..j (every input's size along the axis known), is replaced by input i when i = j, else by a Concat of
 *    inputs i..j. Bounds may be shape computations (shape inference evaluates them).
 * 2. A Concat that nothing reads any more goes, with what only it read.
 * 3. SDXL's sinusoidal embeddings (timestep and time_ids, diffusers' get_timestep_embedding with
 *    flip_sin_to_cos) compute Concat(sin, cos) and then swap the halves with two Slices and a Concat: this makes it
 *    Concat(cos, sin), three nodes fewer per embedding. The sines and cosines themselves depend on the timestep and
 *    time_ids inputs and cannot be folded, whatever dims are fixed.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { GraphFacts, shapeOf } from './lib/fusion-facts.js';
import { producedBy, removeUnread } from './lib/fusion-match.js';
import { bypass } from './lib/rewire.js';

export const simplifyConcatSlices = definePass<Record<string, never>>({
  name: 'simplify-concat-slices',
  description: 'Replaces Slices that take whole inputs back out of a Concat by those inputs.',
  params: {},
  run(ctx) {
    const { graph } = ctx;
    const slices = graph.nodes().filter((n) => n.is('Slice') && producedBy(n.input(0), 'Concat'));
    if (!slices.length) return unchanged('no Slice of a Concat', ['no Slice reads a Concat']);
    const facts = GraphFacts.infer(ctx);
    const counts = { slices: 0, kept: 0 };
    for (const slice of slices) {
      const parts = wholeParts(slice, facts);
      if (!parts) continue;
      const concat = slice.input(0)!.producer!;
      let replacement = parts[0]!;
      if (parts.length > 1) {
        const joined = graph.createNode({
          opType: 'Concat',
          name: `${slice.name}_parts`,
          inputs: parts,
          attributes: [...concat.attributes],
          types: [slice.output().type && { ...slice.output().type! }],
          pass: 'simplify-concat-slices',
        });
        graph.insertBefore(slice, joined);
        replacement = joined.output(0);
      }
      if (!bypass(graph, slice.output(), replacement)) {
        if (replacement.producer?.outputs.every((o) => o.useCount === 0)) graph.remove(replacement.producer);
        counts.kept++;
        continue;
      }
      const inputs = slice.inputs.filter((v): v is Value => v !== undefined);
      graph.remove(slice);
      removeUnread(graph, inputs);
      counts.slices++;
    }
    if (!counts.slices) return unchanged('no Slice takes whole Concat inputs', ['no Slice of a Concat covers exactly some of its inputs along its axis'], counts);
    return { changed: true, counts, summary: `replaced ${counts.slices} Slices of Concats by the Concat inputs they take` };
  },
});

/** The Concat inputs a Slice takes exactly, in order; undefined for any other Slice. */
function wholeParts(slice: Node, facts: GraphFacts): Value[] | undefined {
  const concat = slice.input(0)!.producer!;
  const rank = shapeOf(slice.input(0))?.length;
  if (rank === undefined || slice.attr('starts')) return undefined;
  const norm = (a: number) => (a < 0 ? a + rank : a);
  const axis = norm(concat.attrInt('axis', 0));
  const starts = facts.numbers(slice.input(1));
  const ends = facts.numbers(slice.input(2));
  const axes = slice.input(3) ? facts.numbers(slice.input(3)) : [0];
  const steps = slice.input(4) ? facts.numbers(slice.input(4)) : [1];
  if (starts?.length !== 1 || ends?.length !== 1 || axes?.length !== 1 || steps?.[0] !== 1 || norm(axes[0]!) !== axis) return undefined;
  const inputs = concat.inputs;
  const sizes = inputs.map((v) => shapeOf(v)?.[axis]);
  if (inputs.some((v) => !v) || !sizes.every((s): s is number => typeof s === 'number')) return undefined;
  const total = sizes.reduce((a, b) => a + b, 0);
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + total : i, 0), total);
  const [start, end] = [clamp(starts[0]!), clamp(ends[0]!)];
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const first = offsets.indexOf(start);
  const last = offsets.findIndex((o, i) => o + sizes[i]! === end);
  if (first < 0 || last < first || start === end) return undefined;
  return inputs.slice(first, last + 1) as Value[];
}
