/** What structure-aware mutators share: their signature, the table they are listed in, and edge values. */
import Long from 'long';
import type { ModelProto } from '../../src/onnx/types.js';
import type { Rng } from './rng.js';
import type { FileSpec } from './seeds.js';

export interface StructureContext {
  rng: Rng;
  files: Record<string, FileSpec>;
}

export type StructureMutator = (m: ModelProto, cx: StructureContext) => string | undefined;

/** int64 values at the edges: sign, 2^31, 2^32, 2^53 (the last exact double), 2^62, 2^63. */
export const EXTREME_INT64 = [
  '0', '1', '-1', '-2', '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740991', '9007199254740992',
  '9007199254740993', '4611686018427387904', '9223372036854775807', '-9223372036854775808', '-9007199254740993',
] as const;

/** Element type codes a reader must refuse or handle: undefined, string, complex, sub-byte, past the table, negative. */
export const ODD_DATA_TYPES = [0, 8, 14, 15, 21, 22, 23, 25, 27, 28, 29, 30, 31, 64, 255, -1, 2147483647, -2147483648];

/** A mutator's name (for the input's notes), the function, and how often it is drawn relative to the others. */
export type MutatorTable = readonly (readonly [name: string, mutate: StructureMutator, weight: number])[];

export const big = (s: string): Long => Long.fromString(s);

export const pickOr = <T>(cx: StructureContext, items: readonly T[]): T | undefined => (items.length ? cx.rng.pick(items) : undefined);
