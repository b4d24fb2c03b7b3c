/**
 * remove-neutral-ops: operations that return their input unchanged are bypassed.
 *
 * Rules:
 * 1. x · 1, 1 · x, x / 1, x + 0, 0 + x and x − 0, where the constant has one element and a rank no higher than x's
 *    (so broadcasting changes neither shape nor type). TorchScript exports write these out: diffusers divides every
 *    attention output by rescale_output_factor and every resnet output by output_scale_factor, both 1.0, so each
 *    residual Add of an SDXL transformer block reads a Div by 1 that keeps its bias Add from fusing. (x + 0 turns
 *    −0 into +0; nothing downstream can tell.)
 * 2. Expand(x, shape) where broadcasting x to `shape` gives x's own shape: each target dim is 1 or the same as
 *    x's (symbolic dims compare by name), and the target's rank is at most x's. TorchScript expands the timestep
 *    to the batch size it already has.
 * 3. Graph output names are kept: a node between a graph input (or constant) and a graph output stays.
 */
import { definePass, unchanged } from '../src/engine/pass.js';
import { sameDim } from '../src/ir/infer/index.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { GraphFacts, shapeOf } from './lib/fusion-facts.js';
import { removeUnread } from './lib/fusion-match.js';
import { bypass } from './lib/rewire.js';

/** Which operand may be the neutral constant, and its value. */
const NEUTRAL: Record<string, { value: number; sides: readonly number[] }> = {
  Mul: { value: 1, sides: [0, 1] },
  Div: { value: 1, sides: [1] },
  Add: { value: 0, sides: [0, 1] },
  Sub: { value: 0, sides: [1] },
};

export const removeNeutralOps = definePass<Record<string, never>>({
  name: 'remove-neutral-ops',
  description: 'Bypasses x·1, x/1, x+0, x−0 and Expands to the shape a value already has.',
  params: {},
  run(ctx) {
    const { graph } = ctx;
    const counts = { arithmetic: 0, expand: 0, kept: 0 };
    const candidates = graph.nodes().filter((n) => (n.domain === '' || n.domain === 'ai.onnx') && (n.opType in NEUTRAL || n.opType === 'Expand'));
    if (!candidates.length) return unchanged('no Mul, Div, Add, Sub or Expand', ['the graph has none of the ops this pass looks at']);
    const facts = GraphFacts.infer(ctx);
    for (const node of candidates) {
      const kept = node.opType === 'Expand' ? neutralExpandInput(node, facts) : neutralArithmeticInput(node, facts);
      if (!kept) continue;
      const inputs = node.inputs.filter((v): v is Value => v !== undefined);
      if (!bypass(graph, node.output(), kept)) {
        counts.kept++;
        continue;
      }
      graph.remove(node);
      removeUnread(graph, inputs);
      if (node.opType === 'Expand') counts.expand++;
      else counts.arithmetic++;
    }
    const removed = counts.arithmetic + counts.expand;
    const reasons = counts.kept ? [`${counts.kept} neutral ops connect a graph input or constant to a graph output and stay to keep its name`] : [];
    if (!removed) return unchanged('no neutral op', reasons.length ? reasons : ['no Mul/Div by 1, Add/Sub of 0, or Expand to the same shape'], counts);
    return { changed: true, counts, summary: `bypassed ${counts.arithmetic} Mul/Div by 1 and Add/Sub of 0, ${counts.expand} Expands to the same shape`, reasons };
  },
});

/** The operand the node passes through unchanged, when the other is a neutral constant that cannot broadcast it. */
function neutralArithmeticInput(node: Node, facts: GraphFacts): Value | undefined {
  const rule = NEUTRAL[node.opType]!;
  for (const side of rule.sides) {
    const x = node.input(1 - side);
    const rank = shapeOf(x)?.length;
    if (!x || rank === undefined || x.type?.dtype !== node.output().type?.dtype) continue;
    if (facts.scalar(node.input(side), rank) === rule.value) return x;
  }
  return undefined;
}

function neutralExpandInput(node: Node, facts: GraphFacts): Value | undefined {
  const x = node.input(0);
  const shape = shapeOf(x);
  const target = facts.dims(node.input(1));
  if (!x || !shape || !target || target.length > shape.length) return undefined;
  const offset = shape.length - target.length;
  return target.every((d, i) => d === 1 || sameDim(d, shape[offset + i])) ? x : undefined;
}
