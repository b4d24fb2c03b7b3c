import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { CLI, TINY_VAE, perturbedCopy, scratchDir } from './helpers/runtime-fixtures.js';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const SMALL = ['--provider', 'cpu', '--dims', 'height=8,width=8', '--threads', '1'];

test('cli validate: exit 0 on a pass, 1 on a failed tolerance, JSON on request', async (t) => {
  const pass = await cli(['validate', TINY_VAE, TINY_VAE, ...SMALL]);
  assert.equal(pass.code, 0, pass.stderr);
  assert.match(pass.stdout, /PASSED/);
  assert.match(pass.stdout, /sample\s+float32\s+\[2,3,16,16\]\s+1\.000000/);

  const perturbed = await perturbedCopy(TINY_VAE, 'v.decoder.conv_out.weight', scratchDir(t));
  const fail = await cli(['validate', TINY_VAE, perturbed, ...SMALL, '--json']);
  assert.equal(fail.code, 1, fail.stderr);
  const report = JSON.parse(fail.stdout);
  assert.equal(report.passed, false);
  assert.equal(report.provider, 'cpu');
  assert.match(report.failures[0], /^sample: cosine/);
});

test('cli validate: exit 2 on usage and input errors, with one line saying why', async (t) => {
  const missing = await cli(['validate', TINY_VAE, `${scratchDir(t)}/nope.onnx`, ...SMALL]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: .*does not exist/);
  const badDims = await cli(['validate', TINY_VAE, TINY_VAE, '--provider', 'cpu', '--dims', 'height:8', '--threads', '1']);
  assert.equal(badDims.code, 2);
  assert.match(badDims.stderr, /--dims/);
  const badProvider = await cli(['validate', TINY_VAE, TINY_VAE, '--provider', 'tpu']);
  assert.equal(badProvider.code, 2);
  const badCosine = await cli(['validate', TINY_VAE, TINY_VAE, ...SMALL, '--cosine', '2']);
  assert.equal(badCosine.code, 2);
  const noCandidate = await cli(['validate', TINY_VAE]);
  assert.equal(noCandidate.code, 2);
});

test('cli bench: a table with speed-up over the first model; JSON; exit 2 on bad counts', async () => {
  const table = await cli(['bench', TINY_VAE, TINY_VAE, ...SMALL, '--iters', '2', '--warmup', '1']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /median ms/);
  assert.match(table.stdout, /1\.00×/);
  assert.match(table.stdout, /placement, .*CPUExecutionProvider \d+; 0 Memcpy/);
  const json = await cli(['bench', TINY_VAE, ...SMALL, '--iters', '1', '--warmup', '0', '--profile', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const [r] = JSON.parse(json.stdout);
  assert.equal(r.timesMs.length, 1);
  assert.equal(r.profile.runs, 1);
  const bad = await cli(['bench', TINY_VAE, ...SMALL, '--iters', '0']);
  assert.equal(bad.code, 2);
});

test('cli bench: without --provider it says which provider it chose', async () => {
  const r = await cli(['bench', TINY_VAE, '--dims', 'height=8,width=8', '--iters', '1', '--warmup', '0', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /provider: (cpu|cuda) \(default: /);
});

test('cli doctor: reports providers and exits 0 when the CPU provider works', async () => {
  const r = await cli(['doctor', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const env = JSON.parse(r.stdout);
  assert.equal(env.providers.cpu, true);
  assert.equal(typeof env.providers.cuda, 'boolean');
  assert.equal(env.ortVersion, '1.29.0');
  const text = await cli(['doctor']);
  assert.match(text.stdout, /CPU provider: loads and runs/);
  assert.match(text.stdout, /default provider: (cpu|cuda)/);
});
