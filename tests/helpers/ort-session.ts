/** Running test models on onnxruntime-node: CPU always, CUDA when this machine has it. */
import fs from 'node:fs';
import type * as Ort from 'onnxruntime-node';

type OrtModule = (typeof Ort)['default'];

export async function ort(): Promise<OrtModule> {
  return (await import('onnxruntime-node')).default;
}

/** The small UNet fixture's recorded inputs (float32). */
export function smallUnetInputs(file: string): Record<string, { dims: number[]; data: Float32Array }> {
  const io = JSON.parse(fs.readFileSync(file, 'utf8')) as { inputs: Record<string, { dims: number[]; data_base64_le: string }> };
  return Object.fromEntries(
    Object.entries(io.inputs).map(([name, v]) => {
      const bytes = Buffer.from(v.data_base64_le, 'base64');
      const data = new Float32Array(bytes.byteLength / 4);
      new Uint8Array(data.buffer).set(bytes);
      return [name, { dims: v.dims, data }];
    }),
  );
}

/**
 * Runs a model file once and returns its first output as float32. `strict` (CUDA): refuse to load when any node would
 * fall back to the CPU (ORT's session.disable_cpu_ep_fallback), so a missing kernel is an error naming the op.
 */
export async function runFirstOutput(
  file: string,
  inputs: Record<string, { dims: number[]; data: Float32Array }>,
  provider: 'cpu' | 'cuda' = 'cpu',
  strict = false,
): Promise<Float32Array> {
  const o = await ort();
  const session = await o.InferenceSession.create(file, {
    executionProviders: [provider],
    ...(strict ? { extra: { session: { disable_cpu_ep_fallback: '1' } } } : {}),
  });
  try {
    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new o.Tensor('float32', v.data, v.dims)]));
    const result = await session.run(feeds);
    const out = result[session.outputNames[0]!]!;
    return Float32Array.from(out.data as Float32Array);
  } finally {
    await session.release();
  }
}

let cuda: Promise<boolean> | undefined;

/** Whether onnxruntime-node here can create a CUDA session (this machine's CI has no GPU). */
export function cudaAvailable(probeModel: string): Promise<boolean> {
  cuda ??= ort().then(
    (o) =>
      // Severity 4 (fatal only): on a machine without CUDA the provider library's load error is the expected answer.
      o.InferenceSession.create(probeModel, { executionProviders: ['cuda'], logSeverityLevel: 4 }).then(
        async (s) => {
          await s.release();
          return true;
        },
        () => false,
      ),
    () => false,
  );
  return cuda;
}
