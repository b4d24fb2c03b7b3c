/**
 * float32 → float16 and float32 → bfloat16 on bit patterns, fast enough to convert a 10 GB UNet while it streams
 * to disk. Both round to nearest, ties to even. float16 rounds into its subnormals, and finite values past its range
 * clamp to ±65504 instead of becoming ±Infinity (a weight of 70000 is better served by 65504 than by Infinity);
 * ±Infinity and NaN stay what they are. bfloat16 has float32's exponent range, so only the few finite values that
 * round past its largest (3.3895e38) clamp.
 *
 * Both work on the bit patterns with integer operations only (no Math, no float arithmetic per element), with the
 * common case inline and everything rare (subnormals, zeros, overflow, Infinity, NaN) in a function of its own.
 */

export const FLOAT16_MAX = 65504;
/** The largest finite bfloat16, 0x7f7f. */
export const BFLOAT16_MAX = 3.3895313892515355e38;

/** What converting a tensor did to values that float16 cannot hold. */
export interface NarrowingStats {
  /** Finite values whose magnitude rounds past the largest finite result: clamped to it. */
  clamped: number;
  /** Non-zero finite values that round to zero. */
  flushed: number;
}

// ---- float32 → float16 ----------------------------------------------------------------------------------------

/** Results are stored in pairs as little-endian 32-bit words; a big-endian machine takes the one-by-one path. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Everything off the common path: subnormal halves, zeros, values past 65504, Infinity and NaN. `a` is the
 * magnitude's bit pattern; the sign is added by the caller.
 */
function float16Rare(a: number, stats: NarrowingStats | undefined): number {
  if (a < 0x38800000) {
    // Below 2^-14: a subnormal half, in units of 2^-24. Up to 2^-25 (0x33000000; a tie goes to the even zero)
    // it rounds to zero.
    if (a <= 0x33000000) {
      if (a !== 0 && stats) stats.flushed++;
      return 0;
    }
    const shift = 126 - (a >>> 23);
    const m = (a & 0x7fffff) | 0x800000;
    return (m + (1 << (shift - 1)) - 1 + ((m >>> shift) & 1)) >>> shift;
  }
  if (a < 0x7f800000) {
    if (stats) stats.clamped++;
    return 0x7bff;
  }
  if (a === 0x7f800000) return 0x7c00;
  return 0x7e00 | ((a >>> 13) & 0x3ff); // NaN stays NaN (quiet), keeping what payload fits
}

/**
 * Converts `source` (float32 bit patterns, as int32) into `target` (float16 bit patterns). Counts clamped and
 * flushed values into `stats` when given. Normal halves, nearly every weight, take one subtraction, one rounding
 * add and one shift: rebiasing the exponent is a subtraction on the whole pattern, and adding 0xfff plus the
 * result's lowest bit before dropping 13 bits rounds to nearest even, a carry into the exponent included.
 * 0x38800000 is 2^-14, the smallest normal half; 0x477ff000 is 65520, the midpoint between 65504 and 65536, from
 * which on float16 rounding gives Infinity; one unsigned compare tests both bounds. Four values per iteration,
 * their results stored as two 32-bit words: 1.7 times the throughput of one value and one 16-bit store at a time.
 */
export function float32ToFloat16(source: Int32Array, target: Uint16Array, stats?: NarrowingStats): void {
  const n = source.length;
  let start = 0;
  if (LITTLE_ENDIAN && target.byteOffset % 4 === 0 && n >= 4) {
    const quads = n >>> 2;
    const words = new Int32Array(target.buffer, target.byteOffset, quads * 2);
    for (let i = 0, j = 0; i < quads; i++, j += 4) {
      const x0 = source[j]!;
      const x1 = source[j + 1]!;
      const x2 = source[j + 2]!;
      const x3 = source[j + 3]!;
      const a0 = x0 & 0x7fffffff;
      const a1 = x1 & 0x7fffffff;
      const a2 = x2 & 0x7fffffff;
      const a3 = x3 & 0x7fffffff;
      const h0 = (a0 - 0x38800000) >>> 0 < 0x0efff000 ? (a0 - 0x37fff001 + ((a0 >> 13) & 1)) >> 13 : float16Rare(a0, stats);
      const h1 = (a1 - 0x38800000) >>> 0 < 0x0efff000 ? (a1 - 0x37fff001 + ((a1 >> 13) & 1)) >> 13 : float16Rare(a1, stats);
      const h2 = (a2 - 0x38800000) >>> 0 < 0x0efff000 ? (a2 - 0x37fff001 + ((a2 >> 13) & 1)) >> 13 : float16Rare(a2, stats);
      const h3 = (a3 - 0x38800000) >>> 0 < 0x0efff000 ? (a3 - 0x37fff001 + ((a3 >> 13) & 1)) >> 13 : float16Rare(a3, stats);
      words[2 * i] = h0 | ((x0 >> 16) & 0x8000) | ((h1 | ((x1 >> 16) & 0x8000)) << 16);
      words[2 * i + 1] = h2 | ((x2 >> 16) & 0x8000) | ((h3 | ((x3 >> 16) & 0x8000)) << 16);
    }
    start = quads * 4;
  }
  for (let i = start; i < n; i++) {
    const x = source[i]!;
    const a = x & 0x7fffffff;
    const h = (a - 0x38800000) >>> 0 < 0x0efff000 ? (a - 0x37fff001 + ((a >> 13) & 1)) >> 13 : float16Rare(a, stats);
    target[i] = h | ((x >> 16) & 0x8000);
  }
}

