/**
 * Reading ONNX Runtime's profiler trace (Chrome trace format). ORT writes one event per line, so the file is read
 * line by line: a trace of a full UNet over twenty runs is hundreds of megabytes, more than one JSON.parse should
 * hold. Kept: every model run (its time window) and every kernel execution (node, op, provider, output types).
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { SdxlOptError } from '../errors.js';

export interface TensorTypeShape {
  dtype: string;
  dims: number[];
}

export interface KernelEvent {
  /** The node's name in ORT's optimized graph (ORT names unnamed nodes `<op>_<index>`). */
  node: string;
  opType: string;
  provider: string;
  /** Start, microseconds since the profiler started. */
  ts: number;
  /** Duration, microseconds: host time of the kernel call (on CUDA, launching; see profile-summary.ts). */
  dur: number;
  outputs: TensorTypeShape[];
}

export interface RunWindow {
  ts: number;
  dur: number;
}

export interface ProfileTrace {
  /** `model_run` events, in time order. */
  runs: RunWindow[];
  kernels: KernelEvent[];
}

const KERNEL_SUFFIX = '_kernel_time';

export async function readTrace(file: string): Promise<ProfileTrace> {
  const runs: RunWindow[] = [];
  const kernels: KernelEvent[] = [];
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber++;
    const line = raw.trim().replace(/^\[/, '').replace(/,$/, '').replace(/\]$/, '').trim();
    if (!line.startsWith('{')) continue;
    let event: { cat?: string; name?: string; ts?: number; dur?: number; args?: Record<string, unknown> };
    try {
      event = JSON.parse(line) as typeof event;
    } catch (e) {
      throw new SdxlOptError('RUNTIME', `cannot read ONNX Runtime's profile trace: line ${lineNumber} is not a JSON event`, { where: file, cause: e });
    }
    const { cat, name = '', ts = 0, dur = 0, args = {} } = event;
    if (cat === 'Session' && name === 'model_run') {
      runs.push({ ts, dur });
    } else if (cat === 'Node' && name.endsWith(KERNEL_SUFFIX)) {
      kernels.push({
        node: name.slice(0, -KERNEL_SUFFIX.length),
        opType: String(args.op_name ?? ''),
        provider: String(args.provider ?? ''),
        ts,
        dur,
        outputs: typeShapes(args.output_type_shape),
      });
    }
  }
  runs.sort((a, b) => a.ts - b.ts);
  return { runs, kernels };
}

/** `[{"float":[2,4,16,16]}, {"int64":[4]}]` → dtype and dims of each output. */
function typeShapes(value: unknown): TensorTypeShape[] {
  if (!Array.isArray(value)) return [];
  const out: TensorTypeShape[] = [];
  for (const entry of value) {
    if (entry === null || typeof entry !== 'object') continue;
    for (const [dtype, dims] of Object.entries(entry as Record<string, unknown>)) {
      out.push({ dtype, dims: Array.isArray(dims) ? dims.map(Number) : [] });
    }
  }
  return out;
}

/** The kernels of each model run, in run order (runs never overlap: a session runs one call at a time here). */
export function kernelsByRun(trace: ProfileTrace): KernelEvent[][] {
  const byRun: KernelEvent[][] = trace.runs.map(() => []);
  const kernels = [...trace.kernels].sort((a, b) => a.ts - b.ts);
  let r = 0;
  for (const k of kernels) {
    while (r < trace.runs.length && k.ts > trace.runs[r]!.ts + trace.runs[r]!.dur) r++;
    if (r === trace.runs.length) break;
    if (k.ts >= trace.runs[r]!.ts) byRun[r]!.push(k);
  }
  return byRun;
}
