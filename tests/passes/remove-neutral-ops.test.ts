import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readModel } from '../../src/io/read.js';
import { DataType } from '../../src/onnx/dtype.js';
import { removeNeutralOps } from '../../passes/remove-neutral-ops.js';
import { fixture, parityOnFixture } from '../helpers/fixtures.js';
import { opCountsWithDomain, runFusion, UNET_DIMS } from '../helpers/fusion-support.js';
import { compareOnCpu, seededFloats } from '../helpers/ort.js';
import { floatTensor, int64Tensor, tinyModel, type TinyModel } from '../helpers/tiny-model.js';
import { cleanup } from '../../passes/cleanup.js';

const F = DataType.FLOAT;

/** y = Relu(op(x, c)) or Relu(op(c, x)), x [2, 3], c of the given dims and value. */
function spec(op: string, value: number, o: { constFirst?: boolean; dims?: number[]; yIsOutput?: boolean } = {}): TinyModel {
  const dims = o.dims ?? [];
  const c = floatTensor('c', new Array(dims.reduce((a, b) => a * b, 1)).fill(value), dims);
  return {
    inputs: [['x', F, [2, 3]]],
    outputs: [['y', F]],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op, inputs: o.constFirst ? ['c', 'r'] : ['r', 'c'], outputs: [o.yIsOutput ? 'y' : 'z'] },
      ...(o.yIsOutput ? [] : [{ op: 'Relu', inputs: ['z'], outputs: ['y'] }]),
    ],
    initializers: [c],
  };
}

const feeds = () => ({ x: new ort.Tensor('float32', seededFloats(6, 3), [2, 3]) });

test('remove-neutral-ops: x·1, 1·x, x/1, x+0, 0+x, x−0 go (scalar or [1] constants); same outputs', async () => {
  const cases: [string, number, { constFirst?: boolean; dims?: number[] }][] = [
    ['Mul', 1, {}],
    ['Mul', 1, { constFirst: true, dims: [1] }],
    ['Div', 1, { dims: [1, 1] }],
    ['Add', 0, {}],
    ['Add', 0, { constFirst: true }],
    ['Sub', 0, {}],
  ];
  for (const [op, value, o] of cases) {
    const model = tinyModel(spec(op, value, o));
    const result = await runFusion(removeNeutralOps, model);
    assert.equal(result.counts.arithmetic, 1, `${op} ${JSON.stringify(o)}`);
    assert.deepEqual(opCountsWithDomain(model), { Relu: 2 });
    assert.equal(model.graph.initializers().length, 0, 'the constant goes with its only reader');
    assert.equal(await compareOnCpu(tinyModel(spec(op, value, o)), model, feeds()), 0);
  }
});

test('remove-neutral-ops: must not fire on 1/x, 0−x, x·2, a constant of several elements, or one that broadcasts x to a higher rank', async () => {
  const cases: [string, number, { constFirst?: boolean; dims?: number[] }][] = [
    ['Div', 1, { constFirst: true }],
    ['Sub', 0, { constFirst: true }],
    ['Mul', 2, {}],
    ['Mul', 1, { dims: [1, 1, 1] }],
    ['Add', 0, { dims: [2, 1] }],
  ];
  for (const [op, value, o] of cases) {
    const model = tinyModel(spec(op, value, o));
    const result = await runFusion(removeNeutralOps, model);
    assert.equal(result.changed, false, `${op} ${value} ${JSON.stringify(o)}`);
    assert.equal(opCountsWithDomain(model)[op], 1);
  }
});

test('remove-neutral-ops: a neutral op that makes a graph output keeps the output name', async () => {
  const model = tinyModel(spec('Mul', 1, { yIsOutput: true }));
  assert.equal((await runFusion(removeNeutralOps, model)).counts.arithmetic, 1);
  assert.deepEqual(model.graph.outputs.map((v) => v.name), ['y']);
  assert.equal(model.graph.outputs[0]!.producer?.opType, 'Relu');
});

