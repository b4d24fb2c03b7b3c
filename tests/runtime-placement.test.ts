import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isShapeLike, placementOf } from '../src/runtime/placement.js';
import { summarizeProfile } from '../src/runtime/profile-summary.js';
import { kernelsByRun, readTrace, type KernelEvent } from '../src/runtime/trace.js';
import { scratchDir } from './helpers/runtime-fixtures.js';

const kernel = (node: string, opType: string, provider: string, outputs: [string, number[]][], ts = 0, dur = 10): KernelEvent => ({
  node,
  opType,
  provider,
  ts,
  dur,
  outputs: outputs.map(([dtype, dims]) => ({ dtype, dims })),
});

const CUDA = 'CUDAExecutionProvider';
const CPU = 'CPUExecutionProvider';

test('placement: on CUDA, shape chains and copies on the CPU are not compute; a float Resize is', () => {
  const run = [
    kernel('shape', 'Shape', CPU, [['int64', [4]]]),
    kernel('gather', 'Gather', CPU, [['int64', []]]),
    kernel('scale', 'Sqrt', CPU, [['float', []]]), // a scalar computed from a shape
    kernel('mask', 'Where', CPU, [['bool', [2, 77, 77]]]),
    kernel('copy', 'MemcpyToHost', CUDA, [['float', [2, 4]]]),
    kernel('copy2', 'MemcpyFromHost', CUDA, [['float', [2, 4]]]),
    kernel('up', 'Resize', CPU, [['float', [2, 64, 32, 32]]]),
    kernel('norm', 'InstanceNormalization', CPU, [['MLFloat16', [2, 32, 1024]]]),
    kernel('mm', 'MatMul', CUDA, [['float', [2, 77, 64]]]),
  ];
  const p = placementOf(run, 'cuda');
  assert.deepEqual(p.byProvider, { [CPU]: 6, [CUDA]: 3 });
  assert.equal(p.memcpy, 2);
  assert.deepEqual(p.cpuComputeNodes, ['up', 'norm']);
  assert.deepEqual(p.cpuComputeOps, { Resize: 1, InstanceNormalization: 1 });
  assert.equal(p.cpuShapeNodes, 4);
  assert.equal(isShapeLike(kernel('x', 'Add', CPU, [])), false, 'unknown outputs count as work');
});

test('placement: a CPU session lists no CPU compute nodes (everything is on the CPU by request)', () => {
  const p = placementOf([kernel('up', 'Resize', CPU, [['float', [2, 64, 32, 32]]])], 'cpu');
  assert.deepEqual(p.byProvider, { [CPU]: 1 });
  assert.deepEqual(p.cpuComputeNodes, []);
});

test('trace: reads kernel and run events line by line, skipping fences, and splits kernels by run', async (t) => {
  const file = path.join(scratchDir(t), 'trace.json');
  const ev = (o: object) => JSON.stringify(o);
  const node = (name: string, ts: number, dur: number, op: string) =>
    ev({ cat: 'Node', ts, dur, ph: 'X', name, args: { op_name: op, provider: CPU, output_type_shape: [{ float: [2, 4] }] } });
  fs.writeFileSync(
    file,
    [
      '[',
      `${ev({ cat: 'Session', ts: 0, dur: 50, ph: 'X', name: 'session_initialization', args: {} })},`,
      `${node('a_fence_before', 100, 0, 'Conv')},`,
      `${node('a_kernel_time', 101, 30, 'Conv')},`,
      `${node('b_kernel_time', 140, 10, 'Relu')},`,
      `${ev({ cat: 'Session', ts: 100, dur: 60, ph: 'X', name: 'model_run', args: {} })},`,
      `${node('a_kernel_time', 201, 20, 'Conv')},`,
      `${node('b_kernel_time', 230, 20, 'Relu')},`,
      `${ev({ cat: 'Session', ts: 200, dur: 60, ph: 'X', name: 'model_run', args: {} })}`,
      ']',
    ].join('\n'),
  );
  const trace = await readTrace(file);
  assert.equal(trace.runs.length, 2);
  assert.equal(trace.kernels.length, 4);
  assert.deepEqual(trace.kernels[0], { node: 'a', opType: 'Conv', provider: CPU, ts: 101, dur: 30, outputs: [{ dtype: 'float', dims: [2, 4] }] });
  const byRun = kernelsByRun(trace);
  assert.deepEqual(byRun.map((r) => r.map((k) => k.node)), [['a', 'b'], ['a', 'b']]);
  const summary = summarizeProfile(byRun.slice(1), 0.06);
  assert.equal(summary.runs, 1);
  assert.equal(summary.kernelMs, 0.04);
  assert.deepEqual(summary.byOpType.map((o) => [o.opType, o.share]), [['Conv', 0.5], ['Relu', 0.5]]);
  assert.deepEqual(summary.byNode.map((n) => n.node).sort(), ['a', 'b']);
});
