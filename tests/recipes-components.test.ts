/**
 * The component recipes (VAE decoder, both text encoders, the pipeline) on the small fixtures, with parity on ONNX
 * Runtime CPU: each recipe's own pass list (a) for CUDA without its cast, CUDA-only ops lowered back to standard
 * ONNX, within float32 rounding; (b) whole, cast included, for the CPU target, within the recipe's cosine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { runPasses } from '../src/engine/runner.js';
import type { Model } from '../src/ir/model.js';
import { parseRecipe } from '../src/recipe/parse.js';
import { dimsInModelNames } from '../src/runtime/dims.js';
import { countOps, loadFixture, runOnCpu, vaeFeeds, type Feeds } from './helpers/attention-support.js';
import { lowerContribOps } from './helpers/lower-contrib.js';
import { lowerMultiHeadAttention } from './helpers/lower-mha.js';
import { CLI, scratchDir } from './helpers/runtime-fixtures.js';
import { TEXT_ENCODER, TEXT_ENCODER_2, tokenFeeds } from './helpers/text-encoder.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const recipe = (name: string) => parseRecipe(fs.readFileSync(path.join(ROOT, 'recipes', name), 'utf8'), name);
const inputNames = (m: Model) => m.graph.inputs.flatMap((v) => (v.shape ?? []).filter((d): d is string => typeof d === 'string'));

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb || 1);
}

/** Worst cosine and worst max-abs error over every output. */
async function compare(reference: Model, candidate: Model, feeds: Feeds): Promise<{ cosine: number; maxAbs: number }> {
  const want = await runOnCpu(reference, feeds);
  const got = await runOnCpu(candidate, feeds);
  let worst = { cosine: 1, maxAbs: 0 };
  for (const [name, w] of Object.entries(want)) {
    const g = Float32Array.from(got[name]!);
    let maxAbs = 0;
    for (let i = 0; i < w.length; i++) maxAbs = Math.max(maxAbs, Math.abs(g[i]! - w[i]!));
    worst = { cosine: Math.min(worst.cosine, cosine(g, Float32Array.from(w))), maxAbs: Math.max(worst.maxAbs, maxAbs) };
  }
  return worst;
}

const CASES = [
  { file: 'sdxl-vae-decoder-fastest.yaml', fixture: 'sdxl-vae-decoder-tiny-ts17.onnx', feeds: vaeFeeds, mha: 1, causal: 0 },
  { file: 'sdxl-text-encoder-fastest.yaml', fixture: TEXT_ENCODER, feeds: () => tokenFeeds(1), mha: 2, causal: 2 },
  { file: 'sdxl-text-encoder-2-fastest.yaml', fixture: TEXT_ENCODER_2, feeds: () => tokenFeeds(1), mha: 2, causal: 2 },
];

