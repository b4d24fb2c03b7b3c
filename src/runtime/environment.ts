/**
 * What this machine can run: ONNX Runtime's version, which providers load, the GPU, and which shared libraries
 * the CUDA provider needs and cannot find. The CUDA probe runs in a child process, for two reasons: a failed
 * provider load prints ORT's real reason (the library dlopen could not find) on the process's stderr, which only a
 * parent can capture; and a broken CUDA install cannot take the caller down with it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DataType } from '../onnx/dtype.js';
import { loadOrt, ortMessage, type Provider } from './ort.js';
import { tinyModelBytes } from './tiny-model.js';

export interface CudaLibraries {
  /** Where onnxruntime-node keeps its native libraries. */
  binDir: string;
  /** libonnxruntime_providers_cuda.so is there (npm installs skip it unless asked for CUDA). */
  providerPresent: boolean;
  /** libonnxruntime_providers_shared.so is there (the CUDA provider needs it). */
  sharedPresent: boolean;
  /** Libraries the CUDA provider links against that the loader cannot find (per ldd), e.g. libcudnn.so.9. */
  missing: string[];
  /** Those it finds, and where. */
  found: { name: string; path: string }[];
  lddError?: string;
}

export interface RuntimeEnvironment {
  ortVersion: string;
  nodeVersion: string;
  platform: string;
  providers: { cpu: boolean; cuda: boolean; cpuError?: string; cudaError?: string };
  gpu?: { name: string; driver: string; memoryMiB: number };
  cudaLibraries: CudaLibraries;
  /** How to get the CUDA provider, when it does not load. */
  installHint?: string;
}

const require = createRequire(import.meta.url);

export function ortPackageDir(): string {
  return path.dirname(path.dirname(require.resolve('onnxruntime-node')));
}

export function ortBinDir(): string {
  return path.join(ortPackageDir(), 'bin', 'napi-v6', process.platform, process.arch);
}

export async function runtimeEnvironment(): Promise<RuntimeEnvironment> {
  const cpu = await probeCpu();
  const cuda = probeCuda();
  const env: RuntimeEnvironment = {
    ortVersion: ortVersion(),
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
    providers: { cpu: cpu.ok, cuda: cuda.ok },
    cudaLibraries: cudaLibraries(),
  };
  if (cpu.error) env.providers.cpuError = cpu.error;
  if (cuda.error) env.providers.cudaError = cuda.error;
  const gpu = queryGpu();
  if (gpu) env.gpu = gpu;
  if (!cuda.ok) env.installHint = installHint(env);
  return env;
}

/** cuda when its provider loads and runs a node here, else cpu; with the reason, for the user to see. */
export function defaultProvider(): { provider: Provider; reason: string } {
  const cuda = probeCuda();
  if (cuda.ok) return { provider: 'cuda', reason: 'the CUDA provider loads' };
  return { provider: 'cpu', reason: `the CUDA provider does not load (${firstLine(cuda.error ?? 'unknown reason')}; see \`sdxl-opt doctor\`)` };
}

function ortVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ortPackageDir(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const PROBE_MODEL = (): Uint8Array =>
  tinyModelBytes({ op: 'Relu', inputs: [{ name: 'x', dtype: DataType.FLOAT, shape: [2] }], outputs: [{ name: 'y', dtype: DataType.FLOAT, shape: [2] }] });

async function probeCpu(): Promise<{ ok: boolean; error?: string }> {
  try {
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(PROBE_MODEL(), { executionProviders: ['cpu'] });
    const y = (await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2]), [2]) })).y!.data as Float32Array;
    await session.release();
    return y[0] === 1 && y[1] === 0 ? { ok: true } : { ok: false, error: `Relu returned [${[...y].join(', ')}], expected [1, 0]` };
  } catch (e) {
    return { ok: false, error: ortMessage(e) };
  }
}

/** The child's program: load the CUDA provider with no CPU fallback, run one Relu, report as JSON. */
const CUDA_PROBE = `
const ort = require(process.env.SDXL_OPT_ORT);
const model = Buffer.from(process.env.SDXL_OPT_PROBE_MODEL, 'base64');
(async () => {
  try {
    const s = await ort.InferenceSession.create(model, {
      executionProviders: [{ name: 'cuda', deviceId: 0 }],
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    const y = (await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2]), [2]) })).y.data;
    await s.release();
    const ok = y[0] === 1 && y[1] === 0;
    process.stdout.write(JSON.stringify(ok ? { ok } : { ok, error: 'Relu on CUDA returned [' + Array.from(y).join(', ') + ']' }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String((e && e.message) || e) }));
  }
})();
`;

