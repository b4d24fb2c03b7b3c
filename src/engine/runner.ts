/**
 * The pass runner: runs an ordered list of steps on a model. For each step it measures wall time and the growth of
 * peak memory, keeps the pass's result and notes, stamps the nodes the pass created with its name, and checks the
 * graph afterwards. A pass that leaves the graph broken (or throws) stops the run with a PASS_FAILED error naming it
 * and the passes before it. Composite passes (`cleanup`) run their parts through `ctx.runPass`, which goes through
 * the same machinery, so each part is timed, stamped, checked and reported on its own.
 */
import { SdxlOptError, isSdxlOptError } from '../errors.js';
import { checkGraph } from '../ir/check.js';
import type { Model } from '../ir/model.js';
import { PASS_STAMP_KEY, type Node } from '../ir/node.js';
import { checkTypes as inferCheckTypes } from '../ir/infer/check-types.js';
import { inferTypes } from '../ir/infer/index.js';
import type { ModelTimer } from './measure.js';
import { measureMemory } from './memory.js';
import { defaultParams, type LateReport, type PassContext, type PassDefinition, type PassResult } from './pass.js';

export interface PassStep {
  pass: PassDefinition<any>;
  /** Validated params; missing ones take the pass's defaults. */
  params?: Record<string, unknown>;
  /** A step switched off in the recipe is reported, not run. */
  enabled?: boolean;
  /** Where the step was declared (`recipe.yaml:12:5`), for messages. */
  where?: string;
}

export interface StepReport {
  pass: string;
  params: Record<string, unknown>;
  where?: string;
  skipped?: boolean;
  changed: boolean;
  counts: Record<string, number>;
  summary: string;
  reasons?: string[];
  wallMs: number;
  /** Time the engine spent checking the graph after the pass (not in wallMs; a composite's parts have their own). */
  checkMs: number;
  /** How far the process's peak resident memory rose above where it stood when the pass began. */
  peakRssDeltaBytes: number;
  /** The process's highest resident memory seen during the pass. */
  peakRssBytes: number;
  /** The process's resident memory when the pass ended. */
  rssAfterBytes: number;
  nodes: { before: number; after: number; created: number; removed: number };
  /** Notes the pass logged. */
  log: string[];
  /** What the engine noticed: a pass expected before this one that did not run. */
  warnings: string[];
  /** The parts of a composite pass, in the order they ran. */
  steps?: StepReport[];
}

export type RunnerEvent =
  | { kind: 'pass-start'; pass: string; index: number; total: number; depth: number }
  | { kind: 'pass-end'; report: StepReport; depth: number }
  | { kind: 'log'; pass: string; message: string }
  | { kind: 'progress'; pass: string; done: number; total: number; unit: string };

export interface RunOptions {
  dims?: Readonly<Record<string, number>>;
  target?: 'cuda' | 'cpu';
  /**
   * Type checks run after each pass, besides the structural ones. Default: shape inference's checker. Tests of
   * the engine pass their own.
   */
  checkTypes?: (graph: Model['graph']) => string[];
  onEvent?: (event: RunnerEvent) => void;
  /** Times models for passes that choose by speed (PassContext.measure); absent: such passes refuse to guess. */
  measure?: ModelTimer;
  /** Step reports are pushed here as steps finish, so a caller keeps them when a later step fails. */
  reports?: StepReport[];
}

/** What type inference, run once before the first pass, could tell: passes rely on these types. */
export interface InferenceSummary {
  values: number;
  /** Values with an element type and a full shape. */
  complete: number;
  /** Op types inference has no rule for, with their node counts. */
  unknownOps: Record<string, number>;
  /** Contradictions between recorded types and inference (the first few). */
  issues: string[];
  ms: number;
}

export interface RunResult {
  steps: StepReport[];
  inference: InferenceSummary;
  /** Problems the checks found in the model before any pass ran: not blamed on passes, reported as they are. */
  inputProblems: string[];
}

const disabledSummary = 'disabled in the recipe';

/** Reports of passes with something to add once the model is written (PassResult.afterWrite). */
const lateReports = new WeakMap<StepReport, () => Promise<LateReport>>();

/**
 * Adds to each step report (nested ones included) what its pass could only tell after the model was written.
 * Each pass's addition is made once.
 */
