import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { PASSES } from '../passes/index.js';
import { SdxlOptError } from '../src/errors.js';
import { loadRecipe, MAX_RECIPE_BYTES } from '../src/recipe/load.js';
import { parseRecipe } from '../src/recipe/parse.js';
import { recipeSchemaText } from '../src/recipe/schema.js';
import { editDistance, nearest } from '../src/recipe/suggest.js';
import { fixture, REPO, tempDir, TEST_REGISTRY } from './helpers/engine-fixtures.js';

const parse = (text: string) => parseRecipe(text, 'recipe.yaml', TEST_REGISTRY);

/** The one-line message of the error `run` throws, checked to be a BAD_RECIPE-style error at `where`. */
function errorOf(run: () => unknown): SdxlOptError {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof SdxlOptError, `expected an SdxlOptError, got ${String(e)}`);
    assert.ok(!e.oneLine().includes('\n'), 'the message is one line');
    return e;
  }
  assert.fail('expected an error');
}

const base = 'model: m.onnx\noutput: out\n';

describe('recipe errors point at recipe.yaml:LINE:COL', () => {
  test('unknown pass, with a suggestion', () => {
    const e = errorOf(() => parse(`${base}passes:\n  - insert-identity\n  - clenup\n`));
    assert.equal(e.code, 'BAD_RECIPE');
    assert.match(e.oneLine(), /^error: recipe\.yaml:5:5: unknown pass 'clenup' \(did you mean 'cleanup'\? run 'sdxl-opt passes'/);
  });

  test('unknown pass in the mapping form', () => {
    const e = errorOf(() => parse(`${base}passes:\n  - name: kast\n    to: float16\n`));
    assert.match(e.oneLine(), /recipe\.yaml:4:11: unknown pass 'kast' \(did you mean 'cast'\?/);
  });

  test('wrong param type', () => {
    const e = errorOf(() => parse(`${base}passes:\n  - name: cast\n    block_size: big\n`));
    assert.match(e.oneLine(), /recipe\.yaml:5:17: param 'block_size' of pass 'cast' must be an integer from 1 to 4096, not the string 'big'/);
  });

  test('param out of range, and an enum value misspelled', () => {
    assert.match(errorOf(() => parse(`${base}passes:\n  - {name: cast, block_size: 0}\n`)).oneLine(), /recipe\.yaml:4:30: .*from 1 to 4096, not 0/);
    const e = errorOf(() => parse(`${base}passes:\n  - name: cast\n    to: bfloat61\n`));
    assert.match(e.oneLine(), /recipe\.yaml:5:9: param 'to' of pass 'cast' must be one of 'float16', 'bfloat16', not 'bfloat61' \(did you mean 'bfloat16'\?\)/);
  });

  test('wrong item type inside a list param', () => {
    const e = errorOf(() => parse(`${base}passes:\n  - name: cast\n    skip_ops: [Conv, 3]\n`));
    assert.match(e.oneLine(), /recipe\.yaml:5:22: param 'skip_ops' of pass 'cast'\[1\] must be a string, not the number 3/);
  });

  test('unknown param, with a suggestion and the known params', () => {
    const e = errorOf(() => parse(`${base}passes:\n  - name: cast\n    too: float16\n`));
    assert.match(e.oneLine(), /recipe\.yaml:5:5: pass 'cast' has no param 'too' \(did you mean 'to'\? its params: to, keep_io, block_size, skip_ops\)/);
  });

  test('unreadable YAML', () => {
    const e = errorOf(() => parse(`${base}passes: [cleanup\nvalidate: x\n`));
    assert.equal(e.code, 'BAD_RECIPE');
    assert.match(e.oneLine(), /^error: recipe\.yaml:\d+:\d+: not valid YAML: /);
    assert.match(errorOf(() => parse('model: a\n  output: b\n  - c\n')).oneLine(), /recipe\.yaml:\d+:\d+: not valid YAML/);
  });

  test('bad provider', () => {
    const e = errorOf(() => parse(`${base}validate:\n  provider: gpu\n`));
    assert.match(e.oneLine(), /recipe\.yaml:4:13: 'provider' in 'validate' must be one of 'cpu', 'cuda', not 'gpu'/);
    assert.match(errorOf(() => parse(`${base}bench: {provider: cdua}`)).oneLine(), /recipe\.yaml:3:19: .*not 'cdua' \(did you mean 'cuda'\?\)/);
  });

  test('unknown top-level key, with a suggestion', () => {
    const e = errorOf(() => parse(`${base}pases: [cleanup]\n`));
    assert.match(e.oneLine(), /recipe\.yaml:3:1: unknown key 'pases' in the recipe \(did you mean 'passes'\?/);
  });

  test('missing model or output key', () => {
    assert.match(errorOf(() => parse('output: out\n')).oneLine(), /recipe\.yaml:1:1: the recipe has no 'model'/);
    assert.match(errorOf(() => parse('model: m.onnx\n')).oneLine(), /recipe\.yaml:1:1: the recipe has no 'output'/);
    assert.match(errorOf(() => parse('')).oneLine(), /recipe\.yaml:1:1: the recipe is empty/);
    assert.match(errorOf(() => parse('- a\n- b\n')).oneLine(), /recipe\.yaml:1:1: the recipe must be a mapping/);
  });

  test('bad tolerance, dims and seed', () => {
    assert.match(errorOf(() => parse(`${base}validate: {provider: cpu, tolerance: {cosine: 2}}`)).oneLine(), /recipe\.yaml:3:47: 'cosine' in 'validate.tolerance' must be a number from 0 to 1, not 2/);
    assert.match(errorOf(() => parse(`${base}validate: {provider: cpu, tolerance: {relL2: 1}}`)).oneLine(), /3:39: unknown key 'relL2'.*did you mean 'rel_l2'/);
    assert.match(errorOf(() => parse(`${base}dims: {batch: -1}`)).oneLine(), /3:15: dim 'batch' in 'dims' must be an integer from 1/);
    assert.match(errorOf(() => parse(`${base}validate: {provider: cpu, seed: 1.5}`)).oneLine(), /3:33: 'seed' in 'validate' must be an integer/);
  });

  test('step without a name, and enabled that is not a boolean', () => {
    assert.match(errorOf(() => parse(`${base}passes:\n  - to: float16\n`)).oneLine(), /recipe\.yaml:4:5: step 1 of 'passes' has no 'name'/);
    assert.match(errorOf(() => parse(`${base}passes:\n  - {name: cast, enabled: maybe}\n`)).oneLine(), /4:27: 'enabled' of pass 'cast' must be true or false/);
  });

  test('unknown component, with a suggestion', () => {
    const e = errorOf(() => parse(`${base}components:\n  vae_decodr: {passes: []}\n`));
    assert.match(e.oneLine(), /recipe\.yaml:4:3: unknown key 'vae_decodr' in 'components' \(did you mean 'vae_decoder'\?/);
  });

  test('YAML alias bombs are refused', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const e = errorOf(() => parse(`${base}${lines.join('\n')}\n`));
    assert.equal(e.code, 'BAD_RECIPE');
    assert.match(e.oneLine(), /recipe\.yaml:1:1: the recipe expands its YAML aliases too far/);
  });

  test('duplicate keys are refused', () => {
    assert.match(errorOf(() => parse(`${base}output: again\n`)).oneLine(), /recipe\.yaml:3:1: not valid YAML: Map keys must be unique/);
  });
});

describe('recipe contents', () => {
  test('the interface from the issue: bare names, params, enabled, validate, bench', () => {
    const r = parse(
      [
        'model: ../fixtures/sdxl-unet-small-ts17.onnx',
        'output: out/small',
        'target: cpu',
        'dims: {batch: 2}',
        'passes:',
        '  - cleanup',
        '  - name: cast',
        '    to: bfloat16',
        '    enabled: false',
        'validate:',
        '  provider: cpu',
        '  dims: {batch: 2, height: 16, width: 16, sequence: 77}',
        '  tolerance: {cosine: 0.999, rel_l2: 0.01, max_abs: 0.5}',
        '  seed: 7',
        'bench: {provider: cuda, iters: 5}',
      ].join('\n'),
    );
    assert.equal(r.target, 'cpu');
    assert.deepEqual(r.dims, { batch: 2 });
    assert.deepEqual(r.passes.map((s) => [s.pass.name, s.params, s.enabled, s.where]), [
      ['cleanup', {}, true, 'recipe.yaml:6:5'],
      ['cast', { to: 'bfloat16' }, false, 'recipe.yaml:7:5'],
    ]);
    assert.deepEqual(r.validate && { ...r.validate, where: undefined }, {
      provider: 'cpu',
      dims: { batch: 2, height: 16, width: 16, sequence: 77 },
      tolerance: { cosine: 0.999, relL2: 0.01, maxAbs: 0.5 },
      seed: 7,
      where: undefined,
    });
    assert.deepEqual(r.bench && [r.bench.provider, r.bench.iters, r.bench.warmup, r.bench.dims], ['cuda', 5, 3, undefined]);
  });

  test('defaults: no passes, target cuda, no validation or benchmark, concurrency 1', () => {
    const r = parse(base);
    assert.deepEqual([r.passes, r.target, r.validate, r.bench, r.concurrency], [[], 'cuda', undefined, undefined, 1]);
    assert.deepEqual(parse(`${base}passes:\n`).passes, []);
  });

  test('aliases within bounds are resolved', () => {
    const r = parse(`${base}dims: &d {batch: 2}\nvalidate: {provider: cpu, dims: *d}\n`);
    assert.deepEqual(r.validate?.dims, { batch: 2 });
  });

  test('components: own passes, switched off, merged validate settings', () => {
    const r = parse(`${base}passes: [cleanup]\ncomponents:\n  unet: {passes: [noop], dims: {sequence: 77}}\n  text_encoder: {enabled: false}\n  vae_decoder:\n    validate: {tolerance: {cosine: 0.99}}\n`);
    assert.deepEqual(r.components.unet?.passes?.map((s) => s.pass.name), ['noop']);
    assert.equal(r.components.text_encoder?.enabled, false);
    assert.equal(r.components.vae_decoder?.passes, undefined);
    assert.deepEqual(r.components.vae_decoder?.validate?.tolerance, { cosine: 0.99 });
  });
});

describe('recipe files', () => {
  const write = (dir: string, text: string, name = 'recipe.yaml'): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  test('missing model points at the model line', (t) => {
    const dir = tempDir(t);
    const file = write(dir, 'output: out\nmodel: missing.onnx\n');
    const e = errorOf(() => loadRecipe(file, TEST_REGISTRY));
    assert.match(e.oneLine(), /recipe\.yaml:2:8: model 'missing\.onnx' does not exist/);
  });

  test('paths are relative to the recipe file', (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'models'));
    fs.copyFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx'), path.join(dir, 'models', 'vae.onnx'));
    fs.mkdirSync(path.join(dir, 'recipes'));
    const plan = loadRecipe(write(path.join(dir, 'recipes'), 'model: ../models/vae.onnx\noutput: ../out/vae\n'), TEST_REGISTRY);
    assert.equal(plan.modelPath, path.join(dir, 'models', 'vae.onnx'));
    assert.equal(plan.outputPath, path.join(dir, 'out', 'vae'));
    assert.deepEqual(plan.components.map((c) => [c.name, c.outputSubdir]), [['model', '']]);
  });

  test('an output folder equal to or containing the model folder is refused before any work', (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'models'));
    fs.copyFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx'), path.join(dir, 'models', 'vae.onnx'));
    for (const [output, pattern] of [
      ['models', /recipe\.yaml:2:9: output 'models' is the model's folder/],
      ['.', /recipe\.yaml:2:9: output '\.' is (a folder containing )?the model's folder|the recipe's folder/],
      ['..', /recipe\.yaml:2:9: output '\.\.' is a folder containing the model's folder/],
    ] as const) {
      const e = errorOf(() => loadRecipe(write(dir, `model: models/vae.onnx\noutput: ${output}\n`), TEST_REGISTRY));
      assert.equal(e.code, 'UNSAFE_PATH');
      assert.match(e.oneLine(), pattern);
    }
  });

  test('a recipe over 1 MB, or with a line over 64 KB, is refused before parsing', (t) => {
    const dir = tempDir(t);
    const big = write(dir, `${base}# ${'x'.repeat(MAX_RECIPE_BYTES)}\n`, 'big.yaml');
    assert.match(errorOf(() => loadRecipe(big, TEST_REGISTRY)).oneLine(), /big\.yaml: the recipe is \d+ bytes; recipes may have at most 1048576/);
    const long = write(dir, `${base}# ${'x'.repeat(70_000)}\n`, 'long.yaml');
    assert.match(errorOf(() => loadRecipe(long, TEST_REGISTRY)).oneLine(), /long\.yaml:3:1: line 3 is 70002 characters long/);
  });

  test('a pipeline folder: components found, switched off, and missing ones named', (t) => {
    const dir = tempDir(t);
    for (const c of ['unet', 'vae_decoder', 'text_encoder']) {
      fs.mkdirSync(path.join(dir, 'sdxl', c), { recursive: true });
      fs.copyFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx'), path.join(dir, 'sdxl', c, 'model.onnx'));
    }
    const plan = loadRecipe(write(dir, 'model: sdxl\noutput: out\npasses: [cleanup]\ncomponents:\n  text_encoder: {enabled: false}\n  vae_decoder: {passes: []}\n'), TEST_REGISTRY);
    assert.equal(plan.pipeline, true);
    assert.deepEqual(plan.components.map((c) => [c.name, c.outputSubdir, c.steps.map((s) => s.pass.name)]), [
      ['unet', 'unet', ['cleanup']],
      ['vae_decoder', 'vae_decoder', []],
    ]);
    assert.deepEqual(plan.skipped, ['text_encoder']);
    const e = errorOf(() => loadRecipe(write(dir, 'model: sdxl\noutput: out\ncomponents:\n  vae_encoder: {}\n'), TEST_REGISTRY));
    assert.match(e.oneLine(), /recipe\.yaml:4:3: the pipeline folder has no component 'vae_encoder'.*its components: unet, vae_decoder, text_encoder/);
  });
});

describe('recipe tooling', () => {
  test('the committed JSON Schema is what the code generates from the pass registry', () => {
    const committed = fs.readFileSync(path.join(REPO, 'schema', 'recipe.schema.json'), 'utf8');
    assert.equal(committed, recipeSchemaText(PASSES), "schema/recipe.schema.json is stale: run 'npm run schema' and commit it");
  });

  test('the schema lists each pass with its params', () => {
    const schema = JSON.parse(recipeSchemaText(TEST_REGISTRY)) as { $defs: { step: { oneOf: { properties?: Record<string, unknown>; enum?: string[] }[] } } };
    const [names, ...steps] = schema.$defs.step.oneOf;
    assert.deepEqual(names!.enum, TEST_REGISTRY.map((p) => p.name));
    const cast = steps.find((s) => (s.properties?.name as { const?: string }).const === 'cast')!;
    assert.deepEqual(cast.properties!.to, { type: 'string', description: 'target type', enum: ['float16', 'bfloat16'], default: 'float16' });
  });

  test('the demo recipe parses against the real registry', (t) => {
    if (!PASSES.some((p) => p.name === 'cleanup')) return t.skip("the 'cleanup' pass is not registered yet");
    const plan = loadRecipe(path.join(REPO, 'recipes', 'demo-small-unet.yaml'));
    assert.deepEqual(plan.components[0]!.steps.map((s) => s.pass.name), ['cleanup']);
  });

  test('edit distance and nearest names', () => {
    assert.equal(editDistance('cleanup', 'clenup'), 1);
    assert.equal(editDistance('cast', 'csat'), 1);
    assert.equal(nearest('CLEANUP', ['cleanup', 'cast']), 'cleanup');
    assert.equal(nearest('fuse-attention', ['cleanup', 'cast']), undefined);
  });
});
