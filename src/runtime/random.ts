/**
 * Seeded random numbers that are identical on every machine and Node version: only 32-bit integer arithmetic
 * (Math.imul, shifts) and exact double additions, no Math.random and no transcendental functions (whose last bits
 * are a property of the platform's math library). Inputs generated from a seed are therefore the same bytes
 * wherever a comparison is rerun.
 */

/** sfc32 (Chris Doty-Humphrey's small fast counting generator): 128 bits of state, passes PractRand to 2^40+. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = 0x9e3779b9 ^ stream;
    this.b = seed >>> 0;
    this.c = Math.floor(seed / 2 ** 32) >>> 0;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.nextUint32(); // mix the seed into all of the state
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), a multiple of 2^-24 (exact in float32). */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** An integer uniform in [0, n), n ≤ 2^32 (the modulo bias is below 2^-16 for the ranges used here). */
  below(n: number): number {
    return this.nextUint32() % n;
  }

  /**
   * Approximately N(0, 1): the sum of 12 uniforms minus 6 (Irwin–Hall). Mean 0, variance 1, bounded by ±6. Every
   * term is a multiple of 2^-24 and the sum needs 28 bits, so the double result is exact: no rounding anywhere.
   */
  normal(): number {
    let s = 0;
    for (let i = 0; i < 12; i++) s += this.uniform();
    return s - 6;
  }
}

/** FNV-1a of a string: a stream id per input name, so one input's values do not depend on the others. */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
