/** float32 → float16 / bfloat16 conversion against a reference computed another way (double arithmetic). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bfloat16NarrowingOf,
  bfloat16ToNumber,
  float16NarrowingOf,
  float16ToNumber,
  float32ToBfloat16,
  float32ToFloat16,
  type NarrowingStats,
} from '../../src/numeric/float-convert.js';

const f32 = new Float32Array(1);
const bits32 = new Int32Array(f32.buffer);
const fromBits = (b: number) => {
  bits32[0] = b;
  return f32[0]!;
};
const toBits = (x: number) => {
  f32[0] = x;
  return bits32[0]!;
};

/**
 * The reference: round |x| to a multiple of the narrow type's spacing at its exponent, ties to even, in double
 * arithmetic (exact for float32 inputs), then assemble the bits. `mantissaBits` 10 (float16) or 7 (bfloat16),
 * `minExp` the smallest normal exponent, `maxFinite` the largest finite value.
 */
function reference(x: number, mantissaBits: number, minExp: number, expBias: number, maxFinite: number, infBits: number, clamp: boolean): number {
  const sign = x < 0 || Object.is(x, -0) ? 1 << (mantissaBits + (infBits === 0x7c00 ? 5 : 8)) : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return -1; // checked separately: any NaN
  if (a === Infinity) return sign | infBits;
  const e = Math.max(Math.floor(Math.log2(a || 1)), minExp);
  // log2 can be off by one at exact powers near boundaries: fix it up.
  let exp = e;
  while (exp > minExp && a < 2 ** exp) exp--;
  while (a >= 2 ** (exp + 1)) exp++;
  const spacing = 2 ** (exp - mantissaBits);
  let q = a / spacing;
  const floor = Math.floor(q);
  const rest = q - floor;
  q = rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  const value = q * spacing;
  if (value > maxFinite) return clamp ? reference(Math.sign(x) * maxFinite, mantissaBits, minExp, expBias, maxFinite, infBits, clamp) : sign | infBits;
  if (value === 0) return sign;
  const normal = value >= 2 ** minExp;
  const e2 = normal ? Math.floor(Math.log2(value)) : minExp - 1;
  let biased = normal ? e2 + expBias : 0;
  let mant = normal ? value / 2 ** e2 - 1 : value / 2 ** minExp;
  if (mant >= 1) {
    biased++;
    mant = 0;
  }
  return sign | (biased << mantissaBits) | Math.round(mant * 2 ** mantissaBits);
}

const refHalf = (x: number) => reference(x, 10, -14, 15, 65504, 0x7c00, true);
const refBf16 = (x: number) => reference(x, 7, -126, 127, 3.3895313892515355e38, 0x7f80, true);

function convert(values: number[], to: 'half' | 'bf16', stats?: NarrowingStats): Uint16Array {
  const src = Int32Array.from(values, (v) => toBits(v));
  const out = new Uint16Array(src.length);
  (to === 'half' ? float32ToFloat16 : float32ToBfloat16)(src, out, stats);
  return out;
}

const EDGES = [
  0, -0, 1, -1, 0.5, 2, 3, 1e-8, -1e-8, 0.1, 1 / 3, Math.PI, 65504, -65504, 65519.99, 65520, 65536, 1e5, -7e4, 1e10, 3.4028234663852886e38,
  -3.4028234663852886e38, 3.3895313892515355e38, 3.3961e38, 2 ** -14, 2 ** -14 * (1 - 2 ** -11), 2 ** -24, 2 ** -25, 2 ** -25 * (1 + 2 ** -23),
  2 ** -26, 3 * 2 ** -26, 2 ** -24 * 1.5, 2 ** -24 * 2.5, 2 ** -126, 2 ** -133, 2 ** -134, 2 ** -134 * (1 + 2 ** -10), 2 ** -149, -(2 ** -149),
  // ties: exactly between two float16s (1 + 2^-11 → 1, 1 + 3·2^-11 → 1 + 2^-9) and two bfloat16s
  1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 2048 + 1, 2048 + 3, 256 + 1, 256 + 3, Infinity, -Infinity,
];

