/** The tiny SDXL text-encoder fixtures (real transformers CLIP exports) and token inputs for them. */
import * as ort from 'onnxruntime-node';
import type { Feeds } from './attention-support.js';

export const TEXT_ENCODER = 'sdxl-text-encoder-tiny-ts17.onnx';
export const TEXT_ENCODER_2 = 'sdxl-text-encoder-2-tiny-ts17.onnx';
/** The sizes a pipeline runs them at: one prompt of 77 tokens (Optimum's dim names). */
export const TEXT_DIMS = { batch_size: 1, sequence_length: 77 };

/** `batch` rows of 77 token ids below CLIP's end-of-text token (49407), which ends each row. */
export function tokenFeeds(batch = 1, seed = 3): Feeds {
  const ids = new BigInt64Array(batch * 77);
  let state = seed;
  for (let i = 0; i < ids.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    ids[i] = BigInt(i % 77 === 76 ? 49407 : state % 49407);
  }
  return { input_ids: new ort.Tensor('int64', ids, [batch, 77]) };
}
