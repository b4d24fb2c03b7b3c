/**
 * Recipe text → a checked Recipe. Pure: no file system (src/recipe/load.ts reads files and resolves paths). Every
 * mistake is an SdxlOptError('BAD_RECIPE') whose `where` is `recipe.yaml:LINE:COL`, saying what was expected and,
 * for a misspelled name, which known name was probably meant.
 */
import type { Pair } from 'yaml';
import type { Tolerance } from '../engine/bridge.js';
import type { PassDefinition } from '../engine/pass.js';
import { PASSES } from '../../passes/index.js';
import { paramNames, readParam } from './params.js';
import { didYouMean } from './suggest.js';
import { COMPONENT_NAMES, PROVIDERS, type BenchSpec, type ComponentName, type ComponentSpec, type Recipe, type RecipeStep, type ValidateSpec } from './types.js';
import { isEmpty, keyOf, valueOf, YamlSource, type Located } from './yaml-source.js';

export type PassRegistry = readonly PassDefinition<any>[];

export const RECIPE_KEYS = ['model', 'output', 'target', 'dims', 'passes', 'components', 'validate', 'bench', 'concurrency'] as const;
const STEP_KEYS = ['name', 'enabled'] as const;
const VALIDATE_KEYS = ['provider', 'dims', 'tolerance', 'seed'] as const;
const TOLERANCE_KEYS = ['cosine', 'rel_l2', 'max_abs'] as const;
const BENCH_KEYS = ['provider', 'iters', 'warmup', 'dims'] as const;
const COMPONENT_KEYS = ['enabled', 'passes', 'dims', 'validate'] as const;
const COMPONENT_VALIDATE_KEYS = ['dims', 'tolerance'] as const;

export const BENCH_DEFAULTS = { iters: 20, warmup: 3 } as const;

export function parseRecipe(text: string, file: string, registry: PassRegistry = PASSES): Recipe {
  return new RecipeParser(new YamlSource(text, file), registry).recipe();
}

class RecipeParser {
  constructor(
    private readonly src: YamlSource,
    private readonly registry: PassRegistry,
  ) {}

  recipe(): Recipe {
    const { src } = this;
    if (src.root === null || src.root === undefined) src.fail(0, 'the recipe is empty', "a recipe needs at least 'model' and 'output'");
    const top = src.onlyKeys(src.mapping(src.root, 'the recipe'), 'the recipe', RECIPE_KEYS);
    const required = (key: string): Pair<unknown, unknown> =>
      top.get(key) ?? src.fail(src.root, `the recipe has no '${key}'`, key === 'model' ? "add 'model: path/to/model.onnx' (or a pipeline folder)" : "add 'output: path/to/folder'");
    const model = required('model');
    const output = required('output');
    const validate = top.get('validate') && this.validate(top.get('validate')!);
    return {
      file: src.file,
      model: src.string(valueOf(model), "'model'", keyOf(model)),
      modelWhere: src.at(valueOf(model) ?? keyOf(model)),
      output: src.string(valueOf(output), "'output'", keyOf(output)),
      outputWhere: src.at(valueOf(output) ?? keyOf(output)),
      target: top.has('target') ? src.oneOf(valueOf(top.get('target')), "'target'", PROVIDERS, keyOf(top.get('target'))) : 'cuda',
      dims: top.has('dims') ? this.dims(top.get('dims')!, "'dims'") : {},
      passes: top.has('passes') ? this.passes(top.get('passes')!, "'passes'") : [],
      components: top.has('components') ? this.components(top.get('components')!) : {},
      validate,
      bench: top.has('bench') ? this.bench(top.get('bench')!) : undefined,
      concurrency: top.has('concurrency') ? src.number(valueOf(top.get('concurrency')), "'concurrency'", { integer: true, min: 1, max: 16 }, keyOf(top.get('concurrency'))) : 1,
    };
  }

