/**
 * Crash-safe outputs: `apply` (and the model writer under it) killed with SIGKILL at any moment leaves the output
 * absent or holding the previous complete result; SIGINT and SIGTERM remove the temporary files and exit non-zero
 * with a message. A child process stalls half-way through a write (tests/helpers/crash-child.ts), so the kill
 * lands mid-write every time; the real CLI is also killed at random moments of whole runs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { buildModel, DataType, externalTensor, f32Bytes, f32Sequence, node, valueInfo, writeModelFile } from './helpers/build-model.js';
import { REPO } from './helpers/engine-fixtures.js';
import { hashDir, tempDir } from './helpers/temp-dir.js';
import { Rng } from './fuzz/rng.js';

const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const CHILD = path.join(REPO, 'dist', 'tests', 'helpers', 'crash-child.js');

const WEIGHTS = 8;
const ELEMENTS = 1 << 20; // 4 MiB a weight, 32 MiB in all: the write is a visible part of a run

/**
 * A recipe folder: models/big.onnx (x → Add w0 → ... → Add w7 → y, its weights in models/big.onnx_data),
 * recipe.yaml (no passes) and stall.yaml (the stall-write pass), both writing out/big.
 */
function setup(t: TestContext): { dir: string; models: string; out: string } {
  const dir = tempDir(t, 'sdxl-opt-crash-');
  const models = path.join(dir, 'models');
  fs.mkdirSync(models);
  const data = fs.openSync(path.join(models, 'big.onnx_data'), 'w');
  const initializers = [];
  const nodes = [];
  for (let i = 0; i < WEIGHTS; i++) {
    fs.writeSync(data, f32Bytes(f32Sequence(ELEMENTS, i + 1)));
    initializers.push(externalTensor(`w${i}`, DataType.FLOAT, [ELEMENTS], 'big.onnx_data', i * ELEMENTS * 4, ELEMENTS * 4));
    nodes.push(node('Add', [i === 0 ? 'x' : `h${i - 1}`, `w${i}`], [i === WEIGHTS - 1 ? 'y' : `h${i}`]));
  }
  fs.closeSync(data);
  writeModelFile(
    path.join(models, 'big.onnx'),
    buildModel({ nodes, inputs: [valueInfo('x', DataType.FLOAT, [ELEMENTS])], outputs: [valueInfo('y', DataType.FLOAT, [ELEMENTS])], initializers }),
  );
  fs.writeFileSync(path.join(dir, 'recipe.yaml'), 'model: models/big.onnx\noutput: out/big\ntarget: cpu\n');
  fs.writeFileSync(path.join(dir, 'stall.yaml'), 'model: models/big.onnx\noutput: out/big\ntarget: cpu\npasses: [stall-write]\n');
  return { dir, models, out: path.join(dir, 'out', 'big') };
}

function runCli(dir: string, recipe = 'recipe.yaml'): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'apply', recipe], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

interface Child {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves when the child prints `mid-write`. */
  midWrite: Promise<void>;
}