test('remove-neutral-ops: Expand to the shape x has goes (symbolic dims by name); a broadcasting Expand stays', async () => {
  const expand = (target: number[], xShape: (number | string)[]): TinyModel => ({
    inputs: [['x', F, xShape]],
    outputs: [['y', F]],
    nodes: [{ op: 'Expand', inputs: ['x', 't'], outputs: ['y'] }],
    initializers: [int64Tensor('t', target)],
  });
  const same = tinyModel({ ...expand([2, 3], [2, 3]), outputs: [['y', F]], nodes: [{ op: 'Expand', inputs: ['x', 't'], outputs: ['e'] }, { op: 'Relu', inputs: ['e'], outputs: ['y'] }] });
  assert.equal((await runFusion(removeNeutralOps, same)).counts.expand, 1);
  assert.deepEqual(opCountsWithDomain(same), { Relu: 1 });
  const ones = tinyModel({ ...expand([1, 3], [2, 3]), nodes: [{ op: 'Expand', inputs: ['x', 't'], outputs: ['e'] }, { op: 'Relu', inputs: ['e'], outputs: ['y'] }] });
  assert.equal((await runFusion(removeNeutralOps, ones)).counts.expand, 1);
  const symbolic = tinyModel({
    inputs: [['x', F, ['batch', 3]]],
    outputs: [['y', F]],
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['s'] },
      { op: 'Expand', inputs: ['x', 's'], outputs: ['e'] },
      { op: 'Relu', inputs: ['e'], outputs: ['y'] },
    ],
  });
  assert.equal((await runFusion(removeNeutralOps, symbolic)).counts.expand, 1);
  assert.deepEqual(opCountsWithDomain(symbolic), { Relu: 1 }, 'the Shape that only the Expand read goes too');
  for (const [target, shape] of [
    [[2, 2, 3], [2, 3]],
    [[4, 3], [1, 3]],
  ] as const) {
    const model = tinyModel(expand([...target], [...shape]));
    assert.equal((await runFusion(removeNeutralOps, model)).changed, false, JSON.stringify(target));
  }
});

test('remove-neutral-ops: ts17 small UNet: 33 Divs by 1 (22 attention outputs, 11 resnets), 11 ·1 in Slice-bound chains, the timestep Expand; same outputs', async (t) => {
  let counts: Record<string, number> = {};
  const parity = await parityOnFixture('sdxl-unet-small-ts17.onnx', async (m) => (counts = (await runFusion(removeNeutralOps, m)).counts));
  t.diagnostic(`ts17: ${JSON.stringify(counts)}, relative L2 ${parity.error}`);
  assert.deepEqual(counts, { arithmetic: 44, expand: 1, kept: 0 });
  assert.equal(parity.error, 0);
});

test('remove-neutral-ops: ts17 after cleanup with dims fixed: the 33 Divs by 1 and the Expand; dynamo18 has none', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  await runFusion(cleanup, model, {}, { dims: UNET_DIMS });
  assert.deepEqual((await runFusion(removeNeutralOps, model, {}, { dims: UNET_DIMS })).counts, { arithmetic: 33, expand: 1, kept: 0 });
  const dynamo = await runFusion(removeNeutralOps, await readModel(fixture('sdxl-unet-small-dynamo18.onnx')));
  assert.equal(dynamo.changed, false);
});

test('remove-neutral-ops: full SDXL UNet graph: 157 Divs by 1 (140 attention outputs, 17 resnets), 70 ·1 in GEGLU Slice bounds, the timestep Expand', async (t) => {
  const model = await readModel(fixture('sdxl-unet-full-graph-only.onnx'));
  const divs = model.graph.nodes().filter((n) => n.opType === 'Div').length;
  const started = performance.now();
  const result = await runFusion(removeNeutralOps, model);
  t.diagnostic(`full UNet: ${JSON.stringify(result.counts)} in ${(performance.now() - started).toFixed(0)} ms, Div ${divs} → ${opCountsWithDomain(model).Div}`);
  assert.deepEqual(result.counts, { arithmetic: 227, expand: 1, kept: 0 });
});

test('remove-neutral-ops: running twice changes nothing the second time', async () => {
  const model = await readModel(fixture('sdxl-unet-small-ts17.onnx'));
  assert.equal((await runFusion(removeNeutralOps, model)).changed, true);
  assert.equal((await runFusion(removeNeutralOps, model)).changed, false);
});
