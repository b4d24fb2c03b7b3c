/**
 * Deterministic synthetic weight values, fast enough to fill 10 GB in seconds. Floats are copied in 4 KiB
 * segments from a pool of 2^20 normal values (built once, by Box–Muller), each segment starting at a place a
 * xorshift32 generator picks: one generator step and one memcpy per segment, instead of a random number per
 * element (six times faster in V8 than one table lookup per element). Integers take one generator step each.
 * Values are produced as bytes, so a tensor may be filled in pieces of any size at any alignment.
 * Each tensor gets its own generator, seeded from the user's seed and the tensor's name, so its values do not
 * depend on the order tensors are written or on chunk sizes.
 */
import { SdxlOptError } from './errors.js';
import { DataType, dataTypeName } from './onnx/dtype.js';

/** 'weight': normal, mean 0, std 0.02. 'scale': a norm layer's scale, normal around 1 (std 0.02). */
export type WeightRole = 'weight' | 'scale';

export const WEIGHT_STD = 0.02;
const POOL_SIZE = 1 << 20;
const SEGMENT_BYTES = 4096;

/** A 32-bit seed for one tensor: FNV-1a over the name, mixed with the user's seed. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0 || 0x6d2b79f5; // xorshift must not start at 0
}

/** One xorshift32 step; the state stays a 32-bit integer. */
function step(x: number): number {
  x = (x ^ (x << 13)) | 0;
  x = (x ^ (x >>> 17)) | 0;
  return (x ^ (x << 5)) | 0;
}

let standardNormals: Float64Array | undefined;