let cudaProbe: { ok: boolean; error?: string } | undefined;

/** Loads the CUDA provider in a child process (cached). The error carries ORT's own log lines verbatim. */
export function probeCuda(): { ok: boolean; error?: string } {
  if (cudaProbe) return cudaProbe;
  const child = spawnSync(process.execPath, ['-e', CUDA_PROBE], {
    env: { ...process.env, SDXL_OPT_ORT: require.resolve('onnxruntime-node'), SDXL_OPT_PROBE_MODEL: Buffer.from(PROBE_MODEL()).toString('base64') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const stderr = stripAnsi(child.stderr ?? '').trim();
  let result: { ok: boolean; error?: string };
  try {
    result = JSON.parse(child.stdout) as { ok: boolean; error?: string };
  } catch {
    const why = child.error ? child.error.message : `the probe exited with ${child.status ?? child.signal}`;
    result = { ok: false, error: why };
  }
  if (!result.ok && stderr) result.error = `${result.error ?? ''}\n${stderr}`.trim();
  cudaProbe = result;
  return result;
}

export function cudaLibraries(): CudaLibraries {
  const binDir = ortBinDir();
  const provider = path.join(binDir, 'libonnxruntime_providers_cuda.so');
  const libs: CudaLibraries = {
    binDir,
    providerPresent: fs.existsSync(provider),
    sharedPresent: fs.existsSync(path.join(binDir, 'libonnxruntime_providers_shared.so')),
    missing: [],
    found: [],
  };
  if (!libs.providerPresent) return libs;
  const ldd = spawnSync('ldd', [provider], { encoding: 'utf8', timeout: 30_000 });
  if (ldd.error || ldd.status !== 0) {
    libs.lddError = ldd.error ? ldd.error.message : (ldd.stderr || `ldd exited with ${ldd.status}`).trim();
    return libs;
  }
  for (const line of ldd.stdout.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+(.+?)(?:\s+\(0x[0-9a-f]+\))?\s*$/.exec(line);
    if (!m) continue;
    if (m[2] === 'not found') libs.missing.push(m[1]!);
    else libs.found.push({ name: m[1]!, path: m[2]! });
  }
  return libs;
}

function queryGpu(): RuntimeEnvironment['gpu'] {
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 30_000 });
  if (smi.error || smi.status !== 0) return undefined;
  const first = smi.stdout.trim().split('\n')[0];
  if (!first) return undefined;
  const [name = '', driver = '', memory = ''] = first.split(',').map((s) => s.trim());
  return { name, driver, memoryMiB: Number.parseInt(memory, 10) };
}

function installHint(env: RuntimeEnvironment): string {
  const libs = env.cudaLibraries;
  if (!libs.providerPresent) {
    return [
      `onnxruntime-node ${env.ortVersion} has no CUDA provider in ${libs.binDir} (its download was skipped). Either:`,
      `  ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@${env.ortVersion} --allow-scripts=onnxruntime-node`,
      `    (fetches the CUDA 12 build from NuGet; npm 11 runs no install scripts without --allow-scripts; the same download:`,
      `    ONNXRUNTIME_NODE_INSTALL=cuda12 node ${path.join(ortPackageDir(), 'script', 'install.js')}), or`,
      `  copy libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so of ONNX Runtime ${env.ortVersion}`,
      `    built for your CUDA (12 or 13) into that folder; they must be exactly version ${env.ortVersion}`,
    ].join('\n');
  }
  if (libs.missing.length) {
    return `the CUDA provider is installed but cannot find ${libs.missing.join(', ')}: install CUDA and cuDNN 9 for its CUDA major version, or add the folders holding them (e.g. the nvidia/*/lib folders of pip's nvidia-* packages) to LD_LIBRARY_PATH`;
  }
  return 'the CUDA provider and its libraries are present, but it does not load: check the driver (nvidia-smi) and the error above';
}

function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
