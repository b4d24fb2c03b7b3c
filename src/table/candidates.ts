/** Candidates for the progression table from recipes: one per recipe, or one per step of a single recipe. */
import path from 'node:path';
import { SdxlOptError } from '../errors.js';
import type { PassStep } from '../engine/runner.js';
import { readRecipeText } from '../recipe/load.js';
import { parseRecipe } from '../recipe/parse.js';
import type { Recipe } from '../recipe/types.js';
import type { Candidate } from './compare.js';

export interface RecipeCandidates {
  /** The model every candidate is made from (the recipes' `model:`, or the override). */
  modelFile: string;
  candidates: Candidate[];
}

function stepsOf(recipe: Recipe): PassStep[] {
  return recipe.passes.map((s) => ({ pass: s.pass, params: s.params, enabled: s.enabled, where: s.where }));
}

export function candidatesFromRecipes(recipeFiles: readonly string[], options: { model?: string; eachPass?: boolean }): RecipeCandidates {
  const recipes = recipeFiles.map((file) => ({ file, recipe: parseRecipe(readRecipeText(file), file) }));
  const models = recipes.map(({ file, recipe }) => options.model ?? path.resolve(path.dirname(path.resolve(file)), recipe.model));
  const modelFile = models[0]!;
  const other = models.findIndex((m) => m !== modelFile);
  if (other >= 0) {
    throw new SdxlOptError('BAD_PARAM', `recipes name different models ('${models[0]}' and '${models[other]}')`, {
      where: recipeFiles[other],
      hint: 'a table compares forms of one model; pass --model to use one model for all recipes',
    });
  }
  if (!modelFile.endsWith('.onnx')) {
    throw new SdxlOptError('UNSUPPORTED', `'${modelFile}' is not an .onnx file: the table measures one model, not a pipeline folder`, {
      hint: 'pass --model <folder>/unet/model.onnx',
    });
  }
  if (options.eachPass) {
    if (recipes.length !== 1) throw new SdxlOptError('BAD_PARAM', '--each-pass takes exactly one recipe');
    const { file, recipe } = recipes[0]!;
    const steps = stepsOf(recipe).filter((s) => s.enabled !== false);
    const name = path.basename(file).replace(/\.ya?ml$/, '');
    return {
      modelFile,
      candidates: steps.map((s, i) => ({
        label: `${name} ${i + 1}: ${i === 0 ? '' : '+ '}${s.pass.name}`,
        steps: steps.slice(0, i + 1),
        dims: recipe.dims,
        target: recipe.target,
      })),
    };
  }
  return {
    modelFile,
    candidates: recipes.map(({ file, recipe }) => ({
      label: path.basename(file).replace(/\.ya?ml$/, ''),
      steps: stepsOf(recipe),
      dims: recipe.dims,
      target: recipe.target,
    })),
  };
}
