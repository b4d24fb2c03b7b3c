/**
 * Runs fuzz inputs on a pool of worker threads with a watchdog. A worker past the timeout is terminated and its
 * input tried once more on a fresh worker (a loaded machine must not make hangs); past it again, it is a hang. A
 * worker that dies (heap limit, uncaught error) is a crash. Either way the input is made again here from its index
 * and saved with the error so `--replay` can run it, and a fresh worker takes the slot.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeInput, MODEL_FILE, writeInput, type FuzzInput } from './input.js';
import { buildSeeds, type Seed } from './seeds.js';
import { selectTargets } from './targets.js';
import type { Outcome, WorkerConfig, WorkerMessage, WorkerRequest } from './worker.js';

export interface FuzzOptions {
  count: number;
  seed: number;
  timeoutMs: number;
  /** A target name, a comma list, or 'all'. */
  target: string;
  /** Where failing inputs are saved. */
  out: string;
  workers: number;
  /** Each worker's JS heap limit. */
  memoryMb: number;
  log: (line: string) => void;
}

export interface Finding {
  kind: 'crash' | 'hang';
  index: number;
  target: string;
  error: string;
  savedTo: string;
}

export interface FuzzReport {
  inputs: number;
  crashes: Finding[];
  hangs: Finding[];
  /** 'ok' or an SdxlOptError code → how many inputs ended so. */
  outcomes: Map<string, number>;
  /** SdxlOptErrors without a `where`: index and message. */
  unplaced: { index: number; line: string }[];
  slowest: { index: number; ms: number }[];
  /** Inputs that timed out once; those that timed out again are hangs. */
  retried: number[];
  wallMs: number;
}

/** A job a worker may spend making and writing its input before the fuzzer itself is at fault. */
const GENERATION_LIMIT_MS = 60_000;

const WORKER_URL = new URL('./worker.js', import.meta.url);

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: { index: number; sentAt: number; startedAt?: number };
  retired: boolean;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const targets = selectTargets(options.target); // fail fast on a bad name, before any worker starts
  const seeds = buildSeeds();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-fuzz-work-'));
  fs.mkdirSync(options.out, { recursive: true });
  const started = performance.now();
  const report: FuzzReport = { inputs: 0, crashes: [], hangs: [], outcomes: new Map(), unplaced: [], slowest: [], retried: [], wallMs: 0 };
  options.log(`fuzzing ${targets.map((t) => t.name).join(', ')}: ${options.count} inputs, seed ${options.seed}, ${options.workers} workers, timeout ${options.timeoutMs} ms; failing inputs go to ${options.out}`);

  let next = 0;
  let done = 0;
  /** Inputs that timed out once and wait for a second try on a fresh worker (a busy machine is not a hang). */
  const retries: number[] = [];
  const retried = new Set<number>();
  let fatal: Error | undefined;
  const slots: Slot[] = [];

  return new Promise<FuzzReport>((resolve, reject) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      for (const s of slots) retire(s);
      fs.rmSync(scratch, { recursive: true, force: true });
      report.wallMs = performance.now() - started;
      if (fatal) reject(fatal);
      else resolve(report);
    };

    const record = (index: number, kind: 'crash' | 'hang', target: string, error: string, detail = ''): void => {
      const savedTo = saveFinding(makeInput(seeds, options.seed, index), options, kind, target, error, detail);
      const finding: Finding = { kind, index, target, error, savedTo };
      (kind === 'crash' ? report.crashes : report.hangs).push(finding);
      options.log(`${kind} on input #${index} (${target}): ${error.split('\n')[0]} → ${savedTo}`);
    };

    const complete = (slot: Slot): void => {
      slot.job = undefined;
      done++;
      report.inputs = done;
      if (done === options.count || fatal) finish();
      else dispatch(slot);
    };

    const dispatch = (slot: Slot): void => {
      if (slot.retired || !slot.ready || slot.job || (next >= options.count && !retries.length)) return;
      const index = retries.length ? retries.shift()! : next++;
      slot.job = { index, sentAt: performance.now() };
      slot.worker.postMessage({ index } satisfies WorkerRequest);
    };

    const spawn = (at: number): void => {
      const worker = new Worker(WORKER_URL, {
        workerData: { seeds, runSeed: options.seed, targets: options.target, scratch: path.join(scratch, `w${at}-${performance.now().toFixed(0)}`) } satisfies WorkerConfig,
        resourceLimits: { maxOldGenerationSizeMb: options.memoryMb, maxYoungGenerationSizeMb: 64, stackSizeMb: 4 },
      });
      const slot: Slot = { worker, ready: false, retired: false };
      slots[at] = slot;
      worker.on('message', (m: WorkerMessage) => {
        if (slot.retired) return;
        if (m.type === 'ready') {
          slot.ready = true;
          dispatch(slot);
        } else if (m.type === 'fuzzer-bug') {
          fatal ??= new Error(`the fuzzer failed to make input #${m.index}: ${m.error}`);
          finish();
        } else if (m.type === 'started' && slot.job) {
          slot.job.startedAt = performance.now();
        } else if (m.type === 'result' && slot.job) {
          tally(report, m.index, m.outcome, m.ms);
          if (m.outcome.kind === 'crash') record(m.index, 'crash', m.target, m.outcome.error, m.outcome.stack);
          complete(slot);
        }
      });
      const died = (why: string): void => {
        if (slot.retired) return;
        if (!slot.job) {
          retire(slot);
          fatal ??= new Error(`a fuzz worker died before taking an input: ${why}`);
          finish();
          return;
        }
        abandon(slot, at, 'crash', `process-level failure: ${why}`);
      };
      worker.on('error', (e: Error & { code?: string }) => died(`${e.code ?? e.name}: ${e.message}`));
      worker.on('exit', (code) => died(`worker exited with code ${code}`));
    };

    /** Gives up on a slot's job (its worker died or hung): records it, and starts a fresh worker for what is left. */
    const abandon = (slot: Slot, at: number, kind: 'crash' | 'hang', why: string): void => {
      retire(slot);
      const job = slot.job!;
      slot.job = undefined;
      const ms = performance.now() - (job.startedAt ?? job.sentAt);
      tally(report, job.index, kind === 'hang' ? { kind: 'crash', error: 'hang', stack: '' } : { kind: 'crash', error: why, stack: '' }, ms);
      record(job.index, kind, options.target, why);
      done++;
      report.inputs = done;
      if (done === options.count) finish();
      else if (!finished) spawn(at);
    };

    const retire = (slot: Slot): void => {
      if (slot.retired) return;
      slot.retired = true;
      void slot.worker.terminate();
    };

    const watchdog = setInterval(() => {
      const now = performance.now();
      slots.forEach((slot, at) => {
        const job = slot.job;
        if (slot.retired || !job) return;
        if (job.startedAt === undefined) {
          if (now - job.sentAt > GENERATION_LIMIT_MS) {
            fatal ??= new Error(`making input #${job.index} took over ${GENERATION_LIMIT_MS} ms: a fuzzer bug`);
            finish();
          }
          return;
        }
        if (now - job.startedAt <= options.timeoutMs) return;
        if (!retried.has(job.index)) {
          retried.add(job.index);
          report.retried.push(job.index);
          options.log(`input #${job.index} took over ${options.timeoutMs} ms; trying it once more on a fresh worker`);
          retire(slot);
          retries.push(job.index);
          slot.job = undefined;
          spawn(at);
          return;
        }
        abandon(slot, at, 'hang', `no answer after ${Math.round(now - job.startedAt)} ms (limit ${options.timeoutMs} ms)`);
      });
    }, 25);

    for (let i = 0; i < Math.max(1, Math.min(options.workers, options.count)); i++) spawn(i);
    if (options.count === 0) finish();
  });
}

