/**
 * One ONNX Runtime session over a model file: load (timed), run with generated inputs (timed), and, when
 * profiling, stop the profiler and read its trace. ORT's profiler runs from session creation until
 * endProfiling(), after which runs are no longer traced: that is how a bench profiles only the runs it means to.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as Ort from 'onnxruntime-node';
import { SdxlOptError } from '../errors.js';
import { registerTempFile, unregisterTempFile } from '../io/temp-files.js';
import type { GeneratedInput } from './inputs.js';
import { loadOrt, ortMessage, sessionOptions, type OrtModule, type SessionSettings } from './ort.js';
import { readTrace, type ProfileTrace } from './trace.js';

export interface RunOutput {
  name: string;
  type: string;
  dims: number[];
  data: unknown;
}

export class ModelSession {
  private profileDir: string | undefined;
  private feeds: Record<string, Ort.Tensor> | undefined;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly file: string,
    readonly settings: SessionSettings,
    /** Session creation time, ms: parsing, graph optimization, weight upload. */
    readonly loadMs: number,
    profileDir: string | undefined,
  ) {
    this.profileDir = profileDir;
  }

  static async open(file: string, settings: Omit<SessionSettings, 'profilePrefix'> & { profile?: boolean }): Promise<ModelSession> {
    const ort = await loadOrt();
    sessionOptions(settings); // refuses bad settings before anything is created
    const profileDir = settings.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-profile-')) : undefined;
    if (profileDir) registerTempFile(profileDir);
    const full: SessionSettings = { ...settings, ...(profileDir ? { profilePrefix: path.join(profileDir, 'ort') } : {}) };
    const started = performance.now();
    try {
      const session = await ort.InferenceSession.create(file, sessionOptions(full));
      return new ModelSession(ort, session, file, full, performance.now() - started, profileDir);
    } catch (e) {
      removeProfileDir(profileDir);
      throw new SdxlOptError('RUNTIME', `ONNX Runtime cannot load the model on ${settings.provider}: ${ortMessage(e)}`, {
        where: file,
        cause: e,
        hint: loadHint(settings),
      });
    }
  }

  /** Runs once with `inputs` (converted to ORT tensors on the first call and reused); returns outputs and wall ms. */
  async run(inputs: readonly GeneratedInput[]): Promise<{ outputs: RunOutput[]; ms: number }> {
    this.feeds ??= Object.fromEntries(inputs.map((i) => [i.name, new this.ort.Tensor(i.type as 'float32', i.data as Float32Array, i.dims)]));
    const started = performance.now();
    let result: Ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(this.feeds);
    } catch (e) {
      throw new SdxlOptError('RUNTIME', `ONNX Runtime failed to run the model on ${this.settings.provider}: ${ortMessage(e)}`, {
        where: this.file,
        cause: e,
      });
    }
    const ms = performance.now() - started;
    const outputs = this.session.outputNames.map((name) => {
      const t = result[name] as Ort.Tensor;
      return { name, type: t.type, dims: [...t.dims], data: t.data };
    });
    return { outputs, ms };
  }

  /** Stops the profiler and reads its trace; later runs are not traced. Undefined when not profiling. */
  async stopProfiling(): Promise<ProfileTrace | undefined> {
    const dir = this.profileDir;
    if (!dir) return undefined;
    this.profileDir = undefined;
    try {
      this.session.endProfiling();
      // onnxruntime-node does not return the file name: it is the one file ORT wrote under the prefix.
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
      if (files.length !== 1) {
        throw new SdxlOptError('RUNTIME', `expected one profile trace from ONNX Runtime, found ${files.length}`, { where: dir });
      }
      return await readTrace(path.join(dir, files[0]!));
    } finally {
      removeProfileDir(dir);
    }
  }

  async close(): Promise<void> {
    if (this.profileDir) {
      try {
        this.session.endProfiling();
      } catch {
        // closing anyway
      }
      removeProfileDir(this.profileDir);
      this.profileDir = undefined;
    }
    this.feeds = undefined;
    await this.session.release();
  }
}

function removeProfileDir(dir: string | undefined): void {
  if (!dir) return;
  fs.rmSync(dir, { recursive: true, force: true });
  unregisterTempFile(dir);
}

function loadHint(settings: SessionSettings): string {
  if (settings.strict) {
    return 'strict mode refuses any node on the CPU, including the small shape computations ORT keeps there on purpose; run without it and read the placement to see which nodes they are';
  }
  if (settings.provider === 'cuda') return 'run `sdxl-opt doctor` to check the CUDA provider and its libraries';
  return 'check that the model is valid (onnx.checker) and its external data files sit beside it';
}
