import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanup } from '../../passes/cleanup.js';
import { fuseAttention } from '../../passes/fuse-attention.js';
import type { Model } from '../../src/ir/model.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { countOps, loadFixture, parityOnCpu, runPass } from '../helpers/attention-support.js';
import { TEXT_ENCODER, TEXT_ENCODER_2, tokenFeeds } from '../helpers/text-encoder.js';
import { TINY, tinyAttentionModel, tinyFeeds } from '../helpers/tiny-attention.js';

const PARITY = 1e-5;

/** The tiny self-attention with `mask` ([dims], float32) added to its scores before the Softmax. */
function maskedTinyAttention(dims: number[], values: number[]): Model {
  const model = tinyAttentionModel({ scaleForm: 'div' });
  const graph = model.graph;
  const softmax = graph.nodes().find((n) => n.is('Softmax'))!;
  const mask = graph.addInitializer('mask', new Tensor(DataType.FLOAT, dims, new InlineData(new Uint8Array(new Float32Array(values).buffer))));
  const add = graph.insertBefore(softmax, graph.createNode({ opType: 'Add', name: 'mask_add', inputs: [softmax.input(0), mask] }));
  softmax.replaceInput(0, add.output(0));
  return model;
}

const S = TINY.seq;
const causal = (masked: number) => Array.from({ length: S * S }, (_, i) => (i % S > Math.floor(i / S) ? masked : 0));

describe('fuse-attention with an additive mask', () => {
  for (const [title, masked] of [['-inf', -Infinity], ['-10000', -10000], ['the float32 minimum', -3.4028234663852886e38]] as const) {
    it(`a constant causal mask (${title} above the diagonal) becomes unidirectional=1, same outputs on ORT CPU`, async () => {
      const model = maskedTinyAttention([S, S], causal(masked));
      const result = await runPass(fuseAttention, model);
      assert.equal(result.counts.fused, 1, result.reasons?.join('; '));
      assert.equal(result.counts.causal, 1);
      const mha = model.graph.nodes().find((n) => n.is('MultiHeadAttention', 'com.microsoft'))!;
      assert.equal(mha.attrInt('unidirectional'), 1);
      assert.equal(mha.inputs.length, 3);
      assert.ok((await parityOnCpu(maskedTinyAttention([S, S], causal(masked)), model, tinyFeeds())) < PARITY);
    });
  }

  it('any other constant mask becomes attention_bias (1, 1, S, L), same outputs on ORT CPU', async () => {
    const values = Array.from({ length: S * S }, (_, i) => ((i * 7) % 5) - 2); // a position bias, not a mask
    const model = maskedTinyAttention([S, S], values);
    const result = await runPass(fuseAttention, model);
    assert.equal(result.counts.biased, 1, result.reasons?.join('; '));
    const mha = model.graph.nodes().find((n) => n.is('MultiHeadAttention', 'com.microsoft'))!;
    assert.equal(mha.attrInt('unidirectional'), undefined);
    assert.deepEqual(mha.input(5)?.shape, [1, 1, S, S]);
    assert.ok((await parityOnCpu(maskedTinyAttention([S, S], values), model, tinyFeeds())) < PARITY);
  });

  it('a mask that broadcasts over the query axis does not fuse, and says why', async () => {
    const model = maskedTinyAttention([1, 1, 1, S], [0, 0, -1, 0, 0, 0]);
    const result = await runPass(fuseAttention, model);
    assert.equal(result.changed, false);
    assert.match(result.reasons![0]!, /additive mask .* takes no broadcast over query or key/);
    assert.equal(countOps(model.graph, 'Softmax'), 1);
  });

  it('a mask scaled together with the scores does not fuse', async () => {
    const model = maskedTinyAttention([S, S], causal(-Infinity));
    const graph = model.graph;
    const softmax = graph.nodes().find((n) => n.is('Softmax'))!;
    const half = graph.addInitializer('half', new Tensor(DataType.FLOAT, [], new InlineData(new Uint8Array(new Float32Array([0.5]).buffer))));
    const mul = graph.insertBefore(softmax, graph.createNode({ opType: 'Mul', name: 'late_scale', inputs: [softmax.input(0), half] }));
    softmax.replaceInput(0, mul.output(0));
    const result = await runPass(fuseAttention, model);
    assert.equal(result.changed, false);
    assert.match(result.reasons![0]!, /additive mask .* is scaled with the scores/);
  });

  for (const name of [TEXT_ENCODER, TEXT_ENCODER_2]) {
    it(`${name}: cleanup with 77 tokens folds the Trilu causal mask; both attentions fuse as causal, same outputs at batch 2`, async () => {
      const model = loadFixture(name);
      const dims = { sequence_length: 77 };
      await runPass(cleanup, model, {}, dims);
      assert.equal(countOps(model.graph, 'Trilu'), 0);
      const result = await runPass(fuseAttention, model, {}, dims);
      assert.deepEqual(result.counts, { softmax: 2, fused: 2, self: 2, cross: 0, causal: 2, biased: 0, unmatched: 0 });
      assert.equal(countOps(model.graph, 'Where'), 0, 'the mask computation is gone');
      const error = await parityOnCpu(loadFixture(name), model, tokenFeeds(2));
      assert.ok(error < PARITY, `relative L2 ${error}`);
    });
  }

  it('without fixed dims the mask stays computed (4-D, dynamic), and becomes attention_bias', async () => {
    const model = loadFixture(TEXT_ENCODER);
    await runPass(cleanup, model);
    const result = await runPass(fuseAttention, model);
    assert.deepEqual(result.counts, { softmax: 2, fused: 2, self: 2, cross: 0, causal: 0, biased: 2, unmatched: 0 });
    assert.ok((await parityOnCpu(loadFixture(TEXT_ENCODER), model, tokenFeeds(1))) < PARITY);
  });
});