function startChild(args: string[], cwd: string): Child {
  const child = spawn(process.execPath, [CHILD, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let seen: () => void = () => undefined;
  const midWrite = new Promise<void>((resolve) => (seen = resolve));
  child.stdout!.on('data', (d) => {
    stdout += d;
    if (stdout.includes('mid-write\n')) seen();
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  // A child that ends before stalling fails the test rather than leaving it waiting.
  const stalled = Promise.race([midWrite, exit.then((e) => Promise.reject(new Error(`the child exited (${e.code}) before the write stalled: ${e.stderr}`)))]);
  return { child, exit, midWrite: stalled };
}

/** The model files of an output folder, by content. */
const modelHashes = (out: string) => {
  const h = hashDir(out);
  return [h.get('model.onnx'), h.get('model.onnx_data')];
};

/** Names beside the output left by a run: `big.tmp-*` (unfinished) and `big.backup-*` (the previous output). */
const besides = (out: string, kind: 'tmp' | 'backup') =>
  fs.existsSync(path.dirname(out)) ? fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith(`${path.basename(out)}.${kind}-`)) : [];

describe('SIGKILL mid-write', () => {
  test('apply killed mid-write leaves the previous complete output; the next run reports the leftover and succeeds', { timeout: 60_000 }, async (t) => {
    const { dir, models, out } = setup(t);
    const inputs = hashDir(models);
    assert.equal(runCli(dir).status, 0);
    const previous = hashDir(out);
    assert.ok(previous.get('model.onnx') && previous.get('model.onnx_data'));

    const run = startChild(['apply', 'stall.yaml'], dir);
    await run.midWrite;
    const [staging] = besides(out, 'tmp');
    assert.ok(staging, 'the run writes into a temporary folder beside the output');
    const tmpData = fs.readdirSync(path.join(path.dirname(out), staging)).filter((n) => n.startsWith('model.onnx_data.tmp-'));
    assert.equal(tmpData.length, 1, 'the data file is being written');
    assert.ok(fs.statSync(path.join(path.dirname(out), staging, tmpData[0]!)).size > 0, 'the kill lands with bytes written');
    run.child.kill('SIGKILL');
    assert.equal((await run.exit).signal, 'SIGKILL');

    assert.deepEqual(hashDir(out), previous, 'the output is the previous complete result, byte for byte');
    assert.deepEqual(hashDir(models), inputs, 'the input is untouched');
    assert.deepEqual(besides(out, 'tmp'), [staging], 'a SIGKILL cannot clean up: the temporary folder stays, named as such');

    const again = runCli(dir);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`warning: found '.*${staging.replace(/[.]/g, '\\.')}', the unfinished output of an interrupted run`));
    assert.deepEqual(modelHashes(out), [previous.get('model.onnx'), previous.get('model.onnx_data')], 'the same model as a complete run');
  });

  test('apply killed mid-write with no previous output leaves no output at all', { timeout: 60_000 }, async (t) => {
    const { dir, out } = setup(t);
    const run = startChild(['apply', 'stall.yaml'], dir);
    await run.midWrite;
    run.child.kill('SIGKILL');
    await run.exit;
    assert.equal(fs.existsSync(out), false);
    assert.equal(besides(out, 'backup').length, 0);
  });

  test('the model writer killed mid-write leaves the destination as it was: absent, or the previous model', { timeout: 60_000 }, async (t) => {
    const { dir, models } = setup(t);
    const dest = path.join(dir, 'written', 'model.onnx');
    fs.mkdirSync(path.dirname(dest));
    const first = startChild(['write', path.join(models, 'big.onnx'), dest], dir);
    await first.midWrite;
    first.child.kill('SIGKILL');
    await first.exit;
    assert.equal(fs.existsSync(dest), false);
    assert.equal(fs.existsSync(`${dest}_data`), false);

    for (const n of fs.readdirSync(path.dirname(dest))) fs.rmSync(path.join(path.dirname(dest), n)); // the first kill's temporary file
    // A complete model at dest (the input, copied), then a killed rewrite of it.
    fs.copyFileSync(path.join(models, 'big.onnx'), dest);
    fs.copyFileSync(path.join(models, 'big.onnx_data'), path.join(path.dirname(dest), 'big.onnx_data'));
    fs.copyFileSync(path.join(models, 'big.onnx_data'), `${dest}_data`);
    const before = hashDir(path.dirname(dest));
    const second = startChild(['write', path.join(models, 'big.onnx'), dest], dir);
    await second.midWrite;
    second.child.kill('SIGKILL');
    await second.exit;
    const after = hashDir(path.dirname(dest));
    const leftovers = [...after.keys()].filter((n) => n.includes('.tmp-'));
    assert.ok(leftovers.length > 0, 'the kill left temporary files (so it landed mid-write)');
    for (const n of leftovers) after.delete(n);
    assert.deepEqual(after, before, 'the previous model files are as they were');
  });

  test('the CLI killed at random moments of its write: the output is absent, or complete and identical', { timeout: 120_000 }, async (t) => {
    const { dir, out } = setup(t);
    // How long a run takes from the moment its temporary folder appears (reading, writing, swapping) to its end.
    const calibration = await watchedRun(dir, out, undefined);
    assert.equal(calibration.code, 0);
    const complete = modelHashes(out);
    fs.rmSync(out, { recursive: true });
    const rng = new Rng(1);
    const states = new Map<string, number>();
    const trials = 8;
    for (let i = 0; i < trials; i++) {
      // The first half of the trials start with no output, the rest replace a complete one.
      if (i < trials / 2) fs.rmSync(out, { recursive: true, force: true });
      else if (!fs.existsSync(out)) assert.equal(runCli(dir).status, 0);
      // The first trial of each half kills as soon as the temporary folder appears, so at least one kill lands mid-run
      // however fast the machine writes; the others at a random moment of the calibrated window.
      const delay = i % (trials / 2) === 0 ? 0 : (rng.u32() / 2 ** 32) * calibration.windowMs;
      const run = await watchedRun(dir, out, delay);
      const staging = besides(out, 'tmp');
      const backups = besides(out, 'backup');
      let state: string;
      if (fs.existsSync(out)) {
        assert.deepEqual(modelHashes(out), complete, `trial ${i}: an output that exists is a complete one`);
        const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { tool: { name: string } };
        assert.equal(report.tool.name, 'sdxl-opt');
        state = !run.signal ? 'finished first' : staging.length ? 'killed mid-run, previous output intact' : 'killed after the swap';
      } else if (i >= trials / 2) {
        // Between the two renames of the swap: the previous output waits, complete, as the one backup.
        assert.equal(backups.length, 1, `trial ${i}: the output is missing, so its backup must be there`);
        assert.deepEqual(modelHashes(path.join(path.dirname(out), backups[0]!)), complete);
        fs.renameSync(path.join(path.dirname(out), backups[0]!), out);
        state = 'killed mid-swap, backup complete';
      } else {
        assert.equal(run.signal, 'SIGKILL');
        state = 'killed mid-run, no output';
      }
      state = `${i < trials / 2 ? 'no previous output' : 'replacing an output'}: ${state}`;
      states.set(state, (states.get(state) ?? 0) + 1);
      for (const n of [...besides(out, 'tmp'), ...besides(out, 'backup')]) fs.rmSync(path.join(path.dirname(out), n), { recursive: true, force: true });
    }
    t.diagnostic(`${Math.round(calibration.windowMs)} ms from the temporary folder to the end; ${trials} kills: ${JSON.stringify(Object.fromEntries(states))}`);
    assert.ok([...states.keys()].some((k) => k.includes('mid-')), 'some kills landed mid-run');
  });
});

/**
 * Runs the CLI's apply, watching for its temporary folder; `killAfterMs` after it appears, SIGKILLs it. Returns how
 * long the run lasted from that moment (the window a kill can land in).
 */
async function watchedRun(dir: string, out: string, killAfterMs: number | undefined): Promise<{ code: number | null; signal: NodeJS.Signals | null; windowMs: number }> {
  const child = spawn(process.execPath, [CLI, 'apply', 'recipe.yaml'], { cwd: dir, stdio: 'ignore' });
  let ended = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  let appeared: number | undefined;
  while (!ended && appeared === undefined) {
    if (besides(out, 'tmp').length) appeared = performance.now();
    else await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (killAfterMs !== undefined && appeared !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, killAfterMs));
    child.kill('SIGKILL');
  }
  const result = await closed;
  return { ...result, windowMs: appeared === undefined ? 0 : performance.now() - appeared };
}

