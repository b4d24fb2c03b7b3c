import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareOutput, metrics, toleranceFailures } from '../src/runtime/compare.js';

test('metrics: identical arrays have cosine 1 and no error', () => {
  const a = Float32Array.from([0.5, -1.25, 3, 1e-3, 7]);
  assert.deepEqual(metrics(a, a), { cosine: 1, relL2: 0, maxAbs: 0, nonFinite: { reference: 0, candidate: 0 } });
});

test('metrics: known values on hand-made arrays', () => {
  const m = metrics([3, 4], [3, 4.5]);
  assert.equal(m.relL2, 0.1); // ‖(0, 0.5)‖ / ‖(3, 4)‖ = 0.5 / 5
  assert.equal(m.maxAbs, 0.5);
  assert.ok(Math.abs(m.cosine - 27 / (5 * Math.sqrt(29.25))) < 1e-15);
  assert.equal(metrics([1, 2], [-1, -2]).cosine, -1);
  assert.equal(metrics([1, 0], [0, 1]).cosine, 0);
  assert.equal(metrics([1, 2], [2, 4]).relL2, 1); // twice the reference: cosine 1 but relL2 catches it
  assert.equal(metrics([0, 0], [0, 0]).cosine, 1);
  assert.equal(metrics([0, 0], [0, 1]).relL2, Infinity);
});

test('metrics: non-finite values are counted and left out of the sums', () => {
  const m = metrics([1, 2, NaN, 4], [1, Infinity, 3, 4]);
  assert.deepEqual(m.nonFinite, { reference: 1, candidate: 1 });
  assert.equal(m.cosine, 1);
  assert.equal(m.maxAbs, 0);
});

test('tolerance: cosine by default, relL2 and maxAbs when asked, any non-finite value on either side fails', () => {
  const m = metrics([3, 4], [3, 4.5]);
  assert.deepEqual(toleranceFailures('y', m, {}), ['y: cosine 0.998460 is below 0.999'], 'the default is cosine 0.999');
  assert.deepEqual(toleranceFailures('y', m, { cosine: 0.998 }), []);
  assert.equal(toleranceFailures('y', m, { cosine: 0.998, relL2: 0.05, maxAbs: 0.1 }).length, 2);
  assert.deepEqual(toleranceFailures('y', m, { cosine: 0.998, relL2: 0.1, maxAbs: 0.5 }), []);
  const nan = metrics([1, 2, 3], [1, 2, NaN]);
  assert.match(toleranceFailures('y', nan, {})[0]!, /1 non-finite values/);
  const nanReference = metrics([1, NaN, 3], [1, 2, 3]);
  assert.deepEqual(toleranceFailures('y', nanReference, {}), ['y: 1 non-finite values (NaN or ±Infinity) in the reference: its outputs cannot be compared against']);
});

test('compareOutput: a shape mismatch fails without metrics', () => {
  const c = compareOutput('y', { dims: [2, 2], values: [1, 2, 3, 4] }, { dtype: 'float32', dims: [4], values: [1, 2, 3, 4] }, {});
  assert.equal(c.passed, false);
  assert.match(c.failures[0]!, /shape \[4\] differs from the reference's \[2, 2\]/);
  assert.ok(Number.isNaN(c.cosine));
});
