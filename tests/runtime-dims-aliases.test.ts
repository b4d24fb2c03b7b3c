import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dimMatches, dimsInModelNames } from '../src/runtime/dims.js';

test("recipe dims reach a model's own spellings: Optimum's batch_size/sequence_length, the VAE's h/w and *_latent", () => {
  assert.deepEqual(dimsInModelNames({ batch: 1, sequence: 77 }, ['batch_size', 'sequence_length']), { batch: 1, sequence: 77, batch_size: 1, sequence_length: 77 });
  assert.deepEqual(dimsInModelNames({ batch: 1, height: 128, width: 128 }, ['batch', 'h', 'w']), { batch: 1, height: 128, width: 128, h: 128, w: 128 });
  assert.deepEqual(dimsInModelNames({ height: 128 }, ['height_latent', 'H']), { height: 128, height_latent: 128 });
  // A size given under the model's own name wins over the alias.
  assert.deepEqual(dimsInModelNames({ batch: 2, batch_size: 1 }, ['batch_size']), { batch: 2, batch_size: 1 });
  assert.ok(dimMatches('batch_size', 'batch') && dimMatches('batch', 'batch') && !dimMatches('batch', 'batch_size') && !dimMatches('H', 'height'));
});