describe('SIGINT and SIGTERM', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    test(`${signal} mid-write: temporary files removed, exit ${code} with a message, the previous output kept`, { timeout: 60_000 }, async (t) => {
      const { dir, models, out } = setup(t);
      assert.equal(runCli(dir).status, 0);
      const previous = hashDir(out);
      const inputs = hashDir(models);
      const run = startChild(['apply', 'stall.yaml'], dir);
      await run.midWrite;
      assert.equal(besides(out, 'tmp').length, 1);
      run.child.kill(signal);
      const exit = await run.exit;
      assert.equal(exit.code, code);
      assert.match(exit.stderr, new RegExp(`interrupted \\(${signal}\\); temporary files removed\\n$`));
      assert.deepEqual(fs.readdirSync(path.dirname(out)), ['big'], 'no temporary or backup folder is left');
      assert.deepEqual(hashDir(out), previous);
      assert.deepEqual(hashDir(models), inputs);
    });
  }

  test('SIGINT while the model writer is mid-write removes its temporary model and data files', { timeout: 60_000 }, async (t) => {
    const { dir, models } = setup(t);
    const dest = path.join(dir, 'written', 'model.onnx');
    fs.mkdirSync(path.dirname(dest));
    const run = startChild(['write', path.join(models, 'big.onnx'), dest], dir);
    await run.midWrite;
    assert.equal(fs.readdirSync(path.dirname(dest)).filter((n) => n.includes('.tmp-')).length, 1, 'the data file is being written');
    run.child.kill('SIGINT');
    const exit = await run.exit;
    assert.equal(exit.code, 130);
    assert.match(exit.stderr, /interrupted \(SIGINT\); temporary files removed/);
    assert.deepEqual(fs.readdirSync(path.dirname(dest)), []);
  });
});
