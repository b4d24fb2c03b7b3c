/**
 * Refusing the dangerous before any work starts: an output folder that is the input's folder or contains it, an
 * output path through a symbolic link leading elsewhere, a model (or recipe) that is a device or a FIFO, YAML alias
 * bombs, a megabyte-long line, absurd params. Each is one line naming the place (recipe line:col or path), and
 * nothing is written: no output folder, no temporary folder, the inputs as they were.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { applyRecipe } from '../src/apply/apply.js';
import { SdxlOptError, type ErrorCode } from '../src/errors.js';
import { fixture, REPO } from './helpers/engine-fixtures.js';
import { hashDir, tempDir } from './helpers/temp-dir.js';

const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/** A folder holding models/vae.onnx, an `elsewhere` folder, and whatever a case adds. */
function setup(t: TestContext): { dir: string; elsewhere: string } {
  const dir = tempDir(t, 'sdxl-opt-refusals-');
  fs.mkdirSync(path.join(dir, 'models'));
  fs.copyFileSync(fixture('sdxl-vae-decoder-tiny-ts17.onnx'), path.join(dir, 'models', 'vae.onnx'));
  const elsewhere = tempDir(t, 'sdxl-opt-elsewhere-');
  return { dir, elsewhere };
}

/** Every file under `dir`, by content (folders and links by kind), recursively. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string, rel: string): void => {
    for (const [name, kind] of hashDir(at)) {
      out[path.join(rel, name)] = kind;
      if (kind === 'directory') walk(path.join(at, name), path.join(rel, name));
    }
  };
  walk(dir, '');
  return out;
}

/**
 * Runs apply on `recipe` (its text, written to recipe.yaml in `dir`) and checks the refusal: an SdxlOptError with
 * `code`, one line matching `message`, and not one file written or changed in `dir` or `elsewhere`.
 */
async function refuses(dirs: { dir: string; elsewhere: string }, recipe: string, code: ErrorCode, message: RegExp): Promise<void> {
  const file = path.join(dirs.dir, 'recipe.yaml');
  fs.writeFileSync(file, recipe);
  const before = [snapshot(dirs.dir), snapshot(dirs.elsewhere)];
  await assert.rejects(applyRecipe(file), (e: unknown) => {
    assert.ok(e instanceof SdxlOptError, `expected an SdxlOptError, got ${String(e)}`);
    assert.equal(e.code, code, e.oneLine());
    assert.ok(!e.oneLine().includes('\n'), 'one line');
    assert.match(e.oneLine(), message);
    return true;
  });
  assert.deepEqual([snapshot(dirs.dir), snapshot(dirs.elsewhere)], before, 'nothing was written or changed');
}