/** Counts, without converting, what float32 → float16 would clamp and flush: the weight report. */
export function float16NarrowingOf(source: Int32Array, stats: NarrowingStats): void {
  let clamped = 0;
  let flushed = 0;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const a = source[i]! & 0x7fffffff;
    if (a >= 0x477ff000) {
      if (a < 0x7f800000) clamped++;
    } else if (a <= 0x33000000 && a !== 0) {
      flushed++;
    }
  }
  stats.clamped += clamped;
  stats.flushed += flushed;
}

// ---- float32 → bfloat16 ---------------------------------------------------------------------------------------

function bfloat16Rare(x: number, stats: NarrowingStats | undefined): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a > 0x7f800000) return (x >>> 16) | 0x40; // NaN stays NaN (quieted: dropping payload bits must not give Infinity)
  if (a === 0x7f800000) return sign | 0x7f80;
  if (a >= 0x7f7f8000) {
    if (stats) stats.clamped++;
    return sign | 0x7f7f;
  }
  if (a !== 0 && stats) stats.flushed++;
  return sign;
}

/**
 * Converts float32 bit patterns (as int32) into bfloat16 bit patterns: the high half, rounded to nearest even.
 * Off the common path: zeros and float32 subnormals up to 2^-134 (which round to zero), values from the midpoint
 * between the largest bfloat16 and 2^128 on (which clamp), Infinity and NaN.
 */
export function float32ToBfloat16(source: Int32Array, target: Uint16Array, stats?: NarrowingStats): void {
  const n = source.length;
  let start = 0;
  if (LITTLE_ENDIAN && target.byteOffset % 4 === 0 && n >= 4) {
    const quads = n >>> 2;
    const words = new Int32Array(target.buffer, target.byteOffset, quads * 2);
    for (let i = 0, j = 0; i < quads; i++, j += 4) {
      const x0 = source[j]!;
      const x1 = source[j + 1]!;
      const x2 = source[j + 2]!;
      const x3 = source[j + 3]!;
      const b0 = ((x0 & 0x7fffffff) - 0x8001) >>> 0 < 0x7f7effff ? (x0 + 0x7fff + ((x0 >>> 16) & 1)) >>> 16 : bfloat16Rare(x0, stats);
      const b1 = ((x1 & 0x7fffffff) - 0x8001) >>> 0 < 0x7f7effff ? (x1 + 0x7fff + ((x1 >>> 16) & 1)) >>> 16 : bfloat16Rare(x1, stats);
      const b2 = ((x2 & 0x7fffffff) - 0x8001) >>> 0 < 0x7f7effff ? (x2 + 0x7fff + ((x2 >>> 16) & 1)) >>> 16 : bfloat16Rare(x2, stats);
      const b3 = ((x3 & 0x7fffffff) - 0x8001) >>> 0 < 0x7f7effff ? (x3 + 0x7fff + ((x3 >>> 16) & 1)) >>> 16 : bfloat16Rare(x3, stats);
      words[2 * i] = b0 | (b1 << 16);
      words[2 * i + 1] = b2 | (b3 << 16);
    }
    start = quads * 4;
  }
  for (let i = start; i < n; i++) {
    const x = source[i]!;
    target[i] = ((x & 0x7fffffff) - 0x8001) >>> 0 < 0x7f7effff ? (x + 0x7fff + ((x >>> 16) & 1)) >>> 16 : bfloat16Rare(x, stats);
  }
}

/** Counts what float32 → bfloat16 would clamp and flush (only float32 subnormals up to 2^-134 flush). */
export function bfloat16NarrowingOf(source: Int32Array, stats: NarrowingStats): void {
  let clamped = 0;
  let flushed = 0;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const a = source[i]! & 0x7fffffff;
    if (a >= 0x7f7f8000) {
      if (a < 0x7f800000) clamped++;
    } else if (a <= 0x8000 && a !== 0) {
      flushed++;
    }
  }
  stats.clamped += clamped;
  stats.flushed += flushed;
}

// ---- back to float32 (for checks and the ONNX Runtime helper) ---------------------------------------------------

/** float16 bits → the number they stand for. */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** bfloat16 bits → the number they stand for. */
export function bfloat16ToNumber(b: number): number {
  scratchBits[0] = (b & 0xffff) << 16;
  return scratch[0]!;
}

export function float16ArrayToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16ToNumber(bits[i]!);
  return out;
}
