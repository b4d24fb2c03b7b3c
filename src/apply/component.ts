/**
 * One model of a recipe, start to finish: read it, run its passes, write it into the staging folder, then validate
 * and benchmark it against the input when the recipe asks. Failures are caught and reported per stage, so that in a
 * pipeline one broken component does not cost the others their results.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeApi } from '../engine/bridge.js';
import { measureMemory } from '../engine/memory.js';
import { runPasses, settleAfterWrite, type RunnerEvent, type StepReport } from '../engine/runner.js';
import { graphStats } from '../engine/stats.js';
import { readModel, sourceOf } from '../io/read.js';
import { writeModel } from '../io/write.js';
import type { Graph } from '../ir/graph.js';
import { SdxlOptError } from '../errors.js';
import type { ComponentPlan } from '../recipe/load.js';
import { errorReport, type ComponentReport, type Stage } from './report.js';
import { dimMatches, dimsInModelNames } from '../runtime/dims.js';

export type ComponentEvent =
  | { kind: 'stage'; component: string; stage: Stage }
  | { kind: 'runner'; component: string; event: RunnerEvent }
  | { kind: 'written'; component: string; bytes: number; total: number };

export interface ComponentContext {
  staging: string;
  target: 'cuda' | 'cpu';
  runtime: RuntimeApi;
  checkTypes?: (graph: Graph) => string[];
  onEvent?: (event: ComponentEvent) => void;
  /** How the report names the input model (relative to the recipe). */
  inputLabel: string;
  /**
   * true (a single model): a validate or bench dim that no input of the model has is a recipe error, caught before
   * any pass runs. false (a pipeline): dims are shared by components, and each takes the ones its inputs have.
   */
  strictDims: boolean;
}

const rawErrors = new WeakMap<ComponentReport, unknown>();

/** The error a failed component's report describes, as thrown (reports hold only its JSON form). */
export function rawErrorOf(report: ComponentReport): unknown {
  return rawErrors.get(report);
}

