/**
 * The Node layer of recipes: reads a recipe file (refusing oversized or binary ones before parsing), resolves its
 * paths relative to the recipe, finds the model or the components of a pipeline folder, and refuses dangerous
 * outputs, all before any model is read. The result is a plan: one entry per model to optimize.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SdxlOptError } from '../errors.js';
import { parseRecipe, type PassRegistry } from './parse.js';
import { COMPONENT_NAMES, type BenchSpec, type ComponentName, type Recipe, type RecipeStep, type ValidateSpec } from './types.js';

export const MAX_RECIPE_BYTES = 1024 * 1024;
export const MAX_RECIPE_LINE = 64 * 1024;

/** The file names of a component in a pipeline folder. */
export const COMPONENT_MODEL_FILE = 'model.onnx';

export interface ComponentPlan {
  /** The component name, or 'model' for a recipe on a single .onnx file. */
  name: string;
  modelFile: string;
  /** Folder inside the output that receives model.onnx: '' for a single model, the component name for a pipeline. */
  outputSubdir: string;
  steps: RecipeStep[];
  dims: Record<string, number>;
  validate: ValidateSpec | undefined;
  bench: (BenchSpec & { dims: Record<string, number> }) | undefined;
}

export interface Plan {
  recipe: Recipe;
  /** The recipe file, resolved. */
  recipeFile: string;
  /** The model file or pipeline folder, resolved. */
  modelPath: string;
  pipeline: boolean;
  outputPath: string;
  components: ComponentPlan[];
  /** Components present in the pipeline folder that the recipe switched off. */
  skipped: ComponentName[];
}

export function loadRecipe(file: string, registry?: PassRegistry): Plan {
  const recipe = parseRecipe(readRecipeText(file), file, registry);
  const base = path.dirname(path.resolve(file));
  const modelPath = path.resolve(base, recipe.model);
  const outputPath = path.resolve(base, recipe.output);
  const stat = statOrUndefined(modelPath);
  if (!stat) {
    throw new SdxlOptError('IO', `model '${recipe.model}' does not exist (looked for '${modelPath}')`, {
      where: recipe.modelWhere,
      hint: 'paths in a recipe are relative to the recipe file',
    });
  }
  if (!stat.isFile() && !stat.isDirectory()) {
    throw new SdxlOptError('UNSAFE_PATH', `model '${recipe.model}' is neither a file nor a folder`, { where: recipe.modelWhere });
  }
  const pipeline = stat.isDirectory();
  checkOutputLinks(recipe, base, outputPath);
  checkOutputPlace(recipe, path.resolve(file), pipeline ? modelPath : path.dirname(modelPath), outputPath);
  const plan: Plan = { recipe, recipeFile: path.resolve(file), modelPath, pipeline, outputPath, components: [], skipped: [] };
  if (!pipeline) {
    if (Object.keys(recipe.components).length) {
      throw new SdxlOptError('BAD_RECIPE', "'components' applies only when 'model' is a pipeline folder", {
        where: Object.values(recipe.components)[0]!.where,
        hint: "name the pipeline folder in 'model', or put the passes in the top-level 'passes'",
      });
    }
    plan.components.push(componentPlan(recipe, 'model', modelPath, ''));
    return plan;
  }
  const present = COMPONENT_NAMES.filter((name) => statOrUndefined(path.join(modelPath, name, COMPONENT_MODEL_FILE))?.isFile());
  for (const [name, spec] of Object.entries(recipe.components)) {
    if (!present.includes(name as ComponentName)) {
      throw new SdxlOptError('BAD_RECIPE', `the pipeline folder has no component '${name}' (no ${name}/${COMPONENT_MODEL_FILE})`, {
        where: spec.where,
        hint: present.length ? `its components: ${present.join(', ')}` : undefined,
      });
    }
  }
  if (!present.length) {
    throw new SdxlOptError('BAD_RECIPE', `'${recipe.model}' is a folder without any pipeline component`, {
      where: recipe.modelWhere,
      hint: `a pipeline folder holds ${COMPONENT_NAMES.map((c) => `${c}/${COMPONENT_MODEL_FILE}`).join(', ')}; or name a .onnx file`,
    });
  }
  for (const name of present) {
    if (recipe.components[name]?.enabled === false) plan.skipped.push(name);
    else plan.components.push(componentPlan(recipe, name, path.join(modelPath, name, COMPONENT_MODEL_FILE), name));
  }
  if (!plan.components.length) {
    throw new SdxlOptError('BAD_RECIPE', 'the recipe switches off every component of the pipeline', {
      where: Object.values(recipe.components)[0]?.where ?? recipe.modelWhere,
      hint: "remove 'enabled: false' from the components to optimize",
    });
  }
  return plan;
}

