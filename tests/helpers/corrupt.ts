/** Runs corruption cases in a worker thread with a deadline: a case that never finishes fails the test as a hang. */
import { Worker } from 'node:worker_threads';
import type { CaseOutcome, CorruptionJob } from './corrupt-worker.js';

export type { CaseOutcome, Damage } from './corrupt-worker.js';

export function runCorruptionCases(job: CorruptionJob, deadlineMs: number): Promise<CaseOutcome[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./corrupt-worker.js', import.meta.url), { workerData: job });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`the reader did not finish ${job.cases.length} damaged models within ${deadlineMs} ms: a hang`));
    }, deadlineMs);
    worker.once('message', (results: CaseOutcome[]) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(results);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