  private passes(pair: Pair<unknown, unknown>, what: string): RecipeStep[] {
    const { src } = this;
    const value = valueOf(pair);
    if (isEmpty(value)) return []; // `passes:` with nothing after it: no passes
    return src.sequence(value, what, keyOf(pair)).items.map((item, i) => this.step(item as Located, `step ${i + 1} of ${what}`));
  }

  private step(raw: Located, what: string): RecipeStep {
    const { src } = this;
    const node = src.resolve(raw);
    const where = src.at(node ?? raw);
    if (node && 'value' in node && typeof (node as { value: unknown }).value === 'string') {
      return { pass: this.pass(node, src.string(node, what)), params: {}, enabled: true, where };
    }
    const map = src.mapping(node, `${what} (a pass name, or a mapping with 'name' and params)`, raw);
    const entries = src.entries(map, what);
    const nameEntry =
      entries.find(([k]) => k === 'name') ?? src.fail(map, `${what} has no 'name'`, "write '- name: <pass>' followed by its params, or just '- <pass>'");
    const pass = this.pass(valueOf(nameEntry[1]), src.string(valueOf(nameEntry[1]), `the name in ${what}`, keyOf(nameEntry[1])));
    const params: Record<string, unknown> = {};
    let enabled = true;
    const declared = pass.params as Record<string, Parameters<typeof readParam>[2]>;
    for (const [key, p] of entries) {
      if (key === 'name') continue;
      if (key === 'enabled') {
        enabled = src.boolean(valueOf(p), `'enabled' of pass '${pass.name}'`, keyOf(p));
        continue;
      }
      const schema = declared[key];
      if (!schema) {
        const known = paramNames(pass);
        const suggestion = didYouMean(key, [...known, ...STEP_KEYS]);
        return src.fail(
          keyOf(p),
          `pass '${pass.name}' has no param '${key}'`,
          [suggestion, known.length ? `its params: ${known.join(', ')}` : 'it takes no params'].filter(Boolean).join(' '),
        );
      }
      params[key] = readParam(src, valueOf(p) ?? keyOf(p), schema, `param '${key}' of pass '${pass.name}'`);
    }
    return { pass, params, enabled, where };
  }

  private pass(node: Located, name: string): PassDefinition<any> {
    const pass = this.registry.find((p) => p.name === name);
    if (pass) return pass;
    const suggestion = didYouMean(name, this.registry.map((p) => p.name));
    return this.src.fail(node, `unknown pass '${name}'`, `${suggestion ? `${suggestion} ` : ''}run 'sdxl-opt passes' to list the passes`);
  }

  private dims(pair: Pair<unknown, unknown>, what: string): Record<string, number> {
    const { src } = this;
    const out: Record<string, number> = {};
    for (const [name, p] of src.entries(src.mapping(valueOf(pair), what, keyOf(pair)), what)) {
      out[name] = src.number(valueOf(p), `dim '${name}' in ${what}`, { integer: true, min: 1, max: 2 ** 31 - 1 }, keyOf(p));
    }
    return out;
  }

  private tolerance(pair: Pair<unknown, unknown>, what: string): Tolerance {
    const { src } = this;
    const keys = src.onlyKeys(src.mapping(valueOf(pair), what, keyOf(pair)), what, TOLERANCE_KEYS);
    const read = (key: string, max?: number): number | undefined =>
      keys.has(key) ? src.number(valueOf(keys.get(key)), `'${key}' in ${what}`, { min: 0, ...(max === undefined ? {} : { max }) }, keyOf(keys.get(key))) : undefined;
    const tolerance: Tolerance = {};
    const cosine = read('cosine', 1);
    const relL2 = read('rel_l2');
    const maxAbs = read('max_abs');
    if (cosine !== undefined) tolerance.cosine = cosine;
    if (relL2 !== undefined) tolerance.relL2 = relL2;
    if (maxAbs !== undefined) tolerance.maxAbs = maxAbs;
    return tolerance;
  }

