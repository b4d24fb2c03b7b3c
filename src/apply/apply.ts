/**
 * `sdxl-opt apply`, as a library call: load and check the recipe (refusing bad input before any work), process each
 * model (pipeline components with bounded concurrency), write report.json and report.md, and swap the finished
 * output folder into place (output-folder.ts says how, and what a crash leaves).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { runtime as defaultRuntime, type RuntimeApi } from '../engine/bridge.js';
import type { Graph } from '../ir/graph.js';
import { SdxlOptError } from '../errors.js';
import { loadRecipe, type Plan } from '../recipe/load.js';
import type { PassRegistry } from '../recipe/parse.js';
import { processComponent, rawErrorOf, type ComponentEvent } from './component.js';
import { checkReplaceable, leftovers, REPORT_JSON, StagedFolder, TOOL_NAME } from './output-folder.js';
import { renderReport } from './report-md.js';
import { exitCodeOf, hostEnvironment, overallStatus, type ApplyReport, type ComponentReport, type EnvironmentReport } from './report.js';
import { VERSION } from '../version.js';

export const REPORT_MD = 'report.md';

export type ApplyEvent =
  | ComponentEvent
  | { kind: 'component-start'; component: string; index: number; total: number }
  | { kind: 'component-end'; component: string; report: ComponentReport }
  | { kind: 'warning'; message: string };

export interface ApplyOptions {
  /** The passes recipes may name. Default: the registry in passes/index.ts. */
  registry?: PassRegistry;
  /** ONNX Runtime, for validation and benchmarks. Default: src/runtime. */
  runtime?: RuntimeApi;
  /** Type checks after each pass. Default: shape inference's. */
  checkTypes?: (graph: Graph) => string[];
  onEvent?: (event: ApplyEvent) => void;
}

export interface ApplyResult {
  report: ApplyReport;
  outputPath: string;
  /** 0 ok, 1 parity outside tolerance, 2 a component failed. */
  exitCode: 0 | 1 | 2;
}

export async function applyRecipe(recipeFile: string, options: ApplyOptions = {}): Promise<ApplyResult> {
  const started = performance.now();
  const plan = loadRecipe(recipeFile, options.registry);
  checkReplaceable(plan.outputPath, plan.recipe.outputWhere);
  const emit = (event: ApplyEvent): void => options.onEvent?.(event);
  const warnings = leftoverWarnings(plan.outputPath);
  warnings.forEach((message) => emit({ kind: 'warning', message }));
  const runtime = options.runtime ?? defaultRuntime;

  const staged = await StagedFolder.create(plan.outputPath);
  try {
    const limit = pLimit(plan.recipe.concurrency);
    const components = await Promise.all(
      plan.components.map((component, index) =>
        limit(async () => {
          emit({ kind: 'component-start', component: component.name, index, total: plan.components.length });
          const report = await processComponent(component, {
            staging: staged.staging,
            target: plan.recipe.target,
            runtime,
            ...(options.checkTypes ? { checkTypes: options.checkTypes } : {}),
            onEvent: emit,
            inputLabel: inputLabel(plan, component.modelFile),
            strictDims: !plan.pipeline,
          });
          emit({ kind: 'component-end', component: component.name, report });
          return report;
        }),
      ),
    );
    if (!components.some((c) => c.output)) {
      // Nothing was made: leave the old output as it was and fail with the first error, as a single model would.
      const failed = components.find((c) => c.error);
      throw failed ? rawErrorOf(failed) : new SdxlOptError('UNSUPPORTED', 'the recipe selects no model to optimize');
    }
    const report: ApplyReport = {
      tool: { name: TOOL_NAME, version: VERSION },
      date: new Date().toISOString(),
      recipe: { file: plan.recipe.file, target: plan.recipe.target, dims: plan.recipe.dims },
      model: plan.recipe.model,
      output: plan.recipe.output,
      pipeline: plan.pipeline,
      status: overallStatus(components),
      environment: await environment(plan, runtime),
      components,
      skipped: plan.skipped,
      warnings: [...warnings, ...components.flatMap((c) => c.passes.flatMap((p) => p.warnings.map((w) => `${c.name}: ${w}`)))],
      wallMs: 0,
      peakRssBytes: 0,
    };
    report.wallMs = performance.now() - started;
    report.peakRssBytes = process.resourceUsage().maxRSS * 1024;
    await fsp.writeFile(path.join(staged.staging, REPORT_JSON), `${JSON.stringify(report, null, 2)}\n`);
    await fsp.writeFile(path.join(staged.staging, REPORT_MD), renderReport(report));
    await staged.commit();
    return { report, outputPath: plan.outputPath, exitCode: exitCodeOf(report.status) };
  } catch (e) {
    await staged.discard();
    throw e;
  }
}

/** The runtime's environment is read only when the recipe uses the runtime (loading it costs time). */
async function environment(plan: Plan, runtime: RuntimeApi): Promise<EnvironmentReport> {
  const env = hostEnvironment();
  if (!plan.recipe.validate && !plan.recipe.bench) return env;
  try {
    env.runtime = await runtime.runtimeEnvironment();
  } catch (e) {
    env.runtime = { error: e instanceof Error ? e.message : String(e) };
  }
  return env;
}

function inputLabel(plan: Plan, modelFile: string): string {
  return plan.pipeline ? `${plan.recipe.model.replace(/\/+$/, '')}/${path.relative(plan.modelPath, modelFile).split(path.sep).join('/')}` : plan.recipe.model;
}

function leftoverWarnings(target: string): string[] {
  return leftovers(target).map((l) =>
    l.kind === 'backup'
      ? `found '${l.path}', left by an interrupted run of sdxl-opt: it holds the output as it was before that run; ` +
        `rename it back to '${path.basename(target)}' if that folder is missing, or delete it`
      : `found '${l.path}', the unfinished output of an interrupted run of sdxl-opt; delete it`,
  );
}
