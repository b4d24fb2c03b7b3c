/**
 * Loading onnxruntime-node, lazily: commands that never run a model do not pay for the native binding. Session
 * options for a provider live here, so every session sdxl-opt creates is configured the same way.
 */
import type * as Ort from 'onnxruntime-node';
import { SdxlOptError } from '../errors.js';

/** The package's exports (a CommonJS module: through import() they are its default export). */
export type OrtModule = (typeof Ort)['default'];
export type Provider = 'cpu' | 'cuda';

let loaded: Promise<OrtModule> | undefined;

export function loadOrt(): Promise<OrtModule> {
  loaded ??= import('onnxruntime-node').then(
    (m) => m.default, // a CommonJS package: its exports are the default export
    (e: unknown) => {
      loaded = undefined;
      throw new SdxlOptError('RUNTIME', `cannot load onnxruntime-node: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
        hint: 'run `npm ci` in the sdxl-opt folder; `sdxl-opt doctor` checks the installation',
      });
    },
  );
  return loaded;
}

export interface SessionSettings {
  provider: Provider;
  /** CUDA device ordinal. Default 0. */
  deviceId?: number;
  /**
   * Refuse to create the session when a node would fall back to the CPU (ORT's `session.disable_cpu_ep_fallback`):
   * a silent slowdown becomes a load error naming the op.
   */
  strict?: boolean;
  /** ORT's intra-op threads (CPU kernels). Default: ORT's choice, one per core. */
  threads?: number;
  /** Write ORT's profiler trace under this prefix (a path without extension). */
  profilePrefix?: string;
}

export function sessionOptions(settings: SessionSettings): Ort.InferenceSession.SessionOptions {
  if (settings.strict && settings.provider === 'cpu') {
    throw new SdxlOptError('BAD_PARAM', 'strict mode (no CPU fallback) means nothing on the CPU provider', { hint: 'use it with --provider cuda' });
  }
  const options: Ort.InferenceSession.SessionOptions = {
    executionProviders: settings.provider === 'cuda' ? [{ name: 'cuda', deviceId: settings.deviceId ?? 0 }] : ['cpu'],
    graphOptimizationLevel: 'all',
  };
  if (settings.threads !== undefined) {
    if (!Number.isSafeInteger(settings.threads) || settings.threads < 1) {
      throw new SdxlOptError('BAD_PARAM', `threads must be a positive integer, got ${settings.threads}`);
    }
    options.intraOpNumThreads = settings.threads;
  }
  if (settings.strict) options.extra = { session: { disable_cpu_ep_fallback: '1' } };
  if (settings.profilePrefix !== undefined) {
    options.enableProfiling = true;
    options.profileFilePrefix = settings.profilePrefix;
  }
  return options;
}

/** ORT's error message without its boilerplate, for one-line reports. */
export function ortMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}
