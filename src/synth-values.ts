/**
 * Deterministic synthetic weight values, fast enough to fill 10 GB in seconds: a table of 65,536 standard normal
 * values (built once) is indexed by a xorshift32 generator, one step per element, so no element pays for a
 * Box–Muller transform. Each tensor gets its own generator, seeded from the user's seed and the tensor's name, so
 * its values do not depend on the order tensors are written or on chunk sizes.
 */
import { SdxlOptError } from './errors.js';
import { DataType, dataTypeName } from './onnx/dtype.js';

/** 'weight': normal, mean 0, std 0.02. 'scale': a norm layer's scale, normal around 1 (std 0.02). */
export type WeightRole = 'weight' | 'scale';

export const WEIGHT_STD = 0.02;
const TABLE_BITS = 16;
const TABLE_SIZE = 1 << TABLE_BITS;

/** A 32-bit seed for one tensor: FNV-1a over the name, mixed with the user's seed. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0 || 0x6d2b79f5; // xorshift must not start at 0
}

let standardNormals: Float64Array | undefined;

/** 65,536 standard normal values, standardized to mean 0 and std 1 exactly (built once, by Box–Muller). */
function standardNormalTable(): Float64Array {
  if (standardNormals) return standardNormals;
  const table = new Float64Array(TABLE_SIZE);
  let x = 0x2545f491;
  const uniform = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) + 0.5) / 2 ** 32; // in (0, 1): log never sees 0
  };
  for (let i = 0; i < TABLE_SIZE; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    table[i] = r * Math.cos(theta);
    table[i + 1] = r * Math.sin(theta);
  }
  let mean = 0;
  for (const v of table) mean += v / TABLE_SIZE;
  let variance = 0;
  for (const v of table) variance += (v - mean) ** 2 / TABLE_SIZE;
  const std = Math.sqrt(variance);
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = (table[i]! - mean) / std;
  standardNormals = table;
  return table;
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

type Tables = { f64: Float64Array; f32: Float32Array; f16: Uint16Array; bf16: Uint16Array };
const tables = new Map<WeightRole, Tables>();

function tablesFor(role: WeightRole): Tables {
  let t = tables.get(role);
  if (!t) {
    const mean = role === 'scale' ? 1 : 0;
    const f64 = standardNormalTable().map((z) => mean + WEIGHT_STD * z);
    t = { f64, f32: Float32Array.from(f64), f16: Uint16Array.from(f64, float16Bits), bf16: Uint16Array.from(f64, bfloat16Bits) };
    tables.set(role, t);
  }
  return t;
}

type Filler = (out: Uint8Array, state: number) => number;

// One monomorphic loop per view type: V8 optimizes each for its one array kind (a shared, polymorphic loop ran
// several times slower). `| 0` keeps the generator's state a 32-bit integer throughout.

function fillFloat32(view: Float32Array, table: Float32Array, x: number): number {
  const n = view.length;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) | 0;
    x = (x ^ (x >>> 17)) | 0;
    x = (x ^ (x << 5)) | 0;
    view[i] = table[x >>> (32 - TABLE_BITS)]!;
  }
  return x;
}

function fillFloat64(view: Float64Array, table: Float64Array, x: number): number {
  const n = view.length;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) | 0;
    x = (x ^ (x >>> 17)) | 0;
    x = (x ^ (x << 5)) | 0;
    view[i] = table[x >>> (32 - TABLE_BITS)]!;
  }
  return x;
}

function fillUint16FromTable(view: Uint16Array, table: Uint16Array, x: number): number {
  const n = view.length;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) | 0;
    x = (x ^ (x >>> 17)) | 0;
    x = (x ^ (x << 5)) | 0;
    view[i] = table[x >>> (32 - TABLE_BITS)]!;
  }
  return x;
}

/** Small non-negative integers `(random byte) & mask` every `stride` words (the other words of a stride stay 0). */
function fillSmallInts(view: Uint8Array | Uint16Array | Uint32Array, mask: number, stride: number, x: number): number {
  view.fill(0);
  const n = view.length;
  for (let i = 0; i < n; i += stride) {
    x = (x ^ (x << 13)) | 0;
    x = (x ^ (x >>> 17)) | 0;
    x = (x ^ (x << 5)) | 0;
    view[i] = (x >>> 24) & mask;
  }
  return x;
}

