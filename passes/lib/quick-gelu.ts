/**
 * CLIP's quick_gelu, x · sigmoid(α·x) with α = 1.702 (the SDXL `text_encoder`'s activation), as TorchScript writes
 * it: Mul(x, α) → Sigmoid → Mul(x, ·). It is not the Erf Gelu and must not become one (they differ by up to 0.02);
 * com.microsoft.QuickGelu computes exactly this with its `alpha`. A plain SiLU, x · sigmoid(x), has no Mul before
 * its Sigmoid and is not matched: the VAE's and UNet's SiLUs stay for fuse-groupnorm.
 */
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';
import { shapeOf, type GraphFacts } from './fusion-facts.js';
import { otherInput, producedBy, soleReader } from './fusion-match.js';

export interface QuickGelu {
  x: Value;
  alpha: number;
  output: Value;
  nodes: Node[];
}

/** The quick_gelu around `sigmoid`, or why there is none. */
export function matchQuickGelu(sigmoid: Node, facts: GraphFacts): QuickGelu | { reason: string } {
  const scaled = sigmoid.input(0);
  const scale = producedBy(scaled, 'Mul');
  if (!scaled || !scale || soleReader(scaled) !== sigmoid) return { reason: 'the Sigmoid does not read α·x alone (a SiLU, or shared)' };
  const rank = shapeOf(scaled)?.length ?? Infinity;
  const [a, b] = [scale.input(0), scale.input(1)];
  const alphaOf = (v: Value | undefined) => facts.scalar(v, rank);
  const x = alphaOf(b) !== undefined ? a : alphaOf(a) !== undefined ? b : undefined;
  const alpha = x === a ? alphaOf(b) : alphaOf(a);
  if (!x || alpha === undefined || !Number.isFinite(alpha)) return { reason: 'the Sigmoid reads a product with no constant scalar α' };
  const gate = sigmoid.output(0);
  const product = soleReader(gate);
  if (!product?.is('Mul') || otherInput(product, gate) !== x) return { reason: 'sigmoid(α·x) is not multiplied by x' };
  return { x, alpha, output: product.output(0), nodes: [scale, sigmoid, product] };
}