test('an output folder that is the model folder, or contains it, is refused', async (t) => {
  const dirs = setup(t);
  await refuses(dirs, 'model: models/vae.onnx\noutput: models\n', 'UNSAFE_PATH', /^error: .*recipe\.yaml:2:9: output 'models' is the model's folder/);
  await refuses(dirs, 'model: models/vae.onnx\noutput: models/.\n', 'UNSAFE_PATH', /recipe\.yaml:2:9: output 'models\/\.' is the model's folder/);
  await refuses(dirs, 'model: models/vae.onnx\noutput: ..\n', 'UNSAFE_PATH', /recipe\.yaml:2:9: output '\.\.' is a folder containing the model's folder/);
  fs.symlinkSync(path.join(dirs.dir, 'models'), path.join(dirs.dir, 'models-link'));
  await refuses(dirs, 'model: models/vae.onnx\noutput: models-link\n', 'UNSAFE_PATH', /output 'models-link' is the model's folder/);
});

test('an output path through a symbolic link that leads out of its folder is refused', async (t) => {
  const dirs = setup(t);
  fs.symlinkSync(dirs.elsewhere, path.join(dirs.dir, 'out'));
  fs.symlinkSync('..', path.join(dirs.dir, 'models', 'up'));
  const elsewhere = fs.realpathSync(dirs.elsewhere);
  await refuses(
    dirs,
    'model: models/vae.onnx\noutput: out/vae\n',
    'UNSAFE_PATH',
    new RegExp(`recipe\\.yaml:2:9: output 'out/vae' leads through the symbolic link '.*/out' to '${elsewhere}', outside '${dirs.dir}' \\(write the real path in the recipe if the output belongs there: ${elsewhere}/vae\\)$`),
  );
  await refuses(dirs, `model: models/vae.onnx\noutput: ${path.join(dirs.dir, 'out', 'vae')}\n`, 'UNSAFE_PATH', /leads through the symbolic link/);
  await refuses(dirs, 'model: models/vae.onnx\noutput: models/up/result\n', 'UNSAFE_PATH', /output 'models\/up\/result' leads through the symbolic link '.*models\/up'/);
  // The output itself a link, even one that stays inside its folder: it would be replaced as a whole.
  fs.mkdirSync(path.join(dirs.dir, 'real-out'));
  fs.symlinkSync('real-out', path.join(dirs.dir, 'out-link'));
  await refuses(dirs, 'model: models/vae.onnx\noutput: out-link\n', 'UNSAFE_PATH', /recipe\.yaml:2:9: output '.*out-link' is a symbolic link/);
});

test('a link that stays inside its folder is followed, and the output lands where it leads', async (t) => {
  const { dir } = setup(t);
  fs.mkdirSync(path.join(dir, 'results'));
  fs.symlinkSync('results', path.join(dir, 'out'));
  fs.writeFileSync(path.join(dir, 'recipe.yaml'), 'model: models/vae.onnx\noutput: out/vae\n');
  await applyRecipe(path.join(dir, 'recipe.yaml'));
  assert.ok(fs.existsSync(path.join(dir, 'results', 'vae', 'model.onnx')));
});

test('a model path that is a device or a FIFO is refused without reading it', { timeout: 20_000 }, async (t) => {
  const dirs = setup(t);
  execFileSync('mkfifo', [path.join(dirs.dir, 'models', 'fifo.onnx')]);
  await refuses(dirs, 'model: /dev/zero\noutput: out\n', 'UNSAFE_PATH', /recipe\.yaml:1:8: model '\/dev\/zero' is neither a file nor a folder/);
  await refuses(dirs, 'model: models/fifo.onnx\noutput: out\n', 'UNSAFE_PATH', /recipe\.yaml:1:8: model 'models\/fifo\.onnx' is neither a file nor a folder/);
});

test('a recipe that is a device or a FIFO is refused without reading it', { timeout: 20_000 }, async (t) => {
  const { dir } = setup(t);
  execFileSync('mkfifo', [path.join(dir, 'recipe.fifo')]);
  for (const recipe of ['/dev/zero', path.join(dir, 'recipe.fifo')]) {
    await assert.rejects(applyRecipe(recipe), (e: unknown) => e instanceof SdxlOptError && e.code === 'BAD_RECIPE' && /is not a regular file/.test(e.message));
  }
});

test('YAML alias bombs are refused, naming the recipe', async (t) => {
  const dirs = setup(t);
  const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  await refuses(dirs, `model: models/vae.onnx\noutput: out\n${lines.join('\n')}\n`, 'BAD_RECIPE', /recipe\.yaml:1:1: the recipe expands its YAML aliases too far/);
  // The same bomb inside a pass's params.
  await refuses(dirs, `bomb:\n  ${lines.join('\n  ')}\nmodel: models/vae.onnx\noutput: out\npasses:\n  - {name: cast, block_ops: *i}\n`, 'BAD_RECIPE', /recipe\.yaml:1:1: the recipe expands its YAML aliases too far/);
});

test('a megabyte-long line, and a line over 64 KiB, are refused before parsing', async (t) => {
  const dirs = setup(t);
  await refuses(dirs, `model: models/vae.onnx\noutput: out\n# ${'x'.repeat(1024 * 1024)}\n`, 'BAD_RECIPE', /recipe\.yaml: the recipe is 1048\d+ bytes; recipes may have at most 1048576/);
  await refuses(dirs, `model: models/vae.onnx\noutput: out\npasses: [${'cleanup, '.repeat(8000)}cleanup]\n`, 'BAD_RECIPE', /recipe\.yaml:3:1: line 3 is 72\d+ characters long; recipe lines may have at most 65536/);
});

test('absurd params: negative tolerances and dims, unknown dtypes and providers, out-of-range numbers', async (t) => {
  const dirs = setup(t);
  const base = 'model: models/vae.onnx\noutput: out\n';
  const cases: [string, string][] = [
    ['validate: {provider: cpu, tolerance: {max_abs: -0.001}}', "3:48: 'max_abs' in 'validate.tolerance' must be a number of at least 0, not -0.001"],
    ['validate: {provider: cpu, tolerance: {rel_l2: -1}}', "3:47: 'rel_l2' in 'validate.tolerance' must be a number of at least 0, not -1"],
    ['validate: {provider: cpu, tolerance: {cosine: -0.5}}', "3:47: 'cosine' in 'validate.tolerance' must be a number from 0 to 1, not -0.5"],
    ['validate: {provider: cpu, tolerance: {cosine: .nan}}', "3:47: 'cosine' in 'validate.tolerance' must be a number from 0 to 1, not the number NaN"],
    ['dims: {batch: -2}', "3:15: dim 'batch' in 'dims' must be an integer from 1 to 2147483647, not -2"],
    ['passes:\n  - {name: cast, to: float8}', "4:22: param 'to' of pass 'cast' must be one of 'float16', 'bfloat16', not 'float8' (did you mean 'float16'?)"],
    ['passes:\n  - {name: cast, overflow_threshold: -5}', "4:38: param 'overflow_threshold' of pass 'cast' must be a number from 1 to 65504, not -5"],
    ['passes:\n  - {name: cast, overflow_threshold: .inf}', "4:38: param 'overflow_threshold' of pass 'cast' must be a number from 1 to 65504, not the number Infinity"],
    ['passes:\n  - {name: dynamic-int8, auto_margin: -0.1}', "4:39: param 'auto_margin' of pass 'dynamic-int8' must be a number from 0 to 1, not -0.1"],
    ['passes:\n  - {name: cleanup, max_rounds: 0}', "4:33: param 'max_rounds' of pass 'cleanup' must be an integer from 1 to 100, not 0"],
    ['validate: {provider: tpu}', "3:22: 'provider' in 'validate' must be one of 'cpu', 'cuda', not 'tpu' (did you mean 'cpu'?)"],
    ['concurrency: 1000000', "3:14: 'concurrency' must be an integer from 1 to 16, not 1000000"],
  ];
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const [body, message] of cases) await refuses(dirs, `${base}${body}\n`, 'BAD_RECIPE', new RegExp(`^error: .*recipe\\.yaml:${escape(message)}$`));
});

test('the CLI prints a refusal as one line and exits 2, writing nothing', (t) => {
  const { dir, elsewhere } = setup(t);
  fs.symlinkSync(elsewhere, path.join(dir, 'out'));
  fs.writeFileSync(path.join(dir, 'recipe.yaml'), 'model: models/vae.onnx\noutput: out/vae\n');
  const before = snapshot(dir);
  const r = spawnSync(process.execPath, [CLI, 'apply', 'recipe.yaml'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: recipe\.yaml:2:9: output 'out\/vae' leads through the symbolic link '[^'\n]+' to '[^'\n]+', outside '[^'\n]+' \([^\n]+\)\n$/);
  assert.equal(r.stdout, '');
  assert.deepEqual(snapshot(dir), before);
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});
