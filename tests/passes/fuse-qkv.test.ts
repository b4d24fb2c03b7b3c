import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { BlockMappedData } from '../../src/ir/block-data.js';
import { InlineData, Tensor, typedView } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { fuseAttention } from '../../passes/fuse-attention.js';
import { fuseQkv } from '../../passes/fuse-qkv.js';
import { packColumns } from '../../passes/lib/pack-columns.js';
import {
  countOps,
  fixtureParity,
  FULL_UNET_GRAPH,
  loadFixture,
  parityOnCpu,
  runPass,
  SMALL_UNET_DYNAMO18,
  SMALL_UNET_TS17,
  smallUnetFeeds,
  VAE_DECODER,
  vaeFeeds,
  type Feeds,
} from '../helpers/attention-support.js';
import { lowerMultiHeadAttention } from '../helpers/lower-mha.js';
import { tinyAttentionModel, tinyClipAttentionModel, tinyFeeds, type TinyAttentionOptions } from '../helpers/tiny-attention.js';

const PARITY = 1e-5;

function floats(dims: number[], values: number[]): Tensor {
  return new Tensor(DataType.FLOAT, dims, new InlineData(new Uint8Array(new Float32Array(values).buffer)));
}

async function elements(t: Tensor): Promise<number[]> {
  return [...(typedView(t.dtype, await t.bytes()) as Float32Array)];
}

function attentionNodes(model: Model): Node[] {
  return model.graph.nodes().filter((n) => n.is('MultiHeadAttention', 'com.microsoft'));
}

/** A fixture after fuse-attention (optionally) and fuse-qkv. */
async function fusedFixture(name: string, options: { attention: boolean; packed: boolean }) {
  const model = loadFixture(name);
  if (options.attention) await runPass(fuseAttention, model);
  const result = await runPass(fuseQkv, model, { packed: options.packed });
  return { model, result };
}

