/**
 * Deterministic model inputs. Each input is drawn from its own seeded stream (seed × input name), so the same seed
 * gives the same bytes on every run and machine, and adding an input to a model does not change the others.
 * Known SDXL inputs get values of the kind a pipeline feeds them; anything else is filled by dtype.
 */
import { SdxlOptError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Dim } from '../ir/value.js';
import { DataType, isFloatType } from '../onnx/dtype.js';
import type { DimResolver } from './dims.js';
import { SeededRandom, streamId } from './random.js';
import { ortTypeOf, type OrtElementData } from './tensor-data.js';

export const DEFAULT_SEED = 0;

/** CLIP's vocabulary size and its end-of-text token (the text encoders pool at the highest id, this one). */
const CLIP_VOCAB = 49408;
const CLIP_END_OF_TEXT = 49407;
/** SDXL's micro-conditioning per sample: original size, crop top-left, target size. */
const SDXL_TIME_IDS = [1024, 1024, 0, 0, 1024, 1024];

export interface InputSpec {
  name: string;
  dtype: number;
  shape: Dim[] | undefined;
}

export interface GeneratedInput {
  name: string;
  dtype: number;
  /** ORT's name for the dtype ('float32', 'float16', 'int64'...). */
  type: string;
  dims: number[];
  data: OrtElementData;
}

/** The inputs a caller must feed: graph inputs that are not initializers (those have defaults). */
export function inputSpecsOf(model: Model): InputSpec[] {
  return model.graph.inputs
    .filter((v) => v.initializer === undefined)
    .map((v) => ({ name: v.name, dtype: v.dtype ?? DataType.UNDEFINED, shape: v.shape }));
}

/** Values for every input of a model, at the sizes `dims` resolves, from `seed`. */
export function generateInputs(specs: readonly InputSpec[], dims: DimResolver, seed: number, where: string): GeneratedInput[] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new SdxlOptError('BAD_PARAM', `the seed must be a non-negative integer, got ${seed}`);
  }
  return specs.map((spec) => {
    const type = ortTypeOf(spec.dtype, `input '${spec.name}'`, where);
    const shape = dims.shapeOf(spec.name, spec.shape, where);
    const values = inputValues(spec.name, spec.dtype, shape, new SeededRandom(seed, streamId(spec.name)));
    return { name: spec.name, dtype: spec.dtype, type: type.name, dims: shape, data: type.encode(values) };
  });
}

/** The values of one input, as doubles (integral for integer dtypes), before encoding to its dtype. */
export function inputValues(name: string, dtype: number, shape: readonly number[], random: SeededRandom): Float64Array {
  const count = shape.reduce((n, d) => n * d, 1);
  const last = shape.length ? shape[shape.length - 1]! : 1;
  const out = new Float64Array(count);
  const integral = !isFloatType(dtype);
  if (name === 'timestep' || name === 'timesteps') {
    for (let i = 0; i < count; i++) out[i] = integral ? random.below(1000) : random.uniform() * 1000;
  } else if (name === 'time_ids') {
    for (let i = 0; i < count; i++) out[i] = SDXL_TIME_IDS[(i % last) % SDXL_TIME_IDS.length]!;
  } else if (name === 'input_ids' && integral) {
    // Ids below the end-of-text token, which ends each row: the pooled output then comes from the last position.
    for (let i = 0; i < count; i++) out[i] = i % last === last - 1 ? CLIP_END_OF_TEXT : random.below(CLIP_VOCAB - 1);
  } else if (dtype === DataType.BOOL) {
    for (let i = 0; i < count; i++) out[i] = random.below(2);
  } else if (integral) {
    for (let i = 0; i < count; i++) out[i] = random.below(10);
  } else {
    for (let i = 0; i < count; i++) out[i] = random.normal(); // sample, latent_sample, encoder_hidden_states, text_embeds...
  }
  return out;
}
