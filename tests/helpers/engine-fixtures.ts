/** Small graphs, test passes and temporary folders for the engine, recipe and apply tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { definePass, runSubPass, type PassDefinition } from '../../src/engine/pass.js';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import { DataType } from '../../src/onnx/dtype.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const fixture = (name: string): string => path.join(REPO, 'fixtures', name);

export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-engine-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** x [2, 3] → Relu → Neg → y: two nodes, all in order. */
export function chainModel(): Model {
  const graph = new Graph('chain');
  const x = graph.createValue('x', { dtype: DataType.FLOAT, shape: [2, 3] });
  graph.inputs.push(x);
  const relu = graph.append(graph.createNode({ opType: 'Relu', name: 'relu', inputs: [x] }));
  const neg = graph.append(graph.createNode({ opType: 'Neg', name: 'neg', inputs: [relu.output()], outputs: ['y'] }));
  neg.output().type = { dtype: DataType.FLOAT, shape: [2, 3] };
  graph.outputs.push(neg.output());
  return new Model(graph, 8, new Map([['', 17]]));
}

/** Inserts an Identity in front of every Neg and Conv. */
export const insertIdentity = definePass({
  name: 'insert-identity',
  description: 'Puts an Identity in front of every Neg and Conv (a test pass).',
  params: {},
  run(ctx) {
    let inserted = 0;
    for (const node of ctx.graph) {
      if (!node.is('Neg') && !node.is('Conv')) continue;
      const id = ctx.graph.createNode({ opType: 'Identity', name: 'id', inputs: [node.input(0)] });
      ctx.graph.insertBefore(node, id);
      node.replaceInput(0, id.output());
      inserted++;
    }
    return { changed: inserted > 0, counts: { inserted }, summary: `inserted ${inserted} Identity nodes` };
  },
});

/** Removes the first node without checks, leaving its readers dangling. */
export const breakGraph = definePass({
  name: 'break-graph',
  description: 'Removes the first node unsafely (a test pass).',
  params: {},
  run(ctx) {
    ctx.graph.remove(ctx.graph.firstNode!, { safe: false });
    return { changed: true, counts: { removed: 1 }, summary: 'removed the first node' };
  },
});

export const throwingPass = definePass({
  name: 'throwing-pass',
  description: 'Throws (a test pass).',
  params: {},
  run() {
    throw new TypeError('cannot read properties of undefined');
  },
});

export const noop = definePass({
  name: 'noop',
  description: 'Changes nothing (a test pass).',
  params: { reason: { type: 'string', description: 'what to give as the reason', default: 'nothing to do' } },
  run(_ctx, params) {
    return { changed: false, counts: {}, summary: 'nothing changed', reasons: [params.reason] };
  },
});

/** A composite pass, as `cleanup` is: runs insert-identity, then noop. */
export const composite = definePass({
  name: 'composite',
  description: 'Runs insert-identity then noop (a test pass).',
  params: {},
  async run(ctx) {
    const a = await runSubPass(ctx, insertIdentity);
    const b = await runSubPass(ctx, noop, { reason: 'inner' });
    return { changed: a.changed || b.changed, counts: { parts: 2 }, summary: 'ran 2 parts' };
  },
});

/** A pass with params of every kind, for recipe checks. */
export const cast = definePass({
  name: 'cast',
  description: 'Pretends to cast weights (a test pass).',
  params: {
    to: { type: 'string', description: 'target type', enum: ['float16', 'bfloat16'], default: 'float16' },
    keep_io: { type: 'boolean', description: 'keep inputs and outputs in float32', default: true },
    block_size: { type: 'integer', description: 'elements per block', minimum: 1, maximum: 4096, default: 32 },
    skip_ops: { type: 'array', description: 'op types left alone', items: { type: 'string' }, default: [] as string[] },
  },
  run() {
    return { changed: false, counts: {}, summary: 'nothing to cast' };
  },
});

/** Stands in for the cleanup pass until it lands, so recipes can say `cleanup`. */
export const fakeCleanup = definePass({
  name: 'cleanup',
  description: 'Stand-in for cleanup (a test pass).',
  params: {},
  run() {
    return { changed: false, counts: {}, summary: 'nothing to clean' };
  },
});

export const TEST_REGISTRY: readonly PassDefinition<any>[] = [insertIdentity, breakGraph, throwingPass, noop, composite, cast, fakeCleanup];