function componentPlan(recipe: Recipe, name: string, modelFile: string, outputSubdir: string): ComponentPlan {
  const spec = recipe.components[name as ComponentName];
  const dims = { ...recipe.dims, ...spec?.dims };
  const validate: ValidateSpec | undefined = recipe.validate && {
    ...recipe.validate,
    dims: { ...dims, ...recipe.validate.dims, ...spec?.validate?.dims },
    tolerance: { ...recipe.validate.tolerance, ...spec?.validate?.tolerance },
  };
  const bench = recipe.bench && { ...recipe.bench, dims: recipe.bench.dims ? { ...dims, ...recipe.bench.dims } : (validate?.dims ?? dims) };
  return { name, modelFile, outputSubdir, steps: spec?.passes ?? recipe.passes, dims, validate, bench };
}

/** Reads a recipe, refusing what is not a small text file before the YAML parser sees it. */
export function readRecipeText(file: string): string {
  const stat = statOrUndefined(file);
  if (!stat) throw new SdxlOptError('IO', `recipe '${file}' does not exist`, { where: file });
  if (!stat.isFile()) throw new SdxlOptError('BAD_RECIPE', `recipe '${file}' is not a regular file`, { where: file });
  if (stat.size > MAX_RECIPE_BYTES) {
    throw new SdxlOptError('BAD_RECIPE', `the recipe is ${stat.size} bytes; recipes may have at most ${MAX_RECIPE_BYTES}`, {
      where: file,
      hint: 'a recipe lists passes and settings; it never needs to be this large',
    });
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new SdxlOptError('IO', `cannot read recipe '${file}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { where: file, cause: e });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SdxlOptError('BAD_RECIPE', 'the recipe is not UTF-8 text', { where: file, hint: 'recipes are YAML text files' });
  }
  let line = 1;
  for (let start = 0; start <= text.length; line++) {
    const end = text.indexOf('\n', start);
    const stop = end < 0 ? text.length : end;
    if (stop - start > MAX_RECIPE_LINE) {
      throw new SdxlOptError('BAD_RECIPE', `line ${line} is ${stop - start} characters long; recipe lines may have at most ${MAX_RECIPE_LINE}`, {
        where: `${file}:${line}:1`,
      });
    }
    if (end < 0) break;
    start = end + 1;
  }
  return text;
}

/**
 * Refuses an output folder that would swallow or replace what the run reads: the model's own folder, a folder
 * containing it, or a folder holding the recipe itself (the output folder is replaced as a whole).
 */
function checkOutputPlace(recipe: Recipe, recipeFile: string, modelFolder: string, output: string): void {
  const out = realOrResolved(output);
  const inputs: [string, string][] = [
    [realOrResolved(modelFolder), "the model's folder"],
    [realOrResolved(path.dirname(recipeFile)), "the recipe's folder"],
  ];
  for (const [folder, what] of inputs) {
    if (folder === out || isInside(folder, out)) {
      throw new SdxlOptError('UNSAFE_PATH', `output '${recipe.output}' is ${folder === out ? '' : 'a folder containing '}${what}`, {
        where: recipe.outputWhere,
        hint: 'sdxl-opt replaces the output folder as a whole; choose a new folder, e.g. out/<name>',
      });
    }
  }
}

/**
 * Refuses an output path that passes through a symbolic link leading out of the folder the link sits in
 * (`output: out/unet` with `out` → `/elsewhere`): the output would land somewhere the recipe does not say, and the
 * folder there is replaced as a whole. Links that stay within their folder, and those above the recipe's folder for
 * a relative output, are followed as usual.
 */
function checkOutputLinks(recipe: Recipe, recipeFolder: string, output: string): void {
  const start = isInside(output, recipeFolder) ? recipeFolder : path.parse(output).root;
  let at = start;
  for (const part of path.relative(start, output).split(path.sep).filter(Boolean)) {
    const parent = at;
    at = path.join(at, part);
    let link: fs.Stats;
    try {
      link = fs.lstatSync(at);
    } catch {
      return; // the rest does not exist yet: it will be made as a plain folder
    }
    if (!link.isSymbolicLink()) continue;
    const target = realOrResolved(at);
    const folder = realOrResolved(parent);
    if (target !== folder && !isInside(target, folder)) {
      throw new SdxlOptError('UNSAFE_PATH', `output '${recipe.output}' leads through the symbolic link '${at}' to '${target}', outside '${parent}'`, {
        where: recipe.outputWhere,
        hint: `write the real path in the recipe if the output belongs there: ${realOrResolved(output)}`,
      });
    }
  }
}

/** True when `inner` is strictly inside `outer`. */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (for paths not made yet). */
export function realOrResolved(p: string): string {
  const resolved = path.resolve(p);
  const rest: string[] = [];
  for (let at = resolved; ; at = path.dirname(at)) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch {
      if (path.dirname(at) === at) return resolved;
      rest.push(path.basename(at));
    }
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}
