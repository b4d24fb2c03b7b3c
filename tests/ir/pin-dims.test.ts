import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import { inferTypes } from '../../src/ir/infer/index.js';
import { fixture } from '../helpers/fixtures.js';

const dimsOf = (m: Awaited<ReturnType<typeof readModel>>, name: string) => m.graph.inputs.find((v) => v.name === name)?.type?.shape;

test('fixed dims are written into the model interface; without them the interface keeps its names', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pin-dims-'));
  try {
    const fixed = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
    inferTypes(fixed.graph, { dims: { batch: 2, height: 16, width: 16, sequence: 77 } });
    await writeModel(fixed, path.join(dir, 'fixed.onnx'));
    const reread = await readModel(path.join(dir, 'fixed.onnx'));
    assert.deepEqual(dimsOf(reread, 'sample'), [2, 4, 16, 16]);
    assert.deepEqual(dimsOf(reread, 'encoder_hidden_states'), [2, 77, 32]);
    assert.deepEqual(reread.graph.outputs[0]!.type?.shape, [2, 4, 16, 16]);

    const free = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
    inferTypes(free.graph);
    await writeModel(free, path.join(dir, 'free.onnx'));
    assert.deepEqual(dimsOf(await readModel(path.join(dir, 'free.onnx')), 'sample'), ['batch', 4, 'height', 'width']);
    assert.ok(fs.readFileSync(path.join(dir, 'free.onnx')).equals(fs.readFileSync(fixture('sdxl-unet-small-ts17.onnx'))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
