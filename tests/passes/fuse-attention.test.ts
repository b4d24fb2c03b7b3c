import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeAttr } from '../../src/ir/attributes.js';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { fuseAttention } from '../../passes/fuse-attention.js';
import {
  constantsToInitializers,
  countOps,
  fixtureParity,
  FULL_UNET_GRAPH,
  loadFixture,
  once,
  parityOnCpu,
  runPass,
  SMALL_UNET_DYNAMO18,
  SMALL_UNET_TS17,
  smallUnetFeeds,
  VAE_DECODER,
  vaeFeeds,
} from '../helpers/attention-support.js';
import { tinyAttentionModel, tinyFeeds, type TinyAttentionOptions } from '../helpers/tiny-attention.js';

const PARITY = 1e-5;

function attentionNodes(model: Model): Node[] {
  return model.graph.nodes().filter((n) => n.is('MultiHeadAttention', 'com.microsoft'));
}

/** Heads and scale of every fused node, as 'heads/scale' strings with the scale to 6 digits. */
function headsAndScales(model: Model): Set<string> {
  return new Set(attentionNodes(model).map((n) => `${n.attrInt('num_heads')}/${n.attrFloat('scale')!.toPrecision(6)}`));
}

/** Each fixture fused once, shared by the test of its counts and the test of its outputs. */
const fused = Object.fromEntries(
  [SMALL_UNET_TS17, SMALL_UNET_DYNAMO18, VAE_DECODER].map((name) => [
    name,
    once(async () => {
      const model = loadFixture(name);
      return { model, result: await runPass(fuseAttention, model) };
    }),
  ]),
) as Record<string, () => Promise<{ model: Model; result: Awaited<ReturnType<typeof runPass>> }>>;