const f32 = (out: Uint8Array) => new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4);
const f64 = (out: Uint8Array) => new Float64Array(out.buffer, out.byteOffset, out.byteLength / 8);
const u16 = (out: Uint8Array) => new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
const u32 = (out: Uint8Array) => new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4);

interface FillerEntry {
  elementBytes: number;
  make: (role: WeightRole) => Filler;
}

const float32Entry: FillerEntry = { elementBytes: 4, make: (role) => ((t) => (out, x) => fillFloat32(f32(out), t, x))(tablesFor(role).f32) };
const float64Entry: FillerEntry = { elementBytes: 8, make: (role) => ((t) => (out, x) => fillFloat64(f64(out), t, x))(tablesFor(role).f64) };
const halfEntry = (pick: (t: Tables) => Uint16Array): FillerEntry => ({
  elementBytes: 2,
  make: (role) => ((t) => (out, x) => fillUint16FromTable(u16(out), t, x))(pick(tablesFor(role))),
});

/** Integers 0..7 for every integer type (valid signed or not); `mask` packs sub-byte types. A 64-bit element is
 *  a little-endian pair of 32-bit words: the low word gets the value, the high word 0. */
const intEntry = (elementBytes: 1 | 2 | 4 | 8, mask = 7): FillerEntry => ({
  elementBytes,
  make: () => (out, x) => {
    if (elementBytes === 1) return fillSmallInts(out, mask, 1, x);
    if (elementBytes === 2) return fillSmallInts(u16(out), mask, 1, x);
    return fillSmallInts(u32(out), mask, elementBytes / 4, x);
  },
});

const FILLERS: Partial<Record<DataType, FillerEntry>> = {};

FILLERS[DataType.FLOAT] = float32Entry;
FILLERS[DataType.COMPLEX64] = float32Entry;
FILLERS[DataType.DOUBLE] = float64Entry;
FILLERS[DataType.COMPLEX128] = float64Entry;
FILLERS[DataType.FLOAT16] = halfEntry((t) => t.f16);
FILLERS[DataType.BFLOAT16] = halfEntry((t) => t.bf16);
FILLERS[DataType.BOOL] = intEntry(1, 1);
FILLERS[DataType.INT8] = intEntry(1);
FILLERS[DataType.UINT8] = intEntry(1);
FILLERS[DataType.INT16] = intEntry(2);
FILLERS[DataType.UINT16] = intEntry(2);
FILLERS[DataType.INT32] = intEntry(4);
FILLERS[DataType.UINT32] = intEntry(4);
FILLERS[DataType.INT64] = intEntry(8);
FILLERS[DataType.UINT64] = intEntry(8);
FILLERS[DataType.INT4] = intEntry(1, 0x77); // two 4-bit values 0..7 a byte
FILLERS[DataType.UINT4] = intEntry(1, 0x77);
FILLERS[DataType.INT2] = intEntry(1, 0x55); // four 2-bit values 0..1 a byte
FILLERS[DataType.UINT2] = intEntry(1, 0x55);

/** Bytes a chunk must be a multiple of for `dtype` (so no element straddles two chunks). */
export function elementBytesOf(dtype: DataType): number {
  return FILLERS[dtype]?.elementBytes ?? 1;
}

/** Throws UNSUPPORTED for a dtype with no synthetic values (float8, float4, float6, strings). */
export function checkSynthesizable(dtype: DataType, where?: string): void {
  if (!FILLERS[dtype]) {
    throw new SdxlOptError('UNSUPPORTED', `cannot synthesize ${dataTypeName(dtype)} weights`, {
      where,
      hint: 'synthetic weights exist for float, float16, bfloat16, double, complex, bool and integer tensors',
    });
  }
}

/** The values of one tensor, produced in consecutive chunks. */
export class ValueStream {
  private readonly filler: Filler;
  private state: number;

  constructor(
    readonly dtype: DataType,
    readonly role: WeightRole,
    seed: number,
    where?: string,
  ) {
    checkSynthesizable(dtype, where);
    this.filler = FILLERS[dtype]!.make(role);
    this.state = seed >>> 0 || 0x6d2b79f5;
  }

  /** Fills `out` with the next values. Its byteOffset must be 8-aligned and its length whole elements. */
  fill(out: Uint8Array): void {
    this.state = this.filler(out, this.state) >>> 0;
  }
}
