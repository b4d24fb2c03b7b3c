import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { definePass } from '../src/engine/pass.js';
import { runPasses, type RunnerEvent, type StepReport } from '../src/engine/runner.js';
import { graphStats } from '../src/engine/stats.js';
import { SdxlOptError } from '../src/errors.js';
import { checkGraph } from '../src/ir/check.js';
import { PASS_STAMP_KEY } from '../src/ir/node.js';
import { DataType } from '../src/onnx/dtype.js';
import { breakGraph, chainModel, composite, insertIdentity, noop, throwingPass } from './helpers/engine-fixtures.js';

describe('checkGraph', () => {
  test('a healthy graph has no problems', () => {
    assert.deepEqual(checkGraph(chainModel().graph), []);
  });

  test('finds a dangling input', () => {
    const { graph } = chainModel();
    graph.remove(graph.firstNode!, { safe: false });
    const problems = checkGraph(graph);
    assert.ok(problems.some((p) => /input 0 of node 'neg' \(Neg\) reads 'relu_output_0'.*dangling/.test(p)), problems.join('\n'));
  });

  test('finds nodes out of topological order', () => {
    const { graph } = chainModel();
    const neg = graph.nodes()[1]!;
    graph.remove(neg, { safe: false });
    graph.insertBefore(graph.firstNode, neg);
    const problems = checkGraph(graph);
    assert.ok(problems.some((p) => /before its producer node 'relu'.*topological/.test(p)), problems.join('\n'));
  });

  test('finds duplicate node names', () => {
    const { graph } = chainModel();
    graph.nodes()[1]!.name = 'relu';
    assert.ok(checkGraph(graph).some((p) => p.includes("node name 'relu' is used by two nodes")));
  });

  test('finds a graph output nothing produces', () => {
    const { graph } = chainModel();
    const orphan = graph.createValue('orphan', { dtype: DataType.FLOAT });
    graph.outputs.push(orphan);
    assert.ok(checkGraph(graph).some((p) => p.includes("graph output 'orphan' is not produced")));
  });

  test('finds use lists out of sync with node inputs', () => {
    const { graph } = chainModel();
    const x = graph.value('x')!;
    x._addUse(graph.nodes()[1]!, 0); // Neg does not read x
    const problems = checkGraph(graph);
    assert.ok(problems.some((p) => p.includes("the use list of 'x' says node 'neg' (Neg) reads it at slot 0, but it does not")), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes("the use list of 'x' has 2 uses, but 1 node inputs read it")), problems.join('\n'));
  });

  test('finds two values with one name', () => {
    const { graph } = chainModel();
    graph.nodes()[0]!.output()._setName('x');
    assert.ok(checkGraph(graph).some((p) => p.includes("value name 'x' is used by two values")));
  });
});

