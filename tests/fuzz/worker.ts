/**
 * A fuzz worker thread: makes input i (the same bytes the main thread would make), writes it to a scratch
 * directory, runs the targets on it and reports the outcome. The main thread's watchdog terminates a worker that
 * takes too long; the worker's resource limits turn runaway memory into a reported failure rather than a dead host.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { isSdxlOptError } from '../../src/errors.js';
import { readModel } from '../../src/io/read.js';
import type { Model } from '../../src/ir/model.js';
import { makeInput, MODEL_FILE, writeInput, type FuzzInput } from './input.js';
import type { Seed } from './seeds.js';
import { selectTargets, type TargetInput } from './targets.js';

export interface WorkerConfig {
  seeds: Seed[];
  runSeed: number;
  targets: string;
  scratch: string;
}

export type WorkerRequest = { index: number } | { replay: string };

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'error'; code: string; line: string; placed: boolean }
  | { kind: 'crash'; error: string; stack: string };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'started'; index: number }
  /** Making or writing the input failed: the fuzzer is wrong, not the reader. */
  | { type: 'fuzzer-bug'; index: number; error: string }
  | { type: 'result'; index: number; target: string; outcome: Outcome; ms: number };

/** Buffers (outside the JS heap, so not bounded by resourceLimits) a target may hold per byte of input before it is a finding. */
const EXTERNAL_BYTES_PER_INPUT_BYTE = 4;
const EXTERNAL_ALLOWANCE = 256 * 1024 * 1024;

const config = workerData as WorkerConfig;
const port = parentPort!;
const targets = selectTargets(config.targets);
const cacheDir = path.join(config.scratch, 'cache');
fs.mkdirSync(cacheDir, { recursive: true });

async function runTargets(file: string, index: number, inputBytes: number): Promise<{ target: string; outcome: Outcome }> {
  let read: Promise<Model> | undefined;
  const input: TargetInput = { file, index, model: () => (read ??= readModel(file)) };
  // Reported: the first SdxlOptError, if any target gave one; a crash ends the run at once.
  let reported: { target: string; outcome: Outcome } = { target: targets[0]!.name, outcome: { kind: 'ok' } };
  for (const target of targets) {
    const before = v8.getHeapStatistics().external_memory;
    try {
      await target.run(input);
    } catch (e) {
      if (isSdxlOptError(e)) {
        if (reported.outcome.kind === 'ok') reported = { target: target.name, outcome: { kind: 'error', code: e.code, line: e.oneLine(), placed: e.where !== undefined } };
      } else {
        const err = e instanceof Error ? e : new Error(String(e));
        return { target: target.name, outcome: { kind: 'crash', error: `${err.name}: ${err.message}`, stack: err.stack ?? '' } };
      }
    }
    const grew = v8.getHeapStatistics().external_memory - before;
    if (grew > EXTERNAL_ALLOWANCE + EXTERNAL_BYTES_PER_INPUT_BYTE * inputBytes) {
      const mb = (n: number) => `${Math.round(n / 1048576)} MiB`;
      return { target: target.name, outcome: { kind: 'crash', error: `ExcessAllocation: ${mb(grew)} of buffers held for ${inputBytes} bytes of input`, stack: '' } };
    }
  }
  return reported;
}

function sizeOf(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  }
  return total;
}

port.on('message', async (req: WorkerRequest) => {
  if ('replay' in req) {
    port.postMessage({ type: 'started', index: -1 } satisfies WorkerMessage);
    const t0 = performance.now();
    const r = await runTargets(req.replay, -1, sizeOf(path.dirname(req.replay)));
    port.postMessage({ type: 'result', index: -1, ...r, ms: performance.now() - t0 } satisfies WorkerMessage);
    return;
  }
  const dir = path.join(config.scratch, `i${req.index}`);
  let input: FuzzInput;
  try {
    input = makeInput(config.seeds, config.runSeed, req.index);
    writeInput(input, dir, cacheDir);
  } catch (e) {
    port.postMessage({ type: 'fuzzer-bug', index: req.index, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies WorkerMessage);
    return;
  }
  const bytes = input.model.length + Object.values(input.files).reduce((s, f) => s + (f.kind === 'bytes' ? f.bytes.length : 0), 0);
  port.postMessage({ type: 'started', index: req.index } satisfies WorkerMessage);
  const t0 = performance.now();
  const r = await runTargets(path.join(dir, MODEL_FILE), req.index, bytes);
  const ms = performance.now() - t0;
  fs.rmSync(dir, { recursive: true, force: true });
  port.postMessage({ type: 'result', index: req.index, ...r, ms } satisfies WorkerMessage);
});

port.postMessage({ type: 'ready' } satisfies WorkerMessage);
