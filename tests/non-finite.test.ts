/**
 * Numbers that lie: NaN and ±Infinity in weights are counted by tensor by `inspect` (which still works on a model
 * without its weights), and `validate` fails when either model's outputs hold them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { inspectModel, type InspectReport } from '../src/inspect.js';
import { countNonFiniteWeights } from '../src/inspect/non-finite.js';
import { readModel } from '../src/io/read.js';
import { isFloatType } from '../src/onnx/dtype.js';
import { validateModels } from '../src/runtime/index.js';
import { buildModel, DataType, externalTensor, f32Bytes, node, rawTensor, valueInfo, writeModelFile } from './helpers/build-model.js';
import { fixture, REPO } from './helpers/engine-fixtures.js';
import { tempDir } from './helpers/temp-dir.js';

const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const u16 = (...bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

/** y = x + w, with `w` as given; the other initializers are only stored (every float type; one absent unless asked). */
function modelWith(dir: string, name: string, w: number[], absentWeight = true): string {
  const file = path.join(dir, name);
  writeModelFile(
    file,
    buildModel({
      nodes: [node('Add', ['x', 'w'], ['y'])],
      inputs: [valueInfo('x', DataType.FLOAT, [4])],
      outputs: [valueInfo('y', DataType.FLOAT, [4])],
      initializers: [
        rawTensor('w', DataType.FLOAT, [4], f32Bytes(w)),
        rawTensor('half', DataType.FLOAT16, [4], u16(0x3c00, 0x7c00, 0xfe00, 0x7e00)), // 1, +Inf, NaN, NaN
        rawTensor('brain', DataType.BFLOAT16, [2], u16(0x3f80, 0xff80)), // 1, -Inf
        rawTensor('double', DataType.DOUBLE, [2], new Uint8Array(Float64Array.of(NaN, 1).buffer)),
        rawTensor('clean', DataType.FLOAT, [4], f32Bytes([1, 2, 3, 4])),
        rawTensor('ints', DataType.INT32, [2], new Uint8Array(Int32Array.of(-1, 0x7f800001).buffer)), // not floats
        ...(absentWeight ? [externalTensor('absent', DataType.FLOAT, [4], 'absent.bin', 0, 16)] : []),
      ],
    }),
  );
  return file;
}

const EXPECTED = {
  scanned: 5,
  unread: 1,
  tensors: [
    { name: 'w', dtype: 'float', nan: 1, posInf: 1, negInf: 1 },
    { name: 'half', dtype: 'float16', nan: 2, posInf: 1, negInf: 0 },
    { name: 'brain', dtype: 'bfloat16', nan: 0, posInf: 0, negInf: 1 },
    { name: 'double', dtype: 'double', nan: 1, posInf: 0, negInf: 0 },
  ],
  nan: 4,
  posInf: 2,
  negInf: 2,
};

test('NaN and ±Infinity in weights are counted by tensor, for every float type; absent weights are counted as unread', async (t) => {
  const file = modelWith(tempDir(t), 'model.onnx', [1, NaN, Infinity, -Infinity]);
  assert.deepEqual(await countNonFiniteWeights((await readModel(file)).graph), EXPECTED);
});

test('a chunk boundary inside the tensor, at an unaligned offset, counts every element once', async (t) => {
  const dir = tempDir(t);
  // 3 MiB of float32 at offset 2 of the data file: NaN at the first and last element, Infinity in the middle.
  const values = new Float32Array(3 * 2 ** 18);
  values[0] = NaN;
  values[values.length >> 1] = Infinity;
  values[values.length - 1] = NaN;
  fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.concat([Buffer.alloc(2), Buffer.from(values.buffer)]));
  const file = path.join(dir, 'model.onnx');
  writeModelFile(
    file,
    buildModel({
      nodes: [node('Add', ['x', 'w'], ['y'])],
      inputs: [valueInfo('x', DataType.FLOAT, [values.length])],
      outputs: [valueInfo('y', DataType.FLOAT, [values.length])],
      initializers: [externalTensor('w', DataType.FLOAT, [values.length], 'w.bin', 2, values.byteLength)],
    }),
  );
  const counts = await countNonFiniteWeights((await readModel(file)).graph);
  assert.deepEqual(counts.tensors, [{ name: 'w', dtype: 'float', nan: 2, posInf: 1, negInf: 0 }]);
});

test('inspect prints the tensors holding NaN or Infinity, and --json lists them; --no-weights reads none', (t) => {
  const file = modelWith(tempDir(t), 'model.onnx', [1, NaN, Infinity, -Infinity]);
  const text = spawnSync(process.execPath, [CLI, 'inspect', file], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /\nweights: NaN or Infinity in 4 of 5 float tensors \(4 NaN, 2 \+Inf, 2 -Inf\) \(1 not read: their external data is absent\)\n/);
  assert.match(text.stdout, /\n {2}half +float16 +2 +1 +0\n/);
  const json = spawnSync(process.execPath, [CLI, 'inspect', file, '--json'], { encoding: 'utf8' });
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as InspectReport).nonFiniteWeights, EXPECTED);
  const graphOnly = spawnSync(process.execPath, [CLI, 'inspect', file, '--json', '--no-weights'], { encoding: 'utf8' });
  assert.equal(graphOnly.status, 0, graphOnly.stderr);
  assert.equal((JSON.parse(graphOnly.stdout) as InspectReport).nonFiniteWeights, undefined);
});

test('a model without its weights (the full UNet graph) inspects, every weight counted as unread', async () => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const report = inspectModel(model);
  const counts = await countNonFiniteWeights(model.graph);
  assert.deepEqual(counts.tensors, []);
  assert.ok(counts.unread > 1000, `${counts.unread} unread`);
  const floats = model.graph.initializers().filter((v) => isFloatType(v.initializer!.dtype)).length;
  assert.equal(counts.scanned + counts.unread, floats, 'every float weight is either read or counted as unread');
  assert.ok(report.nodeCount > 5000, 'the rest of the report is made as before');
});

test('validate fails when the reference or the candidate outputs NaN or Infinity, saying which', async (t) => {
  const dir = tempDir(t);
  const clean = modelWith(dir, 'clean.onnx', [1, 1, 2, 3], false);
  const broken = modelWith(dir, 'broken.onnx', [1, NaN, Infinity, 3], false);
  const options = { provider: 'cpu' as const, threads: 1 };
  const badReference = await validateModels(broken, clean, options);
  assert.equal(badReference.passed, false);
  assert.deepEqual(badReference.outputs.map((o) => o.nonFinite), [{ reference: 2, candidate: 0 }]);
  assert.deepEqual(badReference.failures, ['y: 2 non-finite values (NaN or ±Infinity) in the reference: its outputs cannot be compared against']);
  const badCandidate = await validateModels(clean, broken, options);
  assert.equal(badCandidate.passed, false);
  assert.deepEqual(badCandidate.failures, ['y: 2 non-finite values (NaN or ±Infinity) in the candidate']);
  assert.equal((await validateModels(clean, clean, options)).passed, true);

  const cli = spawnSync(process.execPath, [CLI, 'validate', broken, clean, '--provider', 'cpu', '--threads', '1'], { encoding: 'utf8' });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stdout, /in the reference: its outputs cannot be compared against/);
});
