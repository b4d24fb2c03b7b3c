import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isSdxlOptError } from '../../src/errors.js';
import { candidatesFromRecipes } from '../../src/table/candidates.js';
import { compareCandidates } from '../../src/table/compare.js';
import { renderTable } from '../../src/table/render.js';
import { fixture } from '../helpers/fixtures.js';

function recipe(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, body);
  return file;
}

test('table: each recipe becomes a row measured against the original in one process, with parity', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'table-test-'));
  try {
    const model = fixture('sdxl-unet-small-ts17.onnx');
    const a = recipe(dir, 'clean.yaml', `model: ${model}\noutput: ${dir}/o1\npasses: [cleanup]\n`);
    const b = recipe(dir, 'attn.yaml', `model: ${model}\noutput: ${dir}/o2\ntarget: cpu\npasses: [cleanup, fuse-attention]\n`);
    const { modelFile, candidates } = candidatesFromRecipes([a, b], {});
    assert.equal(modelFile, model);
    assert.deepEqual(candidates.map((c) => c.label), ['clean', 'attn']);
    const work = path.join(dir, 'work');
    const report = await compareCandidates(modelFile, candidates, { provider: 'cpu', dims: { height: 16, width: 16 }, iters: 2, warmup: 1, threads: 1, workDir: work });
    assert.equal(report.rows.length, 2);
    for (const row of report.rows) {
      assert.equal(row.passed, true, row.failures.join('; '));
      assert.equal(row.outputs.length, 1);
      assert.ok(row.outputs[0]!.relL2 < 1e-5, `rel L2 ${row.outputs[0]!.relL2}`);
      assert.ok(row.medianMs > 0 && row.originalMedianMs > 0);
    }
    assert.ok(report.rows[1]!.nodes < report.rows[0]!.nodes, 'attention fusion removes nodes');
    assert.deepEqual(fs.readdirSync(work), [], 'built forms are deleted after measuring');
    const md = renderTable(report, 'env');
    assert.match(md, /\| clean \| [\d.]+ \| [\d.]+ \| [\d.]+× \| 1\.000000 \|/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('table: --each-pass makes one row per step; recipes on different models are refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'table-test-'));
  try {
    const a = recipe(dir, 'r.yaml', `model: ${fixture('sdxl-unet-small-ts17.onnx')}\noutput: ${dir}/o\npasses: [cleanup, fuse-attention, {name: fuse-qkv, enabled: false}]\n`);
    const steps = candidatesFromRecipes([a], { eachPass: true }).candidates;
    assert.deepEqual(steps.map((c) => c.label), ['r 1: cleanup', 'r 2: + fuse-attention']);
    assert.deepEqual(steps.map((c) => c.steps.length), [1, 2]);
    const b = recipe(dir, 'v.yaml', `model: ${fixture('sdxl-vae-decoder-tiny-ts17.onnx')}\noutput: ${dir}/o\npasses: [cleanup]\n`);
    assert.throws(() => candidatesFromRecipes([a, b], {}), (e) => isSdxlOptError(e) && /different models/.test(e.message));
    assert.throws(() => candidatesFromRecipes([a, b], { eachPass: true, model: fixture('sdxl-unet-small-ts17.onnx') }), /exactly one recipe/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