/** 2^20 standard normal values, standardized to mean 0 and std 1 exactly (built once, by Box–Muller). */
function standardNormalPool(): Float64Array {
  if (standardNormals) return standardNormals;
  const pool = new Float64Array(POOL_SIZE);
  let x = 0x2545f491;
  const uniform = () => {
    x = step(x);
    return ((x >>> 0) + 0.5) / 2 ** 32; // in (0, 1): log never sees 0
  };
  for (let i = 0; i < POOL_SIZE; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    pool[i] = r * Math.cos(theta);
    pool[i + 1] = r * Math.sin(theta);
  }
  let mean = 0;
  for (const v of pool) mean += v / POOL_SIZE;
  let variance = 0;
  for (const v of pool) variance += (v - mean) ** 2 / POOL_SIZE;
  const std = Math.sqrt(variance);
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = (pool[i]! - mean) / std;
  standardNormals = pool;
  return pool;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** IEEE half-precision bits of `v`, rounded to nearest even (subnormals included). */
export function float16Bits(v: number): number {
  scratch[0] = v;
  const x = scratchBits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - exp;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is still right
  return half;
}

/** bfloat16 bits of `v` (the top half of its float32 bits), rounded to nearest even. */
export function bfloat16Bits(v: number): number {
  scratch[0] = v;
  const x = scratchBits[0]!;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

type PoolKind = 'f32' | 'f64' | 'f16' | 'bf16';

/** A pool's values as little-endian bytes, and its element size. */
interface Pool {
  bytes: Uint8Array;
  elementBytes: number;
}

const pools = new Map<string, Pool>();

/** The pool of values for a role in one storage format, made on first use. */
function poolFor(kind: PoolKind, role: WeightRole): Pool {
  const key = `${kind}:${role}`;
  let pool = pools.get(key);
  if (!pool) {
    const mean = role === 'scale' ? 1 : 0;
    const values = standardNormalPool().map((z) => mean + WEIGHT_STD * z);
    const typed = kind === 'f64' ? values : kind === 'f32' ? Float32Array.from(values) : Uint16Array.from(values, kind === 'f16' ? float16Bits : bfloat16Bits);
    pool = { bytes: new Uint8Array(typed.buffer), elementBytes: typed.BYTES_PER_ELEMENT };
    pools.set(key, pool);
  }
  return pool;
}

const FLOAT_POOLS: Partial<Record<DataType, PoolKind>> = {
  [DataType.FLOAT]: 'f32',
  [DataType.COMPLEX64]: 'f32',
  [DataType.DOUBLE]: 'f64',
  [DataType.COMPLEX128]: 'f64',
  [DataType.FLOAT16]: 'f16',
  [DataType.BFLOAT16]: 'bf16',
};

/** Integer types: bytes per element, and a mask over a random byte (sub-byte types pack several values a byte). */
const INTEGER_TYPES: Partial<Record<DataType, { elementBytes: 1 | 2 | 4 | 8; mask: number }>> = {
  [DataType.BOOL]: { elementBytes: 1, mask: 1 },
  [DataType.INT8]: { elementBytes: 1, mask: 7 },
  [DataType.UINT8]: { elementBytes: 1, mask: 7 },
  [DataType.INT16]: { elementBytes: 2, mask: 7 },
  [DataType.UINT16]: { elementBytes: 2, mask: 7 },
  [DataType.INT32]: { elementBytes: 4, mask: 7 },
  [DataType.UINT32]: { elementBytes: 4, mask: 7 },
  [DataType.INT64]: { elementBytes: 8, mask: 7 },
  [DataType.UINT64]: { elementBytes: 8, mask: 7 },
  [DataType.INT4]: { elementBytes: 1, mask: 0x77 }, // two 4-bit values 0..7 a byte
  [DataType.UINT4]: { elementBytes: 1, mask: 0x77 },
  [DataType.INT2]: { elementBytes: 1, mask: 0x55 }, // four 2-bit values 0..1 a byte
  [DataType.UINT2]: { elementBytes: 1, mask: 0x55 },
};

/** Throws UNSUPPORTED for a dtype with no synthetic values (float8, float4, float6, strings). */
export function checkSynthesizable(dtype: DataType, where?: string): void {
  if (FLOAT_POOLS[dtype] === undefined && INTEGER_TYPES[dtype] === undefined) {
    throw new SdxlOptError('UNSUPPORTED', `cannot synthesize ${dataTypeName(dtype)} weights`, {
      where,
      hint: 'synthetic weights exist for float, float16, bfloat16, double, complex, bool and integer tensors',
    });
  }
}

/** The values of one tensor, produced in consecutive chunks. */
export class ValueStream {
  private state: number;
  private readonly pool: Pool | undefined;
  /** Byte offset in the pool of the next value of the current segment, and how many of its bytes are left. */
  private at = 0;
  private left = 0;
  /** For integers: the position in its element of the next byte. */
  private byteInElement = 0;

  constructor(
    readonly dtype: DataType,
    readonly role: WeightRole,
    seed: number,
    where?: string,
  ) {
    checkSynthesizable(dtype, where);
    this.state = seed >>> 0 || 0x6d2b79f5;
    const kind = FLOAT_POOLS[dtype];
    this.pool = kind && poolFor(kind, role);
  }

  /** Fills `out` with the next bytes of the tensor: any length, any alignment (a value may straddle two calls). */
  fill(out: Uint8Array): void {
    if (this.pool) this.fillFromPool(out, this.pool);
    else this.fillIntegers(out);
  }

  private fillFromPool(out: Uint8Array, pool: Pool): void {
    const starts = POOL_SIZE - SEGMENT_BYTES / pool.elementBytes; // starts that leave room for a whole segment
    for (let i = 0; i < out.byteLength; ) {
      if (this.left === 0) {
        this.state = step(this.state);
        this.at = Math.floor(((this.state >>> 0) / 2 ** 32) * starts) * pool.elementBytes;
        this.left = SEGMENT_BYTES;
      }
      const n = Math.min(this.left, out.byteLength - i);
      out.set(pool.bytes.subarray(this.at, this.at + n), i);
      i += n;
      this.at += n;
      this.left -= n;
    }
  }

  /** Small non-negative integers (0..7, valid for every integer type), written byte by byte so `out` may start
   *  anywhere: each element's first (least significant) byte gets the value, its other bytes 0. */
  private fillIntegers(out: Uint8Array): void {
    const { elementBytes, mask } = INTEGER_TYPES[this.dtype]!;
    let x = this.state;
    let k = this.byteInElement;
    for (let i = 0; i < out.byteLength; i++) {
      if (k === 0) {
        x = step(x);
        out[i] = (x >>> 24) & mask;
      } else {
        out[i] = 0;
      }
      k = k + 1 === elementBytes ? 0 : k + 1;
    }
    this.state = x;
    this.byteInElement = k;
  }
}
