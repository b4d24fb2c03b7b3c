/**
 * How a pass is declared: once, with its name, description, typed params (a JSON-Schema subset with defaults, which
 * the recipe validates against and `sdxl-opt passes` lists) and its run function. The registry in passes/index.ts
 * is the one list of passes.
 */
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { ModelTimer } from './measure.js';

/** The JSON-Schema subset pass params are declared in. */
export type ParamSchema =
  | { type: 'boolean'; description: string }
  | { type: 'integer' | 'number'; description: string; minimum?: number; maximum?: number }
  | { type: 'string'; description: string; enum?: readonly string[] }
  | { type: 'array'; description: string; items: ParamSchemaItem; minItems?: number }
  | { type: 'object'; description: string; properties: Record<string, ParamSchemaItem>; additionalProperties?: false }
  | { description: string; oneOf: readonly ParamSchemaItem[] };

export type ParamSchemaItem =
  | { type: 'boolean' | 'integer' | 'number' | 'string'; enum?: readonly (string | number)[]; minimum?: number; maximum?: number; description?: string }
  | { type: 'array'; items: ParamSchemaItem; minItems?: number; maxItems?: number; description?: string }
  | { type: 'object'; properties: Record<string, ParamSchemaItem>; additionalProperties?: false; description?: string }
  | { const: string | number | boolean; description?: string }
  | { oneOf: readonly ParamSchemaItem[]; description?: string };

export type ParamSpecs<P> = { [K in keyof P]: ParamSchema & { default: P[K] } };

export interface PassContext {
  model: Model;
  graph: Graph;
  /** Dims fixed by the recipe (batch, height, width, sequence...): passes may specialize shapes to them. */
  dims: Readonly<Record<string, number>>;
  /** The execution provider the optimized model is for. */
  target: 'cuda' | 'cpu';
  /** Notes for the report, and for `--verbose` on the terminal. */
  log(message: string): void;
  /** Progress of long work, in units the pass chooses (nodes, bytes). */
  progress(done: number, total: number, unit: string): void;
  /**
   * Runs another pass as a step of this one (a composite pass such as `cleanup`), through the engine: it is timed,
   * checked, stamps the nodes it makes with its own name, and appears nested in the report. Set by the engine;
   * call it through `runSubPass`, which also works with a hand-made context (in a pass's unit tests).
   */
  runPass?<Q extends object>(pass: PassDefinition<Q>, params?: Partial<Q>): Promise<PassResult>;
  /** Times models on the target provider (the Node layer provides it, see measure.ts); absent where none can run. */
  measure?: ModelTimer;
}

export interface PassResult {
  changed: boolean;
  /** Counts of what the pass did, by kind: { fused: 70, candidates: 70 }. */
  counts: Record<string, number>;
  /** One line for humans: "fused 70 of 70 QKV groups". */
  summary: string;
  /** When nothing changed: why (the most common question about a rewrite). */
  reasons?: string[];
  /**
   * What the pass can only tell once the model is written: lazy weights convert as the writer streams them, and
   * counting what the conversion lost then costs no read of its own. Whoever writes the model calls it afterwards
   * (apply does, through `settleAfterWrite`); its counts and log join the pass's. Called without a write, it reads
   * what the writer did not.
   */
  afterWrite?: () => Promise<LateReport>;
}

/** Counts and notes a pass adds to its report after the model is written. */
export interface LateReport {
  counts: Record<string, number>;
  log: string[];
  /** Appended to the pass's summary ("; 3 weights clamped"). */
  summary?: string;
}

export interface PassDefinition<P = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  readonly params: ParamSpecs<P>;
  /** Names of passes this one expects to have run first (checked by the engine, which warns when missing). */
  readonly after?: readonly string[];
  run(ctx: PassContext, params: P): Promise<PassResult> | PassResult;
}

export function definePass<P extends object>(def: PassDefinition<P>): PassDefinition<P> {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(def.name)) throw new Error(`pass name '${def.name}' must be kebab-case`);
  return def;
}

/** The defaults of a pass's params. */
export function defaultParams<P>(def: PassDefinition<P>): P {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(def.params as Record<string, { default: unknown }>)) out[k] = structuredClone(spec.default);
  return out as P;
}

/** Runs `pass` as part of the pass that owns `ctx`: through the engine when it runs us, else directly. */
export async function runSubPass<Q extends object>(ctx: PassContext, pass: PassDefinition<Q>, params: Partial<Q> = {}): Promise<PassResult> {
  if (ctx.runPass) return ctx.runPass(pass, params);
  return pass.run(ctx, { ...defaultParams(pass), ...params });
}

/** A result for a pass that found nothing to do. */
export function unchanged(summary: string, reasons: string[] = [], counts: Record<string, number> = {}): PassResult {
  return { changed: false, counts, summary, reasons };
}
