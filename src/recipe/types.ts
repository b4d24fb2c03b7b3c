/** A recipe, checked: what `sdxl-opt apply` does, with the place in the recipe file each part came from. */
import type { Provider, Tolerance } from '../engine/bridge.js';
import type { PassDefinition } from '../engine/pass.js';

/** Components of a pipeline folder (the Optimum layout), in the order they are processed and reported. */
export const COMPONENT_NAMES = ['unet', 'vae_decoder', 'vae_encoder', 'text_encoder', 'text_encoder_2'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

export const PROVIDERS: readonly Provider[] = ['cpu', 'cuda'];

export interface RecipeStep {
  pass: PassDefinition<any>;
  /** The params the recipe gave, checked against the pass's schema (defaults are filled in when it runs). */
  params: Record<string, unknown>;
  enabled: boolean;
  /** `recipe.yaml:LINE:COL` of the step. */
  where: string;
}

export interface ValidateSpec {
  provider: Provider;
  /** Sizes for the model's symbolic dims (batch, height, width, sequence...). */
  dims: Record<string, number>;
  /** Omitted figures take the runtime's defaults. */
  tolerance: Tolerance;
  seed: number;
  where: string;
}

export interface BenchSpec {
  provider: Provider;
  iters: number;
  warmup: number;
  /** Omitted: the validation dims, then the recipe's dims. */
  dims: Record<string, number> | undefined;
  where: string;
}

/** What a recipe says about one component of a pipeline folder; what it does not say comes from the top level. */
export interface ComponentSpec {
  /** false: the component is left out of the output. */
  enabled: boolean;
  /** Replaces the top-level pass list for this component. */
  passes: RecipeStep[] | undefined;
  /** Merged over the top-level dims. */
  dims: Record<string, number>;
  /** Merged over the top-level validate dims and tolerance. */
  validate: { dims: Record<string, number>; tolerance: Tolerance } | undefined;
  where: string;
}

export interface Recipe {
  /** The recipe file, as the user named it. */
  file: string;
  /** The model path as written (a .onnx file or a pipeline folder); relative paths are relative to the recipe. */
  model: string;
  modelWhere: string;
  /** The output folder as written. */
  output: string;
  outputWhere: string;
  target: Provider;
  dims: Record<string, number>;
  passes: RecipeStep[];
  components: Partial<Record<ComponentName, ComponentSpec>>;
  validate: ValidateSpec | undefined;
  bench: BenchSpec | undefined;
  /** How many pipeline components are processed at once. */
  concurrency: number;
}