describe('component recipes on the small fixtures', () => {
  for (const c of CASES) {
    it(`${c.file} for CUDA (cast left out, contrib ops lowered): same outputs as the fixture on ORT CPU`, async (t) => {
      const r = recipe(c.file);
      const model = loadFixture(c.fixture);
      const steps = r.passes.filter((s) => s.pass.name !== 'cast');
      await runPasses(model, steps, { dims: dimsInModelNames(r.dims, inputNames(model)), target: 'cuda' });
      const mhas = model.graph.nodes().filter((n) => n.is('MultiHeadAttention', 'com.microsoft'));
      assert.equal(mhas.length, c.mha);
      assert.equal(mhas.filter((n) => n.attrInt('unidirectional') === 1).length, c.causal);
      if (c.fixture === TEXT_ENCODER) assert.equal(countOps(model.graph, 'QuickGelu', 'com.microsoft'), 2);
      if (c.fixture === TEXT_ENCODER_2) assert.equal(countOps(model.graph, 'BiasGelu', 'com.microsoft'), 2);
      if (c.fixture !== c.fixture.replace('text', '')) assert.equal(countOps(model.graph, 'SkipLayerNormalization', 'com.microsoft'), 5);
      lowerMultiHeadAttention(model);
      await lowerContribOps(model); // NhwcConv, GroupNorm, SkipGroupNorm (the VAE's channels-last)
      const { cosine: cos, maxAbs } = await compare(loadFixture(c.fixture), model, c.feeds());
      t.diagnostic(`${c.file}: cosine ${cos.toFixed(7)}, max abs ${maxAbs.toExponential(2)}`);
      assert.ok(cos > 0.99999 && maxAbs < 1e-4, `cosine ${cos}, max abs ${maxAbs}`);
    });

    it(`${c.file} whole (float16 included) for the CPU target: cosine ≥ 0.999 on ORT CPU`, async (t) => {
      const r = recipe(c.file);
      const model = loadFixture(c.fixture);
      // For the CPU target the CUDA-only rewrites do nothing, so cast's overflow probe runs on the CPU too.
      const steps = r.passes.map((s) => (s.pass.name === 'cast' && s.params.overflow_provider ? { ...s, params: { ...s.params, overflow_provider: 'cpu' } } : s));
      const run = await runPasses(model, steps, { dims: dimsInModelNames(r.dims, inputNames(model)), target: 'cpu' });
      const cast = run.steps.find((s) => s.pass === 'cast');
      assert.equal(cast?.changed, true);
      const { cosine: cos, maxAbs } = await compare(loadFixture(c.fixture), model, c.feeds());
      t.diagnostic(`${c.file} (cpu, float16): cosine ${cos.toFixed(7)}, max abs ${maxAbs.toExponential(2)}`);
      assert.ok(cos >= 0.999, `cosine ${cos}`);
    });
  }

  it('sdxl-pipeline-fastest.yaml on an Optimum-layout folder of the fixtures: every component written, parity on CPU', async (t) => {
    const dir = scratchDir(t);
    const pipeline = path.join(dir, 'pipeline');
    const parts: Record<string, string> = {
      unet: 'sdxl-unet-small-ts17.onnx',
      vae_decoder: 'sdxl-vae-decoder-tiny-ts17.onnx',
      vae_encoder: 'sdxl-vae-decoder-tiny-ts17.onnx', // a stand-in: only its presence and its own pass list matter
      text_encoder: TEXT_ENCODER,
      text_encoder_2: TEXT_ENCODER_2,
    };
    for (const [component, file] of Object.entries(parts)) {
      fs.mkdirSync(path.join(pipeline, component), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'fixtures', file), path.join(pipeline, component, 'model.onnx'));
    }
    // The real recipe, pointed at the folder, for the CPU (so ORT CPU can validate it), at the small UNet's size.
    const text = fs
      .readFileSync(path.join(ROOT, 'recipes', 'sdxl-pipeline-fastest.yaml'), 'utf8')
      .replace(/^model: .*$/m, `model: ${pipeline}`)
      .replace(/^output: .*$/m, `output: ${path.join(dir, 'out')}`)
      .replace(/^target: cuda$/m, 'target: cpu')
      .replace(/provider: cuda/g, 'provider: cpu')
      .replace(/height: 128, width: 128/g, 'height: 16, width: 16')
      .replace(/(height|width)=(64|256)/g, '$1=16')
      .replace(/^bench: .*$/m, '');
    const file = path.join(dir, 'pipeline.yaml');
    fs.writeFileSync(file, text);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'apply', file, '--json'], { maxBuffer: 64 << 20 }).catch((e) => e as { stdout: string });
    const report = JSON.parse(stdout) as { components: { name: string; status: string; validation?: { result: { outputs: { name: string; cosine: number }[] } } }[] };
    const byName = Object.fromEntries(report.components.map((m) => [m.name, m]));
    for (const component of Object.keys(parts)) {
      assert.equal(byName[component]?.status, 'ok', `${component}: ${JSON.stringify(byName[component])}`);
      assert.ok(fs.existsSync(path.join(dir, 'out', component, 'model.onnx')));
      const worst = Math.min(...byName[component]!.validation!.result.outputs.map((o) => o.cosine));
      t.diagnostic(`${component}: worst cosine ${worst.toFixed(7)}`);
      assert.ok(worst >= 0.999, `${component}: cosine ${worst}`);
    }
  });
});

void ort;
