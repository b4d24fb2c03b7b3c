/**
 * A model read and written back with no pass is the same model: byte for byte for the inline fixtures, node
 * metadata included, and numerically identical on ONNX Runtime.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SdxlOptError } from '../src/errors.js';
import { readModel } from '../src/io/read.js';
import { writeModel } from '../src/io/write.js';
import { modelToProto } from '../src/ir/to-proto.js';
import { decodeModel, encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { fixture } from './helpers/fixtures.js';
import { smallUnetIo } from './helpers/recorded-io.js';
import { maxAbsDiff, runOnCpu } from './helpers/ort-run.js';
import { hashDir, sha256File, tempDir } from './helpers/temp-dir.js';

const INLINE_FIXTURES = [
  'sdxl-unet-small-ts17.onnx',
  'sdxl-unet-small-dynamo18.onnx',
  'sdxl-vae-decoder-tiny-ts17.onnx',
  'sdxl-text-encoder-tiny-ts17.onnx',
  'sdxl-text-encoder-2-tiny-ts17.onnx',
];

/** Graph-only full-size models: initializers in an external `model.onnx_data` that is not committed. */
const GRAPH_ONLY_FIXTURES = [
  'sdxl-unet-full-graph-only.onnx',
  'sdxl-vae-decoder-full-graph-only.onnx',
  'sdxl-text-encoder-full-graph-only.onnx',
  'sdxl-text-encoder-2-full-graph-only.onnx',
];

/** Tolerance the fixture README states for ONNX Runtime CPU against PyTorch. */
const PYTORCH_TOLERANCE = 1.2e-6;

test('every .onnx fixture is one this test knows how to round-trip', () => {
  const onnxFiles = fs.readdirSync(path.dirname(fixture('x'))).filter((f) => f.endsWith('.onnx')).sort();
  assert.deepEqual(onnxFiles, [...INLINE_FIXTURES, ...GRAPH_ONLY_FIXTURES].sort());
});

for (const name of INLINE_FIXTURES) {
  test(`round trip with no pass is byte-identical: ${name}`, async (t) => {
    const dir = tempDir(t);
    const before = sha256File(fixture(name));
    const model = await readModel(fixture(name));
    const out = path.join(dir, name);
    const result = await writeModel(model, out);
    assert.equal(result.dataFile, undefined, 'an inline model stays inline');
    assert.deepEqual([...hashDir(dir).keys()], [name], 'no data file, no temporary debris');
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(fixture(name))), 'written bytes differ from the fixture');
    assert.equal(sha256File(fixture(name)), before, 'the input changed');
  });
}

test('round trip of the graph-only full UNet (external data absent) re-encodes byte-identically', async () => {
  const file = fixture('sdxl-unet-full-graph-only.onnx');
  const model = await readModel(file);
  assert.equal(model.graph.initializers().length, 1184);
  const proto = modelToProto(model, (name, tensor) => {
    assert.ok(tensor.origin, `initializer '${name}' lost its TensorProto`);
    return tensor.origin;
  });
  assert.ok(Buffer.from(encodeModel(proto)).equals(fs.readFileSync(file)));
});

for (const [name, initializers] of [
  ['sdxl-vae-decoder-full-graph-only.onnx', 88],
  ['sdxl-text-encoder-full-graph-only.onnx', 196],
  ['sdxl-text-encoder-2-full-graph-only.onnx', 517],
] as const) {
  test(`round trip of a graph-only full component (external data absent) re-encodes byte-identically: ${name}`, async () => {
    const file = fixture(name);
    const model = await readModel(file);
    assert.equal(model.graph.initializers().length, initializers);
    const proto = modelToProto(model, (n, tensor) => {
      assert.ok(tensor.origin, `initializer '${n}' lost its TensorProto`);
      return tensor.origin;
    });
    assert.ok(Buffer.from(encodeModel(proto)).equals(fs.readFileSync(file)));
  });
}

test('writing a model whose external data file is missing fails with EXTERNAL_DATA and leaves nothing behind', async (t) => {
  const dir = tempDir(t);
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  await assert.rejects(writeModel(model, path.join(dir, 'model.onnx')), (e: unknown) => {
    assert.ok(e instanceof SdxlOptError);
    assert.equal(e.code, 'EXTERNAL_DATA');
    assert.match(e.message, /model\.onnx_data/);
    return true;
  });
  assert.deepEqual([...hashDir(dir).keys()], []);
});

function metadataByNode(proto: ModelProto): Map<string, string> {
  return new Map((proto.graph?.node ?? []).map((n) => [n.name ?? '', JSON.stringify((n.metadata_props ?? []).map((e) => [e.key, e.value]))]));
}

test('dynamo fixture: every node keeps its metadata_props through a round trip, also after an unrelated edit', async (t) => {
  const dir = tempDir(t);
  const file = fixture('sdxl-unet-small-dynamo18.onnx');
  const original = metadataByNode(decodeModel(fs.readFileSync(file), file));
  assert.equal(original.size, 1025);
  // All but the 11 Split nodes the exporter adds itself carry 5 or 6 entries: 5,081 in all.
  const counts = [...original.values()].map((p) => (JSON.parse(p) as unknown[]).length);
  assert.equal(counts.filter((n) => n > 0).length, 1014);
  assert.equal(counts.reduce((a, b) => a + b, 0), 5081);
  const keys = new Set([...original.values()].flatMap((p) => (JSON.parse(p) as [string, string][]).map(([k]) => k)));
  assert.ok(['namespace', 'pkg.torch.onnx.class_hierarchy', 'pkg.torch.onnx.stack_trace'].every((k) => keys.has(k)), [...keys].join(', '));

  const model = await readModel(file);
  // Rename a value between two nodes: both nodes are then emitted from the IR, not copied from the file.
  const renamed = model.graph.nodes().find((n) => n.outputs[0]!.useCount > 0 && !n.outputs[0]!.isGraphOutput)!;
  model.graph.renameValue(renamed.outputs[0]!, `${renamed.outputs[0]!.name}_renamed`);
  const out = path.join(dir, 'edited.onnx');
  await writeModel(model, out);
  const written = decodeModel(fs.readFileSync(out), out);
  assert.ok(written.graph!.node!.some((n) => n.output?.includes(`${renamed.outputs[0]!.name}`)), 'the edit is in the output');
  assert.deepEqual(metadataByNode(written), original);
});

for (const name of ['sdxl-unet-small-ts17.onnx', 'sdxl-unet-small-dynamo18.onnx']) {
  test(`rewritten ${name} runs on ORT CPU identically to the original and within ${PYTORCH_TOLERANCE} of PyTorch`, async (t) => {
    const dir = tempDir(t);
    const out = path.join(dir, name);
    await writeModel(await readModel(fixture(name)), out);
    const { inputs, outputs } = smallUnetIo();
    const original = (await runOnCpu(fixture(name), inputs)).get('out_sample')!;
    const rewritten = (await runOnCpu(out, inputs)).get('out_sample')!;
    assert.equal(rewritten.length, 2 * 4 * 16 * 16);
    assert.equal(maxAbsDiff(rewritten, original), 0);
    const vsPytorch = maxAbsDiff(rewritten, outputs.get('out_sample')!.data);
    assert.ok(vsPytorch <= PYTORCH_TOLERANCE, `max abs diff against PyTorch ${vsPytorch}`);
  });
}