describe('runPasses', () => {
  test('stamps nodes a pass created with the pass name, and only those', async () => {
    const model = chainModel();
    const { steps } = await runPasses(model, [{ pass: insertIdentity }]);
    const stamps = model.graph.nodes().map((n) => [n.opType, n.metadata(PASS_STAMP_KEY)]);
    assert.deepEqual(stamps, [
      ['Relu', undefined],
      ['Identity', 'insert-identity'],
      ['Neg', undefined],
    ]);
    assert.equal(steps.length, 1);
    const r = steps[0]!;
    assert.equal(r.changed, true);
    assert.deepEqual(r.counts, { inserted: 1 });
    assert.deepEqual(r.nodes, { before: 2, after: 3, created: 1, removed: 0 });
    assert.ok(r.wallMs >= 0 && r.peakRssDeltaBytes >= 0);
  });

  test('a pass that breaks the graph is caught and named, with the passes before it', async () => {
    const model = chainModel();
    await assert.rejects(
      runPasses(model, [{ pass: insertIdentity }, { pass: noop }, { pass: breakGraph, where: 'recipe.yaml:5:5' }]),
      (e: unknown) => {
        assert.ok(e instanceof SdxlOptError);
        assert.equal(e.code, 'PASS_FAILED');
        assert.match(e.message, /^pass 'break-graph' broke the graph: .*dangling/);
        assert.equal(e.where, 'recipe.yaml:5:5');
        assert.match(e.hint!, /passes run before it: insert-identity, noop/);
        return true;
      },
    );
  });

  test('a pass that throws is reported as that pass failing', async () => {
    await assert.rejects(runPasses(chainModel(), [{ pass: throwingPass }]), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.equal(e.code, 'PASS_FAILED');
      assert.match(e.message, /pass 'throwing-pass' failed: cannot read properties of undefined/);
      assert.match(e.hint!, /it was the first pass to run/);
      return true;
    });
  });

  test('user-facing errors from a pass keep their code', async () => {
    const unsupported = definePass({
      name: 'needs-cuda',
      description: 'test',
      params: {},
      run() {
        throw new SdxlOptError('UNSUPPORTED', 'this model has no attention', { hint: 'drop the pass' });
      },
    });
    await assert.rejects(runPasses(chainModel(), [{ pass: unsupported }]), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.equal(e.code, 'UNSUPPORTED');
      assert.equal(e.message, "pass 'needs-cuda': this model has no attention");
      return true;
    });
    const wrapper = definePass({ name: 'wrapper', description: 'test', params: {}, run: (ctx) => ctx.runPass!(unsupported) });
    await assert.rejects(runPasses(chainModel(), [{ pass: wrapper }]), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.equal(e.message, "pass 'wrapper > needs-cuda': this model has no attention", 'named once, by its full place');
      return true;
    });
  });

  test('type-check problems a pass introduces fail it; ones already in the input do not', async () => {
    let calls = 0;
    const checkTypes = (): string[] => (calls++ === 0 ? ['input problem'] : ['input problem', 'new problem']);
    await assert.rejects(runPasses(chainModel(), [{ pass: noop }], { checkTypes }), /pass 'noop' broke the graph: new problem/);
    const result = await runPasses(chainModel(), [{ pass: noop }], { checkTypes: () => ['input problem'] });
    assert.deepEqual(result.inputProblems, ['input problem']);
  });

  test('a composite pass runs its parts through the engine: stamped, nested, checked', async () => {
    const model = chainModel();
    const events: RunnerEvent[] = [];
    const { steps } = await runPasses(model, [{ pass: composite }], { onEvent: (e) => events.push(e) });
    const identity = model.graph.nodes().find((n) => n.is('Identity'))!;
    assert.equal(identity.metadata(PASS_STAMP_KEY), 'insert-identity');
    const r = steps[0]!;
    assert.equal(r.pass, 'composite');
    assert.deepEqual(
      r.steps!.map((s: StepReport) => [s.pass, s.changed, s.reasons]),
      [
        ['insert-identity', true, undefined],
        ['noop', false, ['inner']],
      ],
    );
    assert.deepEqual(r.nodes, { before: 2, after: 3, created: 1, removed: 0 });
    const ends = events.filter((e) => e.kind === 'pass-end').map((e) => (e.kind === 'pass-end' ? `${e.depth}:${e.report.pass}` : ''));
    assert.deepEqual(ends, ['1:insert-identity', '1:noop', '0:composite']);
  });

  test('type checks run after each top-level step, not after each part of a composite', async () => {
    let calls = 0;
    await runPasses(chainModel(), [{ pass: composite }, { pass: noop }], { checkTypes: () => (calls++, []) });
    assert.equal(calls, 3, 'once for the input, once after composite, once after noop');
  });

  test('a broken part of a composite pass is named with its parent', async () => {
    const bad = definePass({
      name: 'bad-composite',
      description: 'test',
      params: {},
      async run(ctx) {
        await ctx.runPass!(insertIdentity);
        await ctx.runPass!(breakGraph);
        return { changed: true, counts: {}, summary: '' };
      },
    });
    await assert.rejects(runPasses(chainModel(), [{ pass: bad }]), (e: unknown) => {
      assert.ok(e instanceof SdxlOptError);
      assert.match(e.message, /^pass 'bad-composite > break-graph' broke the graph/);
      assert.match(e.hint!, /passes run before it: bad-composite > insert-identity/);
      return true;
    });
  });

  test('a disabled step is reported as skipped and not run', async () => {
    const model = chainModel();
    const { steps } = await runPasses(model, [{ pass: insertIdentity, enabled: false }]);
    assert.equal(model.graph.nodeCount, 2);
    assert.equal(steps[0]!.skipped, true);
  });

  test('params are the defaults overridden by the step, and reasons are kept', async () => {
    const { steps } = await runPasses(chainModel(), [{ pass: noop }, { pass: noop, params: { reason: 'because' } }]);
    assert.deepEqual(steps.map((s) => [s.params, s.reasons]), [
      [{ reason: 'nothing to do' }, ['nothing to do']],
      [{ reason: 'because' }, ['because']],
    ]);
  });

  test('warns when a pass runs without the pass it expects before it', async () => {
    const late = definePass({ name: 'late', description: 'test', params: {}, after: ['insert-identity'], run: () => ({ changed: false, counts: {}, summary: '' }) });
    const { steps } = await runPasses(chainModel(), [{ pass: late }, { pass: insertIdentity }, { pass: late }]);
    assert.deepEqual(steps[0]!.warnings, ["pass 'late' expects 'insert-identity' to have run before it; it did not"]);
    assert.deepEqual(steps[2]!.warnings, []);
  });

  test('measures the peak memory a pass adds', async () => {
    const hog = definePass({
      name: 'hog',
      description: 'test',
      params: {},
      async run() {
        const block = Buffer.alloc(32 * 1024 * 1024, 1);
        await new Promise((r) => setTimeout(r, 80));
        return { changed: false, counts: { bytes: block.byteLength }, summary: '' };
      },
    });
    const { steps } = await runPasses(chainModel(), [{ pass: hog }]);
    assert.ok(steps[0]!.peakRssDeltaBytes > 16 * 1024 * 1024, `peak RSS delta ${steps[0]!.peakRssDeltaBytes}`);
  });

  test('graphStats counts op types and initializer bytes by type', () => {
    const stats = graphStats(chainModel().graph);
    assert.deepEqual(stats.opTypes, { Neg: 1, Relu: 1 });
    assert.equal(stats.nodes, 2);
    assert.deepEqual(stats.inputs, [{ name: 'x', dtype: 'float', shape: [2, 3] }]);
  });
});