describe('fuse-attention', () => {
  it('fuses the 22 attention blocks of the TorchScript small UNet (11 self, 11 cross), heads and scale from the graph', async () => {
    const { model, result } = await fused[SMALL_UNET_TS17]!();
    assert.equal(result.changed, true);
    assert.deepEqual(result.counts, { softmax: 22, fused: 22, self: 11, cross: 11, causal: 0, biased: 0, unmatched: 0 });
    assert.equal(countOps(model.graph, 'Softmax'), 0);
    assert.equal(countOps(model.graph, 'MultiHeadAttention', 'com.microsoft'), 22);
    // 2 heads of 32: each side was multiplied by sqrt(1/sqrt(32)), so the scale is 1/sqrt(32).
    assert.deepEqual(headsAndScales(model), new Set(['2/0.176777']));
    assert.equal(model.opsets.get('com.microsoft'), 1);
    // The head-dim and scale computations (Sqrt) only fed the old subgraph: they are gone too.
    assert.equal(countOps(model.graph, 'Sqrt'), 0);
    const first = attentionNodes(model)[0]!;
    assert.equal(first.metadata('sdxl_opt.pass'), 'fuse-attention');
    assert.match(first.input(0)!.producer!.name, /attn1\/to_q\/MatMul$/);
    assert.match(first.input(1)!.producer!.name, /attn1\/to_k\/MatMul$/);
  });

  it('fuses the dynamo export, whose Kᵀ goes through a 3-D Reshape/Transpose round trip', async () => {
    const { model, result } = await fused[SMALL_UNET_DYNAMO18]!();
    assert.deepEqual(result.counts, { softmax: 22, fused: 22, self: 11, cross: 11, causal: 0, biased: 0, unmatched: 0 });
    assert.deepEqual(headsAndScales(model), new Set(['2/0.176777']));
  });

  it('fuses the VAE decoder mid-block attention: one head of 64, biased projections of a flattened feature map', async () => {
    const { model, result } = await fused[VAE_DECODER]!();
    assert.deepEqual(result.counts, { softmax: 1, fused: 1, self: 1, cross: 0, causal: 0, biased: 0, unmatched: 0 });
    assert.deepEqual(headsAndScales(model), new Set(['1/0.125000']));
    assert.equal(attentionNodes(model)[0]!.input(0)!.producer!.opType, 'Add');
  });

  it('fuses the full-size SDXL UNet graph: 140 blocks (70 self, 70 cross) with 10 and 20 heads, weights never read', async () => {
    // The weights file is not there: reading any weight would throw.
    const model = loadFixture(FULL_UNET_GRAPH);
    const result = await runPass(fuseAttention, model);
    assert.deepEqual(result.counts, { softmax: 140, fused: 140, self: 70, cross: 70, causal: 0, biased: 0, unmatched: 0 });
    assert.deepEqual(headsAndScales(model), new Set(['10/0.125000', '20/0.125000']));
    const cross = attentionNodes(model).filter((n) => n.input(1)!.producer!.input(0)!.name === 'encoder_hidden_states');
    assert.equal(cross.length, 70);
  });

  it('fires the same with fixed dims and with every constant already folded into an initializer', async () => {
    const model = loadFixture(SMALL_UNET_TS17);
    assert.ok(constantsToInitializers(model) > 800);
    const result = await runPass(fuseAttention, model, {}, { batch: 2, height: 16, width: 16, sequence: 77 });
    assert.deepEqual(result.counts, { softmax: 22, fused: 22, self: 11, cross: 11, causal: 0, biased: 0, unmatched: 0 });
    assert.deepEqual(headsAndScales(model), new Set(['2/0.176777']));
  });

  it('is idempotent: a second run changes nothing and says why', async () => {
    const model = loadFixture(VAE_DECODER);
    await runPass(fuseAttention, model);
    const nodes = model.graph.nodeCount;
    const again = await runPass(fuseAttention, model);
    assert.equal(again.changed, false);
    assert.deepEqual(again.reasons, ['the graph has no Softmax node']);
    assert.equal(model.graph.nodeCount, nodes);
  });

  it('does not fire on a Softmax that is not attention, and reports why', async () => {
    // A classifier head: logits = MatMul(x, W); Softmax over the classes.
    const graph = new Graph('classifier');
    const x = graph.createValue('x', { dtype: DataType.FLOAT, shape: [2, 8] });
    graph.inputs.push(x);
    const w = graph.createValue('w', { dtype: DataType.FLOAT, shape: [8, 3] });
    graph.inputs.push(w);
    const logits = graph.append(graph.createNode({ opType: 'MatMul', inputs: [x, w] })).output(0);
    const probs = graph.append(graph.createNode({ opType: 'Softmax', name: 'classes', inputs: [logits], attributes: [makeAttr('axis', -1)] })).output(0);
    graph.outputs.push(probs);
    const model = new Model(graph, 8, new Map([['', 17]]));
    const result = await runPass(fuseAttention, model);
    assert.equal(result.changed, false);
    assert.deepEqual(result.counts, { softmax: 1, fused: 0, self: 0, cross: 0, causal: 0, biased: 0, unmatched: 1 });
    assert.match(result.reasons![0]!, /node 'classes' \(Softmax\): its input is not a 4-D/);
    assert.equal(model.opsets.has('com.microsoft'), false);
  });

  const variants: [string, TinyAttentionOptions, number][] = [
    ['scale on Q and K as Constant nodes, Kᵀ by one Transpose', { scaleForm: 'both', scale: 0.3 }, 0.3],
    ['scores divided by a constant', { scaleForm: 'div', scale: 0.2 }, 0.2],
    ['Kᵀ by two Transposes, cross-attention, biases', { keyLayout: 'two-transposes', cross: true, bias: true, scale: 0.5 }, 0.5],
    ["Kᵀ by dynamo's 3-D round trip", { keyLayout: 'batched-swap', scaleForm: 'div', scale: 0.7 }, 0.7],
    ['symbolic batch and sequence', { symbolic: true, cross: true, scale: 0.25 }, 0.25],
  ];
  for (const [title, options, scale] of variants) {
    it(`tiny attention, ${title}: scale ${scale} computed, same outputs on ONNX Runtime CPU`, async () => {
      const model = tinyAttentionModel(options);
      const result = await runPass(fuseAttention, model);
      assert.equal(result.counts.fused, 1, result.reasons?.join('; '));
      const [mha] = attentionNodes(model);
      assert.equal(mha!.attrInt('num_heads'), 2);
      assert.ok(Math.abs(mha!.attrFloat('scale')! - scale) < 1e-6, `scale ${mha!.attrFloat('scale')}`);
      assert.equal(model.graph.nodeCount, options.bias ? 8 : 5); // 3 projections (+3 biases), MHA, output projection
      assert.ok((await parityOnCpu(tinyAttentionModel(options), model, tinyFeeds(options))) < PARITY);
    });
  }

  for (const [fixture, feeds] of [
    [SMALL_UNET_TS17, smallUnetFeeds],
    [SMALL_UNET_DYNAMO18, smallUnetFeeds],
    [VAE_DECODER, vaeFeeds],
  ] as const) {
    it(`keeps ${fixture}'s outputs on ONNX Runtime CPU within ${PARITY} relative L2`, async () => {
      const { model } = await fused[fixture]!();
      const error = await fixtureParity(fixture, model, feeds);
      assert.ok(error < PARITY, `relative L2 ${error}`);
    });
  }
});