describe('fuse-qkv', () => {
  it('packColumns concatenates columns, or interleaves them per head, lazily', async () => {
    const a = floats([2, 4], [0, 1, 2, 3, 4, 5, 6, 7]);
    const b = floats([2, 4], [10, 11, 12, 13, 14, 15, 16, 17]);
    const c = floats([2, 4], [20, 21, 22, 23, 24, 25, 26, 27]);
    const concatenated = packColumns([a, b, c], 1, 'test');
    assert.ok(concatenated.data instanceof BlockMappedData, 'packed row by row when written');
    assert.equal(concatenated.data.inMemory, undefined);
    assert.deepEqual(concatenated.dims, [2, 12]);
    assert.deepEqual(await elements(concatenated), [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 4, 5, 6, 7, 14, 15, 16, 17, 24, 25, 26, 27]);
    // 2 heads of 2: row r is [head 0: a b c][head 1: a b c], the (…, N, 3, H) order.
    const interleaved = packColumns([a, b, c], 2, 'test');
    assert.deepEqual(await elements(interleaved), [0, 1, 10, 11, 20, 21, 2, 3, 12, 13, 22, 23, 4, 5, 14, 15, 24, 25, 6, 7, 16, 17, 26, 27]);
    const biases = packColumns([floats([4], [0, 1, 2, 3]), floats([4], [10, 11, 12, 13])], 2, 'test');
    assert.deepEqual(biases.dims, [8]);
    assert.deepEqual(await elements(biases), [0, 1, 10, 11, 2, 3, 12, 13]);
  });

  it('packs the small UNet after fuse-attention: 11 QKV and 11 KV groups feed packed MultiHeadAttention inputs', async () => {
    const { model, result } = await fusedFixture(SMALL_UNET_TS17, { attention: true, packed: true });
    assert.deepEqual(result.counts, { attention: 22, qkv: 11, kv: 11, packed: 22, split: 0, skipped: 0 });
    const mhas = attentionNodes(model);
    const self = mhas.filter((n) => n.inputs.length === 1);
    const cross = mhas.filter((n) => n.inputs.length === 2);
    assert.equal(self.length, 11);
    assert.equal(cross.length, 11);
    assert.deepEqual(self[0]!.input(0)!.shape, ['batch', 'floor((height+1)/2)*floor((width+1)/2)', 2, 3, 32]);
    assert.deepEqual(cross[0]!.input(1)!.shape, ['batch', 'sequence', 2, 2, 32]);
    const qkvWeight = self[0]!.input(0)!.producer!.input(0)!.producer!.input(1)!;
    assert.deepEqual(qkvWeight.initializer!.dims, [64, 192]);
    // Only the fused K/V MatMuls read encoder_hidden_states now.
    assert.equal(model.graph.value('encoder_hidden_states')!.consumers().length, 11);
  });

  it('packed QKV and KV weights, lowered to standard ops, give the small UNet outputs on CPU (TorchScript and dynamo)', async () => {
    for (const name of [SMALL_UNET_TS17, SMALL_UNET_DYNAMO18]) {
      const { model } = await fusedFixture(name, { attention: true, packed: true });
      assert.equal(lowerMultiHeadAttention(model), 22);
      const error = await fixtureParity(name, model, smallUnetFeeds);
      assert.ok(error < PARITY, `${name}: relative L2 ${error}`);
    }
  });

  it('packed:false splits the fused projection for MultiHeadAttention; ONNX Runtime CPU runs it as is', async () => {
    const { model, result } = await fusedFixture(SMALL_UNET_TS17, { attention: true, packed: false });
    assert.deepEqual(result.counts, { attention: 22, qkv: 11, kv: 11, packed: 0, split: 22, skipped: 0 });
    assert.equal(countOps(model.graph, 'Split'), 22);
    assert.ok(attentionNodes(model).every((n) => n.inputs.length === 3 && n.input(1)!.producer!.is('Split')));
    const error = await fixtureParity(SMALL_UNET_TS17, model, smallUnetFeeds);
    assert.ok(error < PARITY, `relative L2 ${error}`);
  });

  it('without fuse-attention, fuses the projections of the Softmax attention patterns and splits them', async () => {
    const { model, result } = await fusedFixture(SMALL_UNET_TS17, { attention: false, packed: true });
    assert.deepEqual(result.counts, { attention: 22, qkv: 11, kv: 11, packed: 0, split: 22, skipped: 0 });
    assert.equal(countOps(model.graph, 'Softmax'), 22);
    const error = await fixtureParity(SMALL_UNET_TS17, model, smallUnetFeeds);
    assert.ok(error < PARITY, `relative L2 ${error}`);
    assert.equal((await runPass(fuseQkv, model)).changed, false);
    // fuse-attention still recognizes every block through the Split.
    const attention = await runPass(fuseAttention, model);
    assert.deepEqual(attention.counts, { softmax: 22, fused: 22, self: 11, cross: 11, causal: 0, biased: 0, unmatched: 0 });
  });

  it('the dynamo export splits alike (packed:false) with the same outputs', async () => {
    const { model, result } = await fusedFixture(SMALL_UNET_DYNAMO18, { attention: true, packed: false });
    assert.deepEqual(result.counts, { attention: 22, qkv: 11, kv: 11, packed: 0, split: 22, skipped: 0 });
    const error = await fixtureParity(SMALL_UNET_DYNAMO18, model, smallUnetFeeds);
    assert.ok(error < PARITY, `relative L2 ${error}`);
  });

  it('fuses the VAE decoder attention with its biases, packed (lowered) and split', async () => {
    for (const packed of [true, false]) {
      const { model, result } = await fusedFixture(VAE_DECODER, { attention: true, packed });
      assert.deepEqual(result.counts, { attention: 1, qkv: 1, kv: 0, packed: packed ? 1 : 0, split: packed ? 0 : 1, skipped: 0 });
      const bias = model.graph.initializers().find((v) => v.name.endsWith('.bias') && v.name.includes('to_qkv'));
      assert.deepEqual(bias?.initializer!.dims, [192]);
      if (packed) lowerMultiHeadAttention(model);
      const error = await fixtureParity(VAE_DECODER, model, vaeFeeds);
      assert.ok(error < PARITY, `packed ${packed}: relative L2 ${error}`);
    }
  });

  it('fuses the full SDXL UNet graph: 70 QKV and 70 KV groups, new weights lazy, old ones gone, no weight read', async () => {
    // The weights file is not there: reading any weight would throw.
    const model = loadFixture(FULL_UNET_GRAPH);
    await runPass(fuseAttention, model);
    const before = model.graph.initializers().length;
    const result = await runPass(fuseQkv, model);
    assert.deepEqual(result.counts, { attention: 140, qkv: 70, kv: 70, packed: 140, split: 0, skipped: 0 });
    const fused = model.graph.initializers().filter((v) => v.initializer!.data instanceof BlockMappedData);
    assert.equal(fused.length, 140);
    const shapes = new Set(fused.map((v) => v.initializer!.dims.join('x')));
    assert.deepEqual(shapes, new Set(['640x1920', '1280x3840', '2048x1280', '2048x2560']));
    // 350 projection weights became 140 packed weights, plus 140 reshape targets.
    assert.equal(model.graph.initializers().length, before - 350 + 140 + 140);
  });

  it('splits instead of packing when the target is the CPU, which has no packed kernel', async () => {
    const model = tinyAttentionModel({ bias: true });
    await runPass(fuseAttention, model);
    const result = await runPass(fuseQkv, model, { packed: true }, {}, 'cpu');
    assert.deepEqual(result.counts, { attention: 1, qkv: 1, kv: 0, packed: 0, split: 1, skipped: 0 });
    assert.ok((await parityOnCpu(tinyAttentionModel({ bias: true }), model, tinyFeeds({ bias: true }))) < PARITY);
  });

  it('fuses the CLIP text encoder form (3-D heads-in-batch, causal mask) that fuse-attention leaves alone', async () => {
    const model = tinyClipAttentionModel();
    const attention = await runPass(fuseAttention, model);
    assert.equal(attention.changed, false);
    assert.match(attention.reasons![0]!, /not a 4-D/);
    const result = await runPass(fuseQkv, model);
    assert.deepEqual(result.counts, { attention: 1, qkv: 1, kv: 0, packed: 0, split: 1, skipped: 0 });
    assert.equal(countOps(model.graph, 'MatMul'), 4); // fused projection, Q·Kᵀ, ·V, output projection
    const feeds = tinyFeeds();
    assert.ok((await parityOnCpu(tinyClipAttentionModel(), model, feeds)) < PARITY);
  });

  it('does not fire when K comes from a non-constant weight, and says so', async () => {
    for (const attention of [false, true]) {
      const options: TinyAttentionOptions = { keyWeightIsInput: true };
      const model = tinyAttentionModel(options);
      if (attention) await runPass(fuseAttention, model);
      const nodes = model.graph.nodeCount;
      const result = await runPass(fuseQkv, model);
      assert.equal(result.changed, false);
      assert.equal(result.counts.skipped, 1);
      assert.match(result.reasons![0]!, /the K projection weight is not constant: it is graph input 'key_weight'/);
      assert.equal(model.graph.nodeCount, nodes);
    }
  });

  it('does not fire on a graph without attention', async () => {
    const graph = new Graph('mlp');
    const x = graph.createValue('x', { dtype: DataType.FLOAT, shape: [2, 4] });
    graph.inputs.push(x);
    const w = graph.addInitializer('w', floats([4, 4], new Array(16).fill(0.5)));
    // Two MatMuls reading one input, but no attention: not a QKV group.
    const a = graph.append(graph.createNode({ opType: 'MatMul', inputs: [x, w] })).output(0);
    const b = graph.append(graph.createNode({ opType: 'MatMul', inputs: [x, w] })).output(0);
    const y = graph.append(graph.createNode({ opType: 'Add', inputs: [a, b] })).output(0);
    graph.outputs.push(y);
    const result = await runPass(fuseQkv, new Model(graph, 8, new Map([['', 17]])));
    assert.equal(result.changed, false);
    assert.deepEqual(result.reasons, ['the graph has no attention']);
    assert.equal(graph.nodeCount, 3);
  });

  it('is idempotent, packed and split', async () => {
    for (const packed of [true, false]) {
      const { model } = await fusedFixture(VAE_DECODER, { attention: true, packed });
      const nodes = model.graph.nodeCount;
      const again = await runPass(fuseQkv, model, { packed });
      assert.equal(again.changed, false);
      assert.equal(model.graph.nodeCount, nodes);
      assert.match(again.reasons![0]!, packed ? /already packed/ : /K is produced by .*Split/);
    }
  });

  const tiny: [string, TinyAttentionOptions][] = [
    ['self-attention with biases, symbolic dims', { bias: true, symbolic: true }],
    ['cross-attention with biases', { cross: true, bias: true }],
    ['cross-attention, dynamo-style Kᵀ', { cross: true, keyLayout: 'batched-swap', scaleForm: 'div' }],
  ];
  for (const [title, options] of tiny) {
    it(`tiny ${title}: packed (lowered) and split give the original outputs`, async () => {
      for (const packed of [true, false]) {
        const model = tinyAttentionModel(options);
        await runPass(fuseAttention, model);
        const result = await runPass(fuseQkv, model, { packed });
        assert.equal(result.counts[options.cross ? 'kv' : 'qkv'], 1, result.reasons?.join('; '));
        assert.equal(countOps(model.graph, 'MatMul'), options.cross ? 3 : 2); // (Q,) fused, output projection
        if (packed) lowerMultiHeadAttention(model);
        const feeds: Feeds = tinyFeeds(options);
        const error = await parityOnCpu(tinyAttentionModel(options), model, feeds);
        assert.ok(error < PARITY, `packed ${packed}: relative L2 ${error}`);
      }
    });
  }
});