export async function settleAfterWrite(reports: readonly StepReport[]): Promise<void> {
  for (const report of reports) {
    const late = lateReports.get(report);
    if (late) {
      lateReports.delete(report);
      const more = await late();
      Object.assign(report.counts, more.counts);
      report.log.push(...more.log);
      if (more.summary) report.summary += more.summary;
    }
    await settleAfterWrite(report.steps ?? []);
  }
}

/** Errors that already name the pass they came from, so the composite passes around it pass them on unchanged. */
const attributed = new WeakSet<SdxlOptError>();

export async function runPasses(model: Model, steps: readonly PassStep[], options: RunOptions = {}): Promise<RunResult> {
  const inference = inferOnce(model, options.dims);
  const runner = new Runner(model, options);
  const reports = options.reports ?? [];
  const inputProblems = [...runner.baseline];
  for (const [index, step] of steps.entries()) {
    if (step.enabled === false) {
      reports.push(skippedReport(step));
      continue;
    }
    reports.push(await runner.runStep(step, { index, total: steps.length, parents: [] }));
  }
  return { steps: reports, inference, inputProblems };
}

/** Types for every value inference can tell, with the recipe's fixed dims: passes read them (shapeOf, dtypeOf). */
function inferOnce(model: Model, dims: Readonly<Record<string, number>> | undefined): InferenceSummary {
  const started = performance.now();
  const report = inferTypes(model.graph, dims ? { dims } : {});
  return {
    values: report.valueCount,
    complete: report.complete,
    unknownOps: report.unknownOps,
    issues: report.issues.slice(0, 20).map((i) => `${i.node}: ${i.message}`),
    ms: performance.now() - started,
  };
}

function skippedReport(step: PassStep): StepReport {
  const params = { ...defaultParams(step.pass), ...step.params };
  return {
    pass: step.pass.name,
    params,
    ...(step.where ? { where: step.where } : {}),
    skipped: true,
    changed: false,
    counts: {},
    summary: disabledSummary,
    wallMs: 0,
    checkMs: 0,
    peakRssDeltaBytes: 0,
    peakRssBytes: 0,
    rssAfterBytes: 0,
    nodes: { before: 0, after: 0, created: 0, removed: 0 },
    log: [],
    warnings: [],
  };
}

function checkTime(steps: readonly StepReport[]): number {
  return steps.reduce((sum, s) => sum + s.checkMs + checkTime(s.steps ?? []), 0);
}

interface StepPlace {
  index: number;
  total: number;
  /** Names of the composite passes this step runs inside, outermost first. */
  parents: string[];
}

class Runner {
  /** Qualified names of the passes that have run, in order ("cleanup > fold-constants"). */
  private readonly history: string[] = [];
  readonly baseline: Set<string>;
  private readonly checkTypes: (graph: Model['graph']) => string[];

  constructor(
    private readonly model: Model,
    private readonly options: RunOptions,
  ) {
    this.checkTypes = options.checkTypes ?? inferCheckTypes;
    this.baseline = new Set(this.problems());
  }

  /**
   * Structural problems, and with `types` also type problems. Type checks re-run inference over the whole graph
   * (about a second on the full SDXL UNet), so the parts of a composite pass get the structural check only; the
   * composite as a whole gets both.
   */
  private problems(types = true): string[] {
    return [...checkGraph(this.model.graph), ...(types ? this.checkTypes(this.model.graph) : [])];
  }

