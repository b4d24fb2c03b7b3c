/**
 * The Node layer's ModelTimer (src/engine/measure.ts): models built in memory by a pass are written to a temporary
 * directory and timed with benchModels, interleaved, on the provider the optimization is for. The directory goes
 * away when the timing is done, whatever happens.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ModelTimer, ModelTiming, TimingOptions } from '../engine/measure.js';
import type { Model } from '../ir/model.js';
import { registerTempFile, unregisterTempFile } from '../io/temp-files.js';
import { writeModel } from '../io/write.js';
import { benchModels } from './bench.js';
import type { Provider } from './ort.js';

export interface ModelTimerSettings {
  provider: Provider;
  deviceId?: number;
  /** ORT's intra-op threads (CPU kernels). */
  threads?: number;
  /** Defaults for every `time` call. */
  iters?: number;
  warmup?: number;
}

export function modelTimer(settings: ModelTimerSettings): ModelTimer {
  return {
    provider: settings.provider,
    async time(models: readonly Model[], options: TimingOptions = {}): Promise<ModelTiming[]> {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sdxl-opt-timer-'));
      registerTempFile(dir);
      try {
        const files: string[] = [];
        for (const [i, model] of models.entries()) {
          const file = path.join(dir, `model-${i}.onnx`);
          await writeModel(model, file, { externalData: 'never' });
          files.push(file);
        }
        const results = await benchModels(files, {
          provider: settings.provider,
          deviceId: settings.deviceId,
          threads: settings.threads,
          iters: options.iters ?? settings.iters,
          warmup: options.warmup ?? settings.warmup,
        });
        return results.map((r) => ({ medianMs: r.medianMs, minMs: r.minMs, cpuComputeOps: r.placement?.cpuComputeOps ?? {} }));
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
        unregisterTempFile(dir);
      }
    },
  };
}
