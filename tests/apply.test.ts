import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { applyRecipe, type ApplyEvent } from '../src/apply/apply.js';
import type { ApplyReport } from '../src/apply/report.js';
import type { BenchReport, RuntimeApi, ValidationReport } from '../src/engine/bridge.js';
import { SdxlOptError } from '../src/errors.js';
import { readModel } from '../src/io/read.js';
import { PASS_STAMP_KEY } from '../src/ir/node.js';
import { fixture, REPO, tempDir, TEST_REGISTRY } from './helpers/engine-fixtures.js';

const VAE = 'sdxl-vae-decoder-tiny-ts17.onnx';
const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/** A folder with the tiny VAE decoder as models/vae.onnx and a recipe.yaml with `body` after model and output. */
function setup(t: Parameters<typeof tempDir>[0], body = 'passes: []\n'): { dir: string; recipe: string; out: string } {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'models'));
  fs.copyFileSync(fixture(VAE), path.join(dir, 'models', 'vae.onnx'));
  const recipe = path.join(dir, 'recipe.yaml');
  fs.writeFileSync(recipe, `model: models/vae.onnx\noutput: out/vae\n${body}`);
  return { dir, recipe, out: path.join(dir, 'out', 'vae') };
}

function fakeRuntime(passed: boolean): RuntimeApi & { calls: string[]; timers: string[] } {
  const calls: string[] = [];
  const timers: string[] = [];
  const placement = { byProvider: { CPUExecutionProvider: 10 }, memcpy: 0, cpuComputeNodes: [], cpuComputeOps: {}, cpuShapeNodes: 0 };
  const bench = (model: string, medianMs: number): BenchReport => ({
    model,
    provider: 'cpu',
    dims: {},
    loadMs: 5,
    warmup: 1,
    iters: 1,
    medianMs,
    meanMs: medianMs,
    minMs: medianMs - 1,
    maxMs: medianMs + 1,
    timesMs: [medianMs],
  });
  return {
    calls,
    async validateModels(reference, candidate, opts): Promise<ValidationReport> {
      calls.push(`validate ${path.basename(reference)} ${path.basename(candidate)} ${opts.provider} ${JSON.stringify(opts.dims)} ${opts.seed}`);
      assert.ok(fs.existsSync(candidate), 'the candidate is written before validation');
      const output = { name: 'sample', dtype: 'float32', dims: [1, 3, 8, 8], cosine: passed ? 0.99999 : 0.5, relL2: 1e-4, maxAbs: 2e-3 };
      return {
        passed,
        provider: opts.provider,
        reference,
        candidate,
        dims: opts.dims ?? {},
        seed: opts.seed ?? 0,
        tolerance: { cosine: 0.999 },
        outputs: [{ ...output, nonFinite: { reference: 0, candidate: 0 }, passed, failures: [] }],
        placement: { reference: placement, candidate: placement },
        failures: passed ? [] : ['sample: cosine 0.5 < 0.999'],
      };
    },
    async benchModels(models, opts) {
      calls.push(`bench ${models.map((m) => path.basename(m)).join(' ')} ${opts.provider} ${opts.iters} ${opts.warmup}`);
      return [bench(models[0]!, 10), bench(models[1]!, 8)];
    },
    async runtimeEnvironment() {
      return { ...ENVIRONMENT };
    },
    modelTimer(settings) {
      timers.push(settings.provider);
      return { provider: settings.provider, time: async (models) => models.map(() => ({ medianMs: 1, minMs: 1, cpuComputeOps: {} })) };
    },
    timers,
  };
}

const ENVIRONMENT = {
  ortVersion: '1.29.0',
  nodeVersion: process.version,
  platform: 'linux/x64',
  providers: { cpu: true, cuda: false, cudaError: 'no GPU' },
  cudaLibraries: { binDir: '/ort', providerPresent: false, sharedPresent: false, missing: [], found: [] },
};

const readReport = (out: string): ApplyReport => JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as ApplyReport;