  async runStep(step: PassStep, place: StepPlace): Promise<StepReport> {
    const { pass } = step;
    const graph = this.model.graph;
    const qualified = [...place.parents, pass.name].join(' > ');
    const params = { ...defaultParams(pass), ...step.params };
    const log: string[] = [];
    const children: StepReport[] = [];
    const warnings = (pass.after ?? [])
      .filter((name) => !this.history.some((h) => h === name || h.endsWith(` > ${name}`)))
      .map((name) => `pass '${pass.name}' expects '${name}' to have run before it; it did not`);
    for (const w of warnings) this.emit({ kind: 'log', pass: pass.name, message: `warning: ${w}` });

    const ctx: PassContext = {
      model: this.model,
      graph,
      dims: this.options.dims ?? {},
      target: this.options.target ?? 'cuda',
      ...(this.options.measure ? { measure: this.options.measure } : {}),
      log: (message) => {
        log.push(message);
        this.emit({ kind: 'log', pass: qualified, message });
      },
      progress: (done, total, unit) => this.emit({ kind: 'progress', pass: qualified, done, total, unit }),
      runPass: async (sub, subParams) => {
        const report = await this.runStep(
          { pass: sub, params: subParams as Record<string, unknown>, ...(step.where ? { where: step.where } : {}) },
          { index: children.length, total: 0, parents: [...place.parents, pass.name] },
        );
        children.push(report);
        return report;
      },
    };

    this.emit({ kind: 'pass-start', pass: pass.name, index: place.index, total: place.total, depth: place.parents.length });
    const before = new Set<Node>(graph);
    const nodesBefore = before.size;
    const memory = measureMemory();
    const started = performance.now();
    let result: PassResult;
    try {
      result = await pass.run(ctx, params);
    } catch (e) {
      memory.stop();
      throw this.failure(step, qualified, e);
    }
    // A composite's time is its own work and its parts', not the engine's checks after each part.
    const wallMs = performance.now() - started - checkTime(children);
    const rss = memory.stop();

    let created = 0;
    for (const node of graph) {
      if (before.has(node)) {
        before.delete(node);
        continue;
      }
      created++;
      if (node.metadata(PASS_STAMP_KEY) === undefined) node.setMetadata(PASS_STAMP_KEY, pass.name);
    }
    const removed = before.size;
    this.history.push(qualified);

    const checkStarted = performance.now();
    const fresh = this.problems(place.parents.length === 0).filter((p) => !this.baseline.has(p));
    const checkMs = performance.now() - checkStarted;
    if (fresh.length) {
      const listed = fresh.slice(0, 3).join('; ') + (fresh.length > 3 ? `; and ${fresh.length - 3} more` : '');
      const error = new SdxlOptError('PASS_FAILED', `pass '${qualified}' broke the graph: ${listed}`, {
        where: step.where,
        hint: `${this.ranBefore()}; this is a bug in pass '${pass.name}': report it with the recipe and model`,
      });
      attributed.add(error);
      throw error;
    }

    const report: StepReport = {
      pass: pass.name,
      params,
      ...(step.where && place.parents.length === 0 ? { where: step.where } : {}),
      changed: result.changed,
      counts: result.counts,
      summary: result.summary,
      ...(result.reasons?.length ? { reasons: result.reasons } : {}),
      wallMs,
      checkMs,
      peakRssDeltaBytes: rss.deltaBytes,
      peakRssBytes: rss.peakBytes,
      rssAfterBytes: rss.endBytes,
      nodes: { before: nodesBefore, after: graph.nodeCount, created, removed },
      log,
      warnings,
      ...(children.length ? { steps: children } : {}),
    };
    if (result.afterWrite) lateReports.set(report, result.afterWrite);
    this.emit({ kind: 'pass-end', report, depth: place.parents.length });
    return report;
  }

  private ranBefore(): string {
    const done = this.history.slice(0, -1);
    return done.length ? `passes run before it: ${done.join(', ')}` : 'it was the first pass to run';
  }

  /** A pass that threw: errors a user can act on keep their code; anything else is the pass's bug. */
  private failure(step: PassStep, qualified: string, e: unknown): SdxlOptError {
    this.history.push(qualified);
    if (isSdxlOptError(e) && attributed.has(e)) return e; // from a part of a composite pass, already named
    const why = e instanceof Error ? e.message : String(e);
    const userFacing = isSdxlOptError(e) && e.code !== 'BAD_MODEL' && e.code !== 'PASS_FAILED';
    const error = userFacing
      ? new SdxlOptError(e.code, `pass '${qualified}': ${why}`, { where: e.where ?? step.where, hint: e.hint, cause: e })
      : new SdxlOptError('PASS_FAILED', `pass '${qualified}' failed: ${why}`, {
          where: step.where,
          hint: `${this.ranBefore()}; this is a bug in pass '${step.pass.name}': report it with the recipe and model`,
          cause: e,
        });
    attributed.add(error);
    return error;
  }

  private emit(event: RunnerEvent): void {
    this.options.onEvent?.(event);
  }
}
