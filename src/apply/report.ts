/** What `sdxl-opt apply` reports (report.json); report-md.ts renders the same for people. */
import os from 'node:os';
import type { BenchReport, Provider, RuntimeEnvironment, Tolerance, ValidationReport } from '../engine/bridge.js';
import type { InferenceSummary, StepReport } from '../engine/runner.js';
import type { GraphStats } from '../engine/stats.js';
import { isSdxlOptError } from '../errors.js';
import { VERSION } from '../version.js';
import { TOOL_NAME } from './output-folder.js';

export type Status = 'ok' | 'validation-failed' | 'failed';

export interface ErrorReport {
  /** What was being done: reading the model, running passes, writing, validating, benchmarking. */
  stage: Stage;
  code: string;
  message: string;
  where?: string;
  hint?: string;
}

export type Stage = 'read' | 'passes' | 'write' | 'validate' | 'bench';

export interface ComponentReport {
  name: string;
  status: Status;
  /** The model file read, as the recipe names it (relative to the recipe) */
  input: { file: string; bytes: number };
  /** Files written, relative to the output folder. */
  output?: { files: string[]; modelBytes: number; dataBytes: number };
  /** Problems the graph checks found in the input model itself (not blamed on any pass). */
  inputProblems: string[];
  /** Type inference before the passes. */
  inference?: InferenceSummary;
  passes: StepReport[];
  before?: GraphStats;
  after?: GraphStats;
  timings: Partial<Record<Stage, number>>;
  /** Resident memory of the process per stage: the highest seen during it, and what it was when the stage ended. */
  memory: Partial<Record<Stage, StageMemory>>;
  validation?: {
    provider: Provider;
    dims: Record<string, number>;
    seed: number;
    tolerance: Tolerance;
    result: ValidationReport;
  };
  bench?: {
    provider: Provider;
    dims: Record<string, number>;
    iters: number;
    warmup: number;
    before: BenchReport;
    after: BenchReport;
    /** before median / after median. */
    speedup: number;
  };
  error?: ErrorReport;
}

export interface StageMemory {
  peakRssBytes: number;
  rssAfterBytes: number;
}

export interface EnvironmentReport {
  sdxlOpt: string;
  node: string;
  platform: string;
  cpu: string;
  cpus: number;
  memoryMiB: number;
  /** ONNX Runtime's, when the recipe validates or benchmarks (or why it could not be read). */
  runtime?: RuntimeEnvironment | { error: string };
}

export interface ApplyReport {
  tool: { name: typeof TOOL_NAME; version: string };
  date: string;
  recipe: { file: string; target: Provider; dims: Record<string, number> };
  /** The model or pipeline folder, as the recipe names it. */
  model: string;
  output: string;
  pipeline: boolean;
  status: Status;
  environment: EnvironmentReport;
  components: ComponentReport[];
  /** Pipeline components the recipe switched off (left out of the output). */
  skipped: string[];
  /** Notes for the user: leftovers of interrupted runs, passes run out of the expected order. */
  warnings: string[];
  wallMs: number;
  /** The process's highest resident memory over the whole run (the kernel's high-water mark), in bytes. */
  peakRssBytes: number;
}

export function hostEnvironment(): EnvironmentReport {
  return {
    sdxlOpt: VERSION,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpus: os.cpus().length,
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
  };
}

/** The worst status wins: a failure over a validation failure over ok. */
export function overallStatus(components: readonly ComponentReport[]): Status {
  if (components.some((c) => c.status === 'failed')) return 'failed';
  if (components.some((c) => c.status === 'validation-failed')) return 'validation-failed';
  return 'ok';
}

/** Exit codes of `sdxl-opt apply`: 0 ok, 1 parity outside tolerance, 2 a component could not be processed. */
export function exitCodeOf(status: Status): 0 | 1 | 2 {
  return status === 'ok' ? 0 : status === 'validation-failed' ? 1 : 2;
}

export function errorReport(stage: Stage, e: unknown): ErrorReport {
  if (isSdxlOptError(e)) {
    return { stage, code: e.code, message: e.message, ...(e.where ? { where: e.where } : {}), ...(e.hint ? { hint: e.hint } : {}) };
  }
  return { stage, code: 'INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e), hint: 'a bug in sdxl-opt; please report it' };
}