export async function processComponent(plan: ComponentPlan, ctx: ComponentContext): Promise<ComponentReport> {
  const emit = (event: ComponentEvent): void => ctx.onEvent?.(event);
  const passes: StepReport[] = [];
  const report: ComponentReport = {
    name: plan.name,
    status: 'ok',
    input: { file: ctx.inputLabel, bytes: 0 },
    inputProblems: [],
    passes,
    timings: {},
    memory: {},
  };
  let stage: Stage = 'read';
  const timed = async <T>(s: Stage, work: () => Promise<T>): Promise<T> => {
    stage = s;
    emit({ kind: 'stage', component: plan.name, stage: s });
    const started = performance.now();
    const memory = measureMemory();
    try {
      return await work();
    } finally {
      report.timings[s] = performance.now() - started;
      const rss = memory.stop();
      report.memory[s] = { peakRssBytes: rss.peakBytes, rssAfterBytes: rss.endBytes };
    }
  };

  const outputDir = path.join(ctx.staging, plan.outputSubdir);
  const outputFile = path.join(outputDir, 'model.onnx');
  try {
    const model = await timed('read', () => readModel(plan.modelFile, { requireData: true }));
    report.input.bytes = inputBytes(plan.modelFile, sourceOf(model)?.dataFiles ?? []);
    report.before = graphStats(model.graph);
    const validateDims = plan.validate && dimsFor(plan.validate.dims, model.graph, ctx.strictDims, plan.validate.where);
    const benchDims = plan.bench && dimsFor(plan.bench.dims, model.graph, ctx.strictDims, plan.bench.where);

    const run = await timed('passes', () =>
      runPasses(model, plan.steps, {
        dims: dimsInModelNames(plan.dims, symbolicInputDims(model.graph)),
        target: ctx.target,
        measure: ctx.runtime.modelTimer({ provider: timingProvider(plan, ctx.target) }),
        ...(ctx.checkTypes ? { checkTypes: ctx.checkTypes } : {}),
        reports: passes,
        onEvent: (event) => emit({ kind: 'runner', component: plan.name, event }),
      }),
    );
    report.inputProblems = run.inputProblems;
    report.inference = run.inference;
    report.after = graphStats(model.graph);

    const written = await timed('write', async () => {
      await fsp.mkdir(outputDir, { recursive: true });
      const result = await writeModel(model, outputFile, { onProgress: (bytes, total) => emit({ kind: 'written', component: plan.name, bytes, total }) });
      // What passes could only count as the writer converted their weights (cast's clamps and flushes).
      await settleAfterWrite(passes);
      return result;
    });
    const rel = (f: string): string => path.relative(ctx.staging, f).split(path.sep).join('/');
    report.output = {
      files: [written.modelFile, written.dataFile].filter((f): f is string => f !== undefined).map(rel),
      modelBytes: written.modelBytes,
      dataBytes: written.dataBytes,
    };

    if (plan.validate) {
      const v = plan.validate;
      const result = await timed('validate', () =>
        ctx.runtime.validateModels(plan.modelFile, outputFile, { provider: v.provider, dims: validateDims!, seed: v.seed, tolerance: v.tolerance }),
      );
      // As for benchmarks below: name the models by their place in the output, not the staging folder.
      const labelled = { ...result, reference: ctx.inputLabel, candidate: rel(outputFile) };
      report.validation = { provider: v.provider, dims: validateDims!, seed: v.seed, tolerance: v.tolerance, result: labelled };
      if (!result.passed) report.status = 'validation-failed';
    }
    if (plan.bench) {
      const b = plan.bench;
      const [before, after] = await timed('bench', () =>
        ctx.runtime.benchModels([plan.modelFile, outputFile], { provider: b.provider, dims: benchDims!, iters: b.iters, warmup: b.warmup }),
      );
      if (before && after) {
        report.bench = {
          provider: b.provider,
          dims: benchDims!,
          iters: b.iters,
          warmup: b.warmup,
          // Staging paths mean nothing once the folder is swapped into place: name the models by role.
          before: { ...before, model: ctx.inputLabel },
          after: { ...after, model: rel(outputFile) },
          speedup: before.medianMs / after.medianMs,
        };
      }
    }
  } catch (e) {
    report.status = 'failed';
    report.error = errorReport(stage, e);
    rawErrors.set(report, e);
    // A model that failed before it was written leaves nothing half-made in the output.
    if (stage === 'read' || stage === 'passes' || stage === 'write') {
      delete report.output;
      await fsp.rm(plan.outputSubdir ? outputDir : outputFile, { recursive: true, force: true });
    }
  }
  return report;
}

/**
 * Where passes that choose by speed time their candidates: on the provider the recipe benchmarks (or validates) on,
 * which is where the choice must pay off; without either, the recipe's target.
 */
export function timingProvider(plan: ComponentPlan, target: 'cuda' | 'cpu'): 'cuda' | 'cpu' {
  return plan.bench?.provider ?? plan.validate?.provider ?? target;
}

/** The symbolic dim names of a graph's inputs (batch, height...). */
export function symbolicInputDims(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const v of graph.inputs) for (const d of v.shape ?? []) if (typeof d === 'string') names.add(d);
  return names;
}

function dimsFor(dims: Record<string, number>, graph: Graph, strict: boolean, where: string): Record<string, number> {
  const have = symbolicInputDims(graph);
  const matches = (d: string) => [...have].some((name) => dimMatches(name, d));
  const unknown = Object.keys(dims).filter((d) => !matches(d));
  if (strict && unknown.length) {
    throw new SdxlOptError('BAD_RECIPE', `dims ${unknown.map((d) => `'${d}'`).join(', ')} match no input dim of the model`, {
      where,
      hint: have.size ? `the model's input dims: ${[...have].join(', ')}` : 'all its input shapes are fixed: give no dims',
    });
  }
  return Object.fromEntries(Object.entries(dims).filter(([d]) => matches(d)));
}

function inputBytes(modelFile: string, dataFiles: readonly string[]): number {
  let total = 0;
  for (const f of [modelFile, ...dataFiles]) {
    try {
      total += fs.statSync(f).size;
    } catch {
      // a missing data file was reported by readModel already
    }
  }
  return total;
}
