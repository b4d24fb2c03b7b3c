/**
 * The JSON Schema of recipes, generated from the pass registry (each pass's params become the schema of its step),
 * for editors that complete and check YAML. `npm run schema` writes it to schema/recipe.schema.json; a test checks
 * the committed file is what this code generates. The parser (parse.ts) stays the authority: it gives the
 * line:column messages; this schema describes the same rules.
 */
import type { ParamSchema, ParamSchemaItem, PassDefinition } from '../engine/pass.js';
import { BENCH_DEFAULTS, type PassRegistry } from './parse.js';
import { COMPONENT_NAMES, PROVIDERS } from './types.js';

type JsonSchema = Record<string, unknown>;

export function recipeJsonSchema(registry: PassRegistry): JsonSchema {
  const provider = { type: 'string', enum: PROVIDERS };
  const dims = {
    type: 'object',
    description: 'Sizes of symbolic dims by name (batch, height, width, sequence...).',
    additionalProperties: { type: 'integer', minimum: 1 },
  };
  const tolerance = {
    type: 'object',
    description: "Parity limits; omitted figures take the runtime's defaults.",
    additionalProperties: false,
    properties: {
      cosine: { type: 'number', minimum: 0, maximum: 1, description: 'Least cosine similarity of each output to the reference.' },
      rel_l2: { type: 'number', minimum: 0, description: 'Largest relative L2 error of each output.' },
      max_abs: { type: 'number', minimum: 0, description: 'Largest absolute difference of any element.' },
    },
  };
  const passList = { type: 'array', description: 'Passes, run in order.', items: { $ref: '#/$defs/step' } };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'sdxl-opt recipe',
    description: 'What `sdxl-opt apply` does: the model, the passes, and how to prove the result. Relative paths are relative to the recipe file.',
    type: 'object',
    additionalProperties: false,
    required: ['model', 'output'],
    properties: {
      model: { type: 'string', minLength: 1, description: 'A .onnx file, or a pipeline folder (unet/, vae_decoder/, ... each with model.onnx).' },
      output: { type: 'string', minLength: 1, description: 'Output folder: model.onnx (+ model.onnx_data), report.json, report.md; <component>/model.onnx for a pipeline.' },
      target: { ...provider, default: 'cuda', description: 'The execution provider the optimized model is for.' },
      dims: { ...dims, description: 'Fixed dims that passes may specialize shapes to.' },
      passes: passList,
      components: {
        type: 'object',
        description: 'Per-component settings of a pipeline folder; a component not listed runs the top-level passes.',
        additionalProperties: false,
        properties: Object.fromEntries(
          COMPONENT_NAMES.map((name) => [
            name,
            {
              type: ['object', 'null'],
              additionalProperties: false,
              properties: {
                enabled: { type: 'boolean', default: true, description: 'false: leave this component out of the output.' },
                passes: { ...passList, description: 'Replaces the top-level passes for this component.' },
                dims: { ...dims, description: 'Merged over the top-level dims.' },
                validate: { type: 'object', additionalProperties: false, properties: { dims, tolerance } },
              },
            },
          ]),
        ),
      },
      validate: {
        type: 'object',
        description: 'Compare the optimized model with the input on ONNX Runtime. Omitted: no validation.',
        additionalProperties: false,
        required: ['provider'],
        properties: { provider, dims, tolerance, seed: { type: 'integer', minimum: 0, default: 0, description: 'Seed of the random inputs.' } },
      },
      bench: {
        type: 'object',
        description: 'Time the input and the optimized model on ONNX Runtime. Omitted: no benchmark.',
        additionalProperties: false,
        required: ['provider'],
        properties: {
          provider,
          iters: { type: 'integer', minimum: 1, default: BENCH_DEFAULTS.iters },
          warmup: { type: 'integer', minimum: 0, default: BENCH_DEFAULTS.warmup },
          dims: { ...dims, description: 'Omitted: the validation dims.' },
        },
      },
      concurrency: { type: 'integer', minimum: 1, maximum: 16, default: 1, description: 'Pipeline components processed at once (each holds a model in memory).' },
    },
    $defs: {
      step: {
        oneOf: [
          { type: 'string', enum: registry.map((p) => p.name), description: 'A pass with its default params.' },
          ...registry.map(stepSchema),
        ],
      },
    },
  };
}

function stepSchema(pass: PassDefinition<any>): JsonSchema {
  const params = Object.entries(pass.params as Record<string, ParamSchema & { default: unknown }>);
  return {
    type: 'object',
    description: pass.description,
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { const: pass.name },
      enabled: { type: 'boolean', default: true, description: 'false: keep the step in the recipe but do not run it.' },
      ...Object.fromEntries(params.map(([name, spec]) => [name, paramSchema(spec)])),
    },
  };
}

/** The pass's declared schema is already a JSON-Schema subset: copied, recursively, so the output is plain data. */
function paramSchema(spec: ParamSchema | ParamSchemaItem): JsonSchema {
  return JSON.parse(JSON.stringify(spec)) as JsonSchema;
}

/** The schema as the committed file holds it. */
export function recipeSchemaText(registry: PassRegistry): string {
  return `${JSON.stringify(recipeJsonSchema(registry), null, 2)}\n`;
}