  private validate(pair: Pair<unknown, unknown>): ValidateSpec {
    const { src } = this;
    const map = src.mapping(valueOf(pair), "'validate'", keyOf(pair));
    const keys = src.onlyKeys(map, "'validate'", VALIDATE_KEYS);
    const provider = keys.get('provider') ?? src.fail(map, "'validate' has no 'provider'", "add 'provider: cpu' or 'provider: cuda'");
    return {
      provider: src.oneOf(valueOf(provider), "'provider' in 'validate'", PROVIDERS, keyOf(provider)),
      dims: keys.has('dims') ? this.dims(keys.get('dims')!, "'validate.dims'") : {},
      tolerance: keys.has('tolerance') ? this.tolerance(keys.get('tolerance')!, "'validate.tolerance'") : {},
      seed: keys.has('seed') ? src.number(valueOf(keys.get('seed')), "'seed' in 'validate'", { integer: true, min: 0, max: 2 ** 32 - 1 }, keyOf(keys.get('seed'))) : 0,
      where: src.at(keyOf(pair)),
    };
  }

  private bench(pair: Pair<unknown, unknown>): BenchSpec {
    const { src } = this;
    const map = src.mapping(valueOf(pair), "'bench'", keyOf(pair));
    const keys = src.onlyKeys(map, "'bench'", BENCH_KEYS);
    const provider = keys.get('provider') ?? src.fail(map, "'bench' has no 'provider'", "add 'provider: cuda' or 'provider: cpu'");
    const count = (key: 'iters' | 'warmup', min: number): number =>
      keys.has(key) ? src.number(valueOf(keys.get(key)), `'${key}' in 'bench'`, { integer: true, min, max: 100_000 }, keyOf(keys.get(key))) : BENCH_DEFAULTS[key];
    return {
      provider: src.oneOf(valueOf(provider), "'provider' in 'bench'", PROVIDERS, keyOf(provider)),
      iters: count('iters', 1),
      warmup: count('warmup', 0),
      dims: keys.has('dims') ? this.dims(keys.get('dims')!, "'bench.dims'") : undefined,
      where: src.at(keyOf(pair)),
    };
  }

  private components(pair: Pair<unknown, unknown>): Partial<Record<ComponentName, ComponentSpec>> {
    const { src } = this;
    const out: Partial<Record<ComponentName, ComponentSpec>> = {};
    const map = src.mapping(valueOf(pair), "'components'", keyOf(pair));
    for (const [name, p] of src.onlyKeys(map, "'components'", COMPONENT_NAMES)) {
      const what = `component '${name}'`;
      const value = valueOf(p);
      const keys = isEmpty(value) ? new Map<string, Pair<unknown, unknown>>() : src.onlyKeys(src.mapping(value, what, keyOf(p)), what, COMPONENT_KEYS);
      let validate: ComponentSpec['validate'];
      if (keys.has('validate')) {
        const v = keys.get('validate')!;
        const vkeys = src.onlyKeys(src.mapping(valueOf(v), `'validate' of ${what}`, keyOf(v)), `'validate' of ${what}`, COMPONENT_VALIDATE_KEYS);
        validate = {
          dims: vkeys.has('dims') ? this.dims(vkeys.get('dims')!, `'validate.dims' of ${what}`) : {},
          tolerance: vkeys.has('tolerance') ? this.tolerance(vkeys.get('tolerance')!, `'validate.tolerance' of ${what}`) : {},
        };
      }
      out[name as ComponentName] = {
        enabled: keys.has('enabled') ? src.boolean(valueOf(keys.get('enabled')), `'enabled' of ${what}`, keyOf(keys.get('enabled'))) : true,
        passes: keys.has('passes') ? this.passes(keys.get('passes')!, `'passes' of ${what}`) : undefined,
        dims: keys.has('dims') ? this.dims(keys.get('dims')!, `'dims' of ${what}`) : {},
        validate,
        where: src.at(keyOf(p)),
      };
    }
    return out;
  }
}
