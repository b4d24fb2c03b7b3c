/**
 * The model fuzzer as part of the suite: a short fixed-seed run through the CLI must end `500 inputs, 0 crashes,
 * 0 hangs` having reached every kind of failure the reader reports, and the harness must catch what it exists to
 * catch (a thrown TypeError, a target that never returns, a worker out of memory, buffers out of proportion).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { makeInput } from './fuzz/input.js';
import { replay, runFuzz, type FuzzOptions } from './fuzz/pool.js';
import { buildSeeds } from './fuzz/seeds.js';
import { encodeFields, fieldBoundaries, parseMessage } from './fuzz/wire.js';
import { isSdxlOptError } from '../src/errors.js';
import { modelFromBytes } from '../src/io/read.js';
import { topologicalOrder } from '../src/ir/graph.js';

const FUZZ_MAIN = new URL('./fuzz/fuzz-main.js', import.meta.url);

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const quiet = (out: string, overrides: Partial<FuzzOptions>): FuzzOptions => ({
  count: 1,
  seed: 1,
  timeoutMs: 2000,
  target: 'reader',
  out,
  workers: 1,
  memoryMb: 512,
  log: () => {},
  ...overrides,
});

test('500 fuzzed models (seed 20250101): each reads or fails with an SdxlOptError that names its place', async (t) => {
  const out = tempDir(t);
  const { stdout } = await promisify(execFile)(process.execPath, [FUZZ_MAIN.pathname, '--count', '500', '--seed', '20250101', '--out', out], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout?: string; stderr?: string; message: string }) => assert.fail(`fuzz run failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`));
  const lines = stdout.trim().split('\n');
  assert.equal(lines.at(-1), '500 inputs, 0 crashes, 0 hangs', stdout);
  assert.equal(fs.readdirSync(out).length, 0, 'no input saved');
  assert.ok(!lines.some((l) => / errors name no place/.test(l)), stdout);
  // The run reached the reader's every answer, not only the protobuf decoder's refusals.
  const outcomes = new Map([...lines.find((l) => l.startsWith('outcomes: '))!.slice(10).matchAll(/(\w+) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  for (const code of ['ok', 'BAD_PROTOBUF', 'BAD_MODEL', 'BAD_TENSOR', 'EXTERNAL_DATA', 'UNSAFE_PATH']) {
    assert.ok((outcomes.get(code) ?? 0) > 0, `no input ended ${code}: ${stdout}`);
  }
  assert.ok(outcomes.get('ok')! >= 50, `only ${outcomes.get('ok')} inputs read cleanly`);
  assert.ok(outcomes.get('BAD_PROTOBUF')! < 300, 'most inputs should get past the decoder');
});

test('a thrown TypeError is a crash: saved with its error, and --replay makes it again', async (t) => {
  const out = tempDir(t);
  const report = await runFuzz(quiet(out, { count: 3, target: 'canary-crash' }));
  assert.equal(report.crashes.length, 3);
  assert.equal(report.hangs.length, 0);
  const saved = report.crashes.find((c) => c.index === 2)!.savedTo;
  assert.ok(fs.existsSync(path.join(saved, 'model.onnx')));
  const note = fs.readFileSync(path.join(saved, 'error.txt'), 'utf8');
  assert.match(note, /TypeError: Cannot read properties of null/);
  assert.match(note, /run seed 1, input #2, from seed model 'control-flow'/);
  assert.match(note, /replay: npm run fuzz -- --replay .*model\.onnx --target canary-crash/);
  const again = await replay(path.join(saved, 'model.onnx'), { target: 'canary-crash', timeoutMs: 2000, memoryMb: 512 });
  assert.equal(again.kind, 'crash');
  const clean = await replay(path.join(saved, 'model.onnx'), { target: 'reader', timeoutMs: 2000, memoryMb: 512 });
  assert.equal(clean.kind, 'ok', clean.text);
});

test('a target that never returns is a hang once it has timed out twice', async (t) => {
  const report = await runFuzz(quiet(tempDir(t), { count: 1, target: 'canary-hang', timeoutMs: 200 }));
  assert.deepEqual(report.retried, [0]);
  assert.equal(report.hangs.length, 1);
  assert.match(report.hangs[0]!.error, /no answer after \d+ ms \(limit 200 ms\)/);
  assert.equal(report.inputs, 1);
});

test('a worker that runs out of heap is a crash, and the next input gets a fresh worker', async (t) => {
  const report = await runFuzz(quiet(tempDir(t), { count: 2, target: 'canary-oom', memoryMb: 32, timeoutMs: 30_000 }));
  assert.equal(report.crashes.length, 2);
  for (const c of report.crashes) assert.match(c.error, /ERR_WORKER_OUT_OF_MEMORY/);
});

test('buffers out of proportion to the input are a crash', async (t) => {
  const report = await runFuzz(quiet(tempDir(t), { count: 1, target: 'canary-alloc' }));
  assert.equal(report.crashes.length, 1);
  assert.match(report.crashes[0]!.error, /ExcessAllocation: 1024 MiB of buffers held for \d+ bytes of input/);
});

test('inputs are the same for a seed and index, and differ across seeds', () => {
  const seeds = buildSeeds();
  const rebuilt = buildSeeds();
  for (const index of [0, 20, 21, 99, 1234]) {
    const a = makeInput(seeds, 5, index);
    const b = makeInput(rebuilt, 5, index);
    assert.deepEqual(a.steps, b.steps);
    assert.deepEqual(a.model, b.model);
    assert.deepEqual(Object.keys(a.files), Object.keys(b.files));
  }
  const differ = [20, 21, 22, 23].filter((i) => !Buffer.from(makeInput(seeds, 5, i).model).equals(makeInput(seeds, 6, i).model));
  assert.ok(differ.length >= 3);
  // Making inputs never changes the seeds (a Buffer slice is a view: a mutator once wrote into one).
  const before = seeds.map((s) => Buffer.from(s.model).toString('base64'));
  for (let i = 0; i < 60; i++) makeInput(seeds, 9, i);
  assert.deepEqual(seeds.map((s) => Buffer.from(s.model).toString('base64')), before);
});

test('the wire walker splits every seed into fields and writes it back byte for byte', () => {
  for (const seed of buildSeeds()) {
    const fields = parseMessage(seed.model, 'ModelProto');
    assert.ok(fields, seed.name);
    assert.ok(Buffer.from(encodeFields(fields)).equals(seed.model), seed.name);
    const graph = fields.find((f) => f.field === 7);
    assert.ok(graph?.children?.some((f) => f.field === 1), `${seed.name}: nodes found inside the graph`);
  }
});

test('the hand-built seeds cut at every field boundary: each cut reads or fails with an SdxlOptError', () => {
  // The fuzzer picks one boundary per input; here every one of them, for the seeds small enough to sweep.
  let cuts = 0;
  for (const seed of buildSeeds().filter((s) => s.model.length < 4096)) {
    const fields = parseMessage(seed.model, 'ModelProto')!;
    for (const at of fieldBoundaries(fields)) {
      cuts++;
      try {
        topologicalOrder(modelFromBytes(seed.model.subarray(0, at), path.join(os.tmpdir(), 'cut.onnx')).graph);
      } catch (e) {
        if (!isSdxlOptError(e)) assert.fail(`${seed.name} cut at ${at}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
  assert.ok(cuts > 500, `only ${cuts} cuts`);
});
