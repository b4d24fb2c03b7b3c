/** Running a model on ONNX Runtime's CPU provider and comparing float outputs. */
import * as ort from 'onnxruntime-node';
import type { RecordedTensor } from './recorded-io.js';

export async function runOnCpu(model: string | Uint8Array, inputs: Map<string, RecordedTensor>): Promise<Map<string, Float32Array>> {
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, { executionProviders: ['cpu'] })
      : await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of inputs) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const results = await session.run(feeds);
    return new Map(Object.entries(results).map(([name, t]) => [name, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN;
    if (d > max) max = d;
  }
  return max;
}
