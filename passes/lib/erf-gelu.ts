/**
 * The exact Gelu as exporters write it out: gelu(x) = x · 0.5 · (1 + erf(x / √2)). Found from its Erf, in any
 * grouping of the three factors: TorchScript writes (x · (erf(x/√2) + 1)) · 0.5, dynamo x · (0.5 · (erf(x/√2) + 1)),
 * others (0.5 · x) · (1 + erf(x · (1/√2))). Constants are compared within 1e-3 relative (a float16 √2 is 1.4140625).
 */
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';
import { near, shapeOf, type GraphFacts } from './fusion-facts.js';
import { otherInput, producedBy, soleReader } from './fusion-match.js';

export interface ErfGelu {
  /** The Gelu's input. */
  x: Value;
  /** The value equal to gelu(x). */
  output: Value;
  /** Every node of the subgraph, Erf included; only `output` may be read outside them. */
  nodes: Node[];
}

/** The Gelu around `erf`, or why there is none. */
export function matchErfGelu(erf: Node, facts: GraphFacts): ErfGelu | { reason: string } {
  const scaled = erf.input(0);
  if (!scaled || soleReader(scaled) !== erf) return { reason: "the Erf's input is read elsewhere too" };
  const div = producedBy(scaled, 'Div');
  const mul = producedBy(scaled, 'Mul');
  const x = div ? div.input(0) : mul ? mul.inputs.find((v) => v && !isScalar(facts, v, Math.SQRT1_2)) : undefined;
  if (!x) return { reason: 'the Erf does not read x / √2' };
  const rank = shapeOf(x)?.length;
  if (rank === undefined) return { reason: 'the rank of the Erf input is unknown' };
  const scale = div ? facts.scalar(div.input(1), rank) : mul && facts.scalar(otherInput(mul, x), rank);
  if (!(div ? near(scale, Math.SQRT2) : near(scale, Math.SQRT1_2))) return { reason: 'the Erf does not read x / √2' };
  const nodes: Node[] = [(div ?? mul)!, erf];

  const erfOut = erf.output();
  const plusOne = soleReader(erfOut);
  if (!plusOne?.is('Add') || !near(facts.scalar(otherInput(plusOne, erfOut), rank), 1)) return { reason: 'erf(x/√2) is not followed by + 1' };
  nodes.push(plusOne);

  // Multiply out: each Mul takes the running product and one more factor (x, 0.5, or x·0.5 made by a Mul of its own).
  let product = plusOne.output();
  let haveX = false;
  let haveHalf = false;
  while (!(haveX && haveHalf)) {
    const next = soleReader(product);
    if (!next?.is('Mul')) return { reason: '1 + erf(x/√2) is not multiplied by x and 0.5' };
    const factor = otherInput(next, product);
    const inner = producedBy(factor, 'Mul');
    if (factor === x && !haveX) haveX = true;
    else if (!haveHalf && isScalar(facts, factor, 0.5, rank)) haveHalf = true;
    else if (!haveX && !haveHalf && inner && soleReader(factor!) === next && isHalfX(inner, x, facts, rank)) {
      haveX = haveHalf = true;
      nodes.push(inner);
    } else {
      return { reason: '1 + erf(x/√2) is multiplied by something other than x and 0.5' };
    }
    nodes.push(next);
    product = next.output();
  }
  return { x, output: product, nodes };
}

function isScalar(facts: GraphFacts, v: Value | undefined, target: number, maxRank = Infinity): boolean {
  return near(facts.scalar(v, maxRank), target);
}

/** A Mul of x and 0.5, in either order. */
function isHalfX(mul: Node, x: Value, facts: GraphFacts, rank: number): boolean {
  const other = otherInput(mul, x);
  return other !== undefined && isScalar(facts, other, 0.5, rank);
}