describe('apply', () => {
  test('a recipe with no passes writes the model byte-identical, with report.json and report.md', async (t) => {
    const { recipe, out, dir } = setup(t);
    const result = await applyRecipe(recipe, { registry: TEST_REGISTRY });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(fs.readdirSync(out).sort(), ['model.onnx', 'report.json', 'report.md']);
    assert.ok(fs.readFileSync(path.join(out, 'model.onnx')).equals(fs.readFileSync(fixture(VAE))), 'the model round-trips byte-identically');
    const report = readReport(out);
    assert.equal(report.tool.name, 'sdxl-opt');
    assert.equal(report.status, 'ok');
    assert.equal(report.components.length, 1);
    const c = report.components[0]!;
    assert.deepEqual(c.output?.files, ['model.onnx']);
    assert.equal(c.before?.nodes, c.after?.nodes);
    assert.ok(c.before!.nodes > 100);
    assert.ok((c.before!.opTypes.Conv ?? 0) > 0);
    assert.ok(c.before!.initializerBytesByDtype.float! > 0);
    assert.equal(report.environment.runtime, undefined, 'ONNX Runtime is not loaded when the recipe does not use it');
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, /^# sdxl-opt report: ok/);
    assert.match(md, /\| Conv \| \d+ \| \d+ \|/);
    // Nothing is left beside the output: no temporary or backup folders.
    assert.deepEqual(fs.readdirSync(path.join(dir, 'out')), ['vae']);
  });

  test('passes run, their nodes are stamped in the written model, and the report says what each did', async (t) => {
    const { recipe, out } = setup(t, 'passes:\n  - noop\n  - composite\n  - {name: insert-identity, enabled: false}\n');
    const events: ApplyEvent[] = [];
    const result = await applyRecipe(recipe, { registry: TEST_REGISTRY, onEvent: (e) => events.push(e) });
    assert.equal(result.exitCode, 0);
    const c = readReport(out).components[0]!;
    assert.deepEqual(c.passes.map((p) => [p.pass, p.changed, p.skipped ?? false]), [
      ['noop', false, false],
      ['composite', true, false],
      ['insert-identity', false, true],
    ]);
    assert.deepEqual(c.passes[0]!.reasons, ['nothing to do']);
    assert.equal(c.passes[1]!.steps?.length, 2);
    assert.equal(c.after!.opTypes.Identity, c.before!.opTypes.Identity! + c.before!.opTypes.Conv!);
    const model = await readModel(path.join(out, 'model.onnx'));
    const stamped = model.graph.nodes().filter((n) => n.metadata(PASS_STAMP_KEY) === 'insert-identity');
    assert.equal(stamped.length, c.passes[1]!.steps![0]!.nodes.created);
    assert.ok(events.some((e) => e.kind === 'runner' && e.event.kind === 'pass-end'));
    assert.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /\| 2\.1 \| insert-identity \|/);
  });

  test('a pass that breaks the graph fails apply, naming the pass and its recipe line; the old output stays', async (t) => {
    const { recipe, out } = setup(t);
    await applyRecipe(recipe, { registry: TEST_REGISTRY });
    const before = fs.readFileSync(path.join(out, 'report.json'));
    fs.writeFileSync(recipe, 'model: models/vae.onnx\noutput: out/vae\npasses:\n  - noop\n  - break-graph\n');
    await assert.rejects(applyRecipe(recipe, { registry: TEST_REGISTRY }), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.equal(e.code, 'PASS_FAILED');
      assert.match(e.oneLine(), /recipe\.yaml:5:5: pass 'break-graph' broke the graph/);
      assert.match(e.oneLine(), /passes run before it: noop/);
      return true;
    });
    assert.ok(fs.readFileSync(path.join(out, 'report.json')).equals(before), 'the previous output is untouched');
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['vae']);
  });

  test('validation and benchmark results go into the report; parity outside tolerance exits 1', async (t) => {
    const body = 'validate:\n  provider: cpu\n  dims: {batch: 1, h: 8, w: 8}\n  seed: 3\nbench: {provider: cpu, iters: 4, warmup: 1}\n';
    const { recipe, out } = setup(t, body);
    const ok = fakeRuntime(true);
    const good = await applyRecipe(recipe, { registry: TEST_REGISTRY, runtime: ok });
    assert.equal(good.exitCode, 0);
    assert.deepEqual(ok.calls, ['validate vae.onnx model.onnx cpu {"batch":1,"h":8,"w":8} 3', 'bench vae.onnx model.onnx cpu 4 1']);
    const c = readReport(out).components[0]!;
    assert.equal(c.validation?.result.passed, true);
    assert.deepEqual([c.validation?.result.reference, c.validation?.result.candidate], ['models/vae.onnx', 'model.onnx']);
    assert.equal(c.bench?.speedup, 10 / 8);
    assert.equal(c.bench?.before.model, 'models/vae.onnx');
    assert.equal(c.bench?.after.model, 'model.onnx');
    assert.deepEqual(readReport(out).environment.runtime, ENVIRONMENT);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, /### Parity: passed/);
    assert.match(md, /\| sample \| 0\.999990 \| 1\.00e-4 \| 2\.00e-3 \| 0 \/ 0 \|/);
    assert.match(md, /### Speed: 1\.25× \(median\)/);
    assert.match(md, /ONNX Runtime 1\.29\.0/);

    const bad = await applyRecipe(recipe, { registry: TEST_REGISTRY, runtime: fakeRuntime(false) });
    assert.equal(bad.exitCode, 1);
    assert.equal(readReport(out).status, 'validation-failed');
  });

  test('on ONNX Runtime (CPU): a rewritten model validates with exact parity and the report names the runtime', async (t) => {
    const { recipe, out } = setup(t, 'passes: [insert-identity]\nvalidate:\n  provider: cpu\n  dims: {batch: 1, h: 8, w: 8}\n');
    const result = await applyRecipe(recipe, { registry: TEST_REGISTRY });
    assert.equal(result.exitCode, 0);
    const report = readReport(out);
    const c = report.components[0]!;
    assert.ok(c.passes[0]!.nodes.created > 0);
    assert.equal(c.validation?.result.passed, true);
    assert.deepEqual(c.validation?.result.outputs.map((o) => [o.name, o.maxAbs, o.nonFinite]), [['sample', 0, { reference: 0, candidate: 0 }]]);
    const runtime = report.environment.runtime;
    assert.ok(runtime && 'ortVersion' in runtime && runtime.ortVersion === '1.29.0');
  });

  test('a validation dim the model does not have is a recipe error, caught before the passes', async (t) => {
    const { recipe } = setup(t, 'passes: [composite]\nvalidate:\n  provider: cpu\n  dims: {batch: 1, sequence: 77}\n');
    await assert.rejects(applyRecipe(recipe, { registry: TEST_REGISTRY, runtime: fakeRuntime(true) }), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.match(e.oneLine(), /recipe\.yaml:4:1: dims 'sequence' match no input dim of the model \(the model's input dims: batch, h, w\)/);
      return true;
    });
  });

  test('an existing folder that sdxl-opt did not write is never replaced', async (t) => {
    const { recipe, out } = setup(t);
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'precious.txt'), 'keep me');
    await assert.rejects(applyRecipe(recipe, { registry: TEST_REGISTRY }), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.equal(e.code, 'UNSAFE_PATH');
      assert.match(e.oneLine(), /recipe\.yaml:2:9: output '.*' exists and was not written by sdxl-opt/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(out), ['precious.txt']);
  });

  test('an earlier output is replaced whole, and a leftover backup is reported', async (t) => {
    const { recipe, out } = setup(t);
    await applyRecipe(recipe, { registry: TEST_REGISTRY });
    fs.writeFileSync(path.join(out, 'stale.txt'), 'from an earlier run');
    fs.mkdirSync(`${out}.backup-1-abc`);
    fs.mkdirSync(`${out}.tmp-${process.pid}-running`); // a run still going (this process): not reported
    fs.mkdirSync(`${out}.tmp-999999999-gone`); // no such process: reported
    const warnings: string[] = [];
    const result = await applyRecipe(recipe, { registry: TEST_REGISTRY, onEvent: (e) => e.kind === 'warning' && warnings.push(e.message) });
    assert.deepEqual(fs.readdirSync(out).sort(), ['model.onnx', 'report.json', 'report.md']);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.ok(warnings.some((w) => /vae\.backup-1-abc', left by an interrupted run/.test(w)));
    assert.ok(warnings.some((w) => /vae\.tmp-999999999-gone', the unfinished output of an interrupted run/.test(w)));
    assert.deepEqual(result.report.warnings, warnings);
  });
});

describe('the demo recipe', () => {
  test('cleans up the small UNet and proves parity on ONNX Runtime CPU', async (t) => {
    const dir = tempDir(t);
    const text = fs.readFileSync(path.join(REPO, 'recipes', 'demo-small-unet.yaml'), 'utf8');
    const recipe = path.join(dir, 'demo.yaml');
    // The same recipe, reading the repository's fixture and writing into a temporary folder.
    fs.writeFileSync(recipe, text.replace('../fixtures/', `${path.join(REPO, 'fixtures')}/`).replace('../out/demo-small-unet', 'out'));
    const result = await applyRecipe(recipe);
    assert.equal(result.exitCode, 0);
    const c = result.report.components[0]!;
    assert.deepEqual(c.passes.map((p) => [p.pass, p.changed]), [['cleanup', true]]);
    assert.ok(c.after!.nodes < c.before!.nodes);
    assert.equal(c.validation?.result.passed, true);
    assert.ok(fs.existsSync(path.join(dir, 'out', 'report.md')));
  });
});

describe('apply on a pipeline folder', () => {
  test('one broken component: the other is written and reported, and the exit code is non-zero', async (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'sdxl', 'unet'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'sdxl', 'vae_decoder'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sdxl', 'unet', 'model.onnx'), Buffer.from('this is not an ONNX model at all'));
    fs.copyFileSync(fixture(VAE), path.join(dir, 'sdxl', 'vae_decoder', 'model.onnx'));
    const recipe = path.join(dir, 'recipe.yaml');
    fs.writeFileSync(recipe, 'model: sdxl\noutput: out\npasses: [noop]\ncomponents:\n  vae_decoder: {passes: [insert-identity]}\n');
    const result = await applyRecipe(recipe, { registry: TEST_REGISTRY });
    assert.equal(result.exitCode, 2);
    const out = path.join(dir, 'out');
    assert.deepEqual(fs.readdirSync(out).sort(), ['report.json', 'report.md', 'vae_decoder']);
    assert.deepEqual(fs.readdirSync(path.join(out, 'vae_decoder')), ['model.onnx']);
    const report = readReport(out);
    assert.equal(report.status, 'failed');
    assert.deepEqual(report.components.map((c) => [c.name, c.status, c.error?.stage, c.error?.code]), [
      ['unet', 'failed', 'read', 'BAD_PROTOBUF'],
      ['vae_decoder', 'ok', undefined, undefined],
    ]);
    assert.equal(report.components[1]!.passes[0]!.pass, 'insert-identity');
    assert.equal(report.components[1]!.input.file, 'sdxl/vae_decoder/model.onnx');
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, /## unet: failed/);
    assert.match(md, /\*\*Failed while reading the model\*\* \(BAD_PROTOBUF\)/);
    assert.match(md, /## vae_decoder: ok/);
    const model = await readModel(path.join(out, 'vae_decoder', 'model.onnx'));
    assert.ok(model.graph.nodes().some((n) => n.metadata(PASS_STAMP_KEY) === 'insert-identity'));
  });
});

describe('the apply and passes commands', () => {
  const cli = (args: string[], cwd: string) => spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });

  test('apply --json prints the report; exit code 0', (t) => {
    const { dir } = setup(t);
    const r = cli(['apply', 'recipe.yaml', '--json'], dir);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ApplyReport;
    assert.equal(report.components[0]!.status, 'ok');
    assert.equal(r.stderr, '', 'no progress display when stderr is not a terminal');
    assert.ok(fs.existsSync(path.join(dir, 'out', 'vae', 'model.onnx')));
  });

  test('a bad recipe prints one line with recipe.yaml:LINE:COL and exits 2', (t) => {
    const { dir, recipe } = setup(t);
    fs.writeFileSync(recipe, 'model: models/vae.onnx\noutput: out/vae\npasses:\n  - no-such-pass\n');
    const r = cli(['apply', 'recipe.yaml'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error: recipe\.yaml:4:5: unknown pass 'no-such-pass' \(run 'sdxl-opt passes' to list the passes\)\n$/);
    assert.equal(r.stdout, '');
  });

  test('passes --json lists the registry as JSON', (t) => {
    const r = cli(['passes', '--json'], tempDir(t));
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Array.isArray(JSON.parse(r.stdout)));
  });
});