function tally(report: FuzzReport, index: number, outcome: Outcome, ms: number): void {
  const key = outcome.kind === 'ok' ? 'ok' : outcome.kind === 'error' ? outcome.code : outcome.error === 'hang' ? 'hang' : 'crash';
  report.outcomes.set(key, (report.outcomes.get(key) ?? 0) + 1);
  if (outcome.kind === 'error' && !outcome.placed) report.unplaced.push({ index, line: outcome.line });
  report.slowest.push({ index, ms });
  report.slowest.sort((a, b) => b.ms - a.ms);
  report.slowest.length = Math.min(report.slowest.length, 5);
}

/** Writes the failing input and a note (what, how it was made, the error, how to replay it); returns its folder. */
function saveFinding(input: FuzzInput, options: FuzzOptions, kind: string, target: string, error: string, detail: string): string {
  const dir = path.join(options.out, `${kind}-seed${options.seed}-input${input.index}`);
  fs.rmSync(dir, { recursive: true, force: true });
  writeInput(input, dir);
  const note = [
    `${kind} in target '${target}'`,
    `run seed ${options.seed}, input #${input.index}, from seed model '${input.seed}'`,
    'mutations:',
    ...input.steps.map((s) => `  - ${s}`),
    '',
    'error:',
    ...(detail.startsWith(error) ? [] : [error]),
    detail,
    '',
    `replay: npm run fuzz -- --replay ${path.join(dir, MODEL_FILE)} --target ${target}`,
  ];
  fs.writeFileSync(path.join(dir, 'error.txt'), note.join('\n') + '\n');
  return dir;
}

/** Runs the targets once on a saved model file, in a worker under the same watchdog and limits. */
export async function replay(file: string, options: Pick<FuzzOptions, 'target' | 'timeoutMs' | 'memoryMb'>): Promise<{ kind: 'ok' | 'error' | 'crash' | 'hang'; text: string; ms: number }> {
  selectTargets(options.target);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-fuzz-replay-'));
  const worker = new Worker(WORKER_URL, {
    workerData: { seeds: [] as Seed[], runSeed: 0, targets: options.target, scratch } satisfies WorkerConfig,
    resourceLimits: { maxOldGenerationSizeMb: options.memoryMb, maxYoungGenerationSizeMb: 64, stackSizeMb: 4 },
  });
  const t0 = performance.now();
  try {
    return await new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') worker.postMessage({ replay: path.resolve(file) } satisfies WorkerRequest);
        else if (m.type === 'started') timer = setTimeout(() => resolve({ kind: 'hang', text: `no answer after ${options.timeoutMs} ms`, ms: performance.now() - t0 }), options.timeoutMs);
        else if (m.type === 'result') {
          clearTimeout(timer);
          const o = m.outcome;
          resolve({ kind: o.kind, text: o.kind === 'ok' ? 'read cleanly' : o.kind === 'error' ? o.line : `${o.error}\n${o.stack}`, ms: m.ms });
        }
      });
      worker.on('error', (e: Error & { code?: string }) => {
        clearTimeout(timer);
        resolve({ kind: 'crash', text: `process-level failure: ${e.code ?? e.name}: ${e.message}`, ms: performance.now() - t0 });
      });
    });
  } finally {
    await worker.terminate();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
