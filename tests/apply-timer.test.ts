import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { applyRecipe } from '../src/apply/apply.js';
import { runtime, type RuntimeApi } from '../src/engine/bridge.js';
import type { ModelTimerSettings } from '../src/runtime/index.js';
import { writeModel } from '../src/io/write.js';
import { DataType } from '../src/onnx/dtype.js';
import { tempDir } from './helpers/engine-fixtures.js';
import { seededFloats } from './helpers/ort.js';
import { floatTensor, tinyModel } from './helpers/tiny-model.js';

/** A folder with a one-MatMul model (512 rows, 64 → 256) and a recipe running dynamic-int8 with filter: auto. */
async function setup(t: TestContext, extra = ''): Promise<{ recipe: string }> {
  const dir = tempDir(t);
  const F = DataType.FLOAT;
  const model = tinyModel({
    inputs: [['x', F, [512, 64]]],
    outputs: [['y', F]],
    initializers: [floatTensor('w', Array.from(seededFloats(64 * 256, 4)), [64, 256])],
    nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
  });
  fs.mkdirSync(path.join(dir, 'models'));
  await writeModel(model, path.join(dir, 'models', 'layer.onnx'));
  const recipe = path.join(dir, 'recipe.yaml');
  fs.writeFileSync(
    recipe,
    `model: models/layer.onnx\noutput: out/layer\ntarget: cpu\npasses:\n  - {name: dynamic-int8, filter: auto, auto_iters: 1, auto_warmup: 0}\n${extra}`,
  );
  return { recipe };
}

test('apply: dynamic-int8 filter: auto gets a timer, and times on ORT CPU (a tiny model)', async (t) => {
  const { recipe } = await setup(t);
  const result = await applyRecipe(recipe);
  const step = result.report.components[0]!.passes[0]!;
  assert.equal(step.pass, 'dynamic-int8');
  assert.ok(step.counts['auto_us.512x64x256.float']! > 0, JSON.stringify(step.counts));
  assert.ok(step.counts['auto_us.512x64x256.int8']! > 0, JSON.stringify(step.counts));
  assert.ok(step.log.some((l) => /^dynamic-int8 auto on cpu: 512x64x256 \(×1\): float/.test(l)), step.log.join('\n'));
});

test("apply: the timer runs on the recipe's bench provider", async (t) => {
  const { recipe } = await setup(t, 'bench: {provider: cpu, iters: 1, warmup: 0}\n');
  const timers: ModelTimerSettings[] = [];
  const fake: RuntimeApi = {
    ...runtime,
    benchModels: async () => [],
    modelTimer: (settings) => {
      timers.push(settings);
      // int8 twice as fast: the layer is quantized
      return { provider: settings.provider, time: async (models) => models.map((_, i) => ({ medianMs: i ? 0.5 : 1, minMs: 0, cpuComputeOps: {} })) };
    },
  };
  const result = await applyRecipe(recipe, { runtime: fake });
  assert.deepEqual(timers.map((s) => s.provider), ['cpu']);
  const step = result.report.components[0]!.passes[0]!;
  assert.equal(step.counts.quantized, 1, JSON.stringify(step.counts));
  assert.equal(step.counts['auto_us.512x64x256.int8'], 500);
});