describe('float32 → float16', () => {
  test('edge cases match the reference: zeros, subnormals, ties to even, the largest half, overflow clamping, Infinity', () => {
    const got = convert(EDGES, 'half');
    EDGES.forEach((x, i) => {
      const want = refHalf(Math.fround(x));
      assert.equal(got[i], want, `${x}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
    });
  });

  test('specific values: ties go to even, overflow clamps to ±65504, 2^-25 flushes, just above it rounds up', () => {
    const [tieDown, tieUp, clamp, negClamp, flush, up, inf] = convert([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e5, -7e4, 2 ** -25, 2 ** -25 * (1 + 2 ** -23), Infinity], 'half');
    assert.equal(float16ToNumber(tieDown!), 1);
    assert.equal(float16ToNumber(tieUp!), 1 + 2 ** -9);
    assert.equal(float16ToNumber(clamp!), 65504);
    assert.equal(float16ToNumber(negClamp!), -65504);
    assert.equal(flush, 0);
    assert.equal(float16ToNumber(up!), 2 ** -24);
    assert.equal(inf, 0x7c00);
  });

  test('NaN stays NaN, also when its payload is only in the low bits', () => {
    const nans = [0x7fc00000, 0x7f800001, 0xff800001 | 0, 0x7fbfffff];
    const src = Int32Array.from(nans);
    const out = new Uint16Array(src.length);
    float32ToFloat16(src, out);
    for (const h of out) assert.ok(Number.isNaN(float16ToNumber(h)), `0x${h.toString(16)} should be NaN`);
  });

  test('200,000 patterns across every exponent match the reference', () => {
    const values: number[] = [];
    for (let i = 0; i < 200_000; i++) values.push(fromBits(Math.imul(i, 0x9e3779b1) ^ (i << 7)));
    const finite = values.filter((v) => !Number.isNaN(v));
    const got = convert(finite, 'half');
    let mismatches = 0;
    finite.forEach((x, i) => {
      if (got[i] !== refHalf(x)) mismatches++;
    });
    assert.equal(mismatches, 0);
  });

  test('stats count clamped and flushed values, the same as the scan-only count', () => {
    const values = [1e5, -1e6, 65504, 65520, 2 ** -25, -(2 ** -30), 2 ** -24, 0, Infinity, 1];
    const stats = { clamped: 0, flushed: 0 };
    convert(values, 'half', stats);
    assert.deepEqual(stats, { clamped: 3, flushed: 2 });
    const scan = { clamped: 0, flushed: 0 };
    float16NarrowingOf(Int32Array.from(values, toBits), scan);
    assert.deepEqual(scan, stats);
  });
});

describe('float32 → bfloat16', () => {
  test('edge cases match the reference: round to nearest even on the bit pattern, clamping past the largest finite', () => {
    const got = convert(EDGES, 'bf16');
    EDGES.forEach((x, i) => {
      const want = refBf16(Math.fround(x));
      assert.equal(got[i], want, `${x}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
    });
  });

  test('ties go to even; float32 max clamps instead of becoming Infinity; NaN stays NaN', () => {
    const [tieDown, tieUp, max] = convert([1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4028234663852886e38], 'bf16');
    assert.equal(bfloat16ToNumber(tieDown!), 1);
    assert.equal(bfloat16ToNumber(tieUp!), 1 + 2 ** -6);
    assert.equal(max, 0x7f7f);
    const out = new Uint16Array(2);
    float32ToBfloat16(Int32Array.from([0x7f800001, 0x7fc00000]), out);
    for (const b of out) assert.ok(Number.isNaN(bfloat16ToNumber(b)));
  });

  test('200,000 patterns across every exponent match the reference', () => {
    const values: number[] = [];
    for (let i = 0; i < 200_000; i++) values.push(fromBits(Math.imul(i, 0x85ebca6b) ^ (i << 11)));
    const finite = values.filter((v) => !Number.isNaN(v));
    const got = convert(finite, 'bf16');
    let mismatches = 0;
    finite.forEach((x, i) => {
      if (got[i] !== refBf16(x)) mismatches++;
    });
    assert.equal(mismatches, 0);
  });

  test('stats: the scan-only count agrees with the converter', () => {
    const values = [3.4028234663852886e38, -3.4e38, 2 ** -134, 2 ** -149, 1, 0];
    const stats = { clamped: 0, flushed: 0 };
    convert(values, 'bf16', stats);
    const scan = { clamped: 0, flushed: 0 };
    bfloat16NarrowingOf(Int32Array.from(values, toBits), scan);
    assert.deepEqual(stats, { clamped: 2, flushed: 2 });
    assert.deepEqual(scan, stats);
  });
});
