/** Reading and making node attributes (AttributeProto), typed. */
import { SdxlOptError } from '../errors.js';
import { int64ToBigInt, int64ToNumber, toInt64 } from '../onnx/codec.js';
import { AttributeType, type AttributeProto, type TensorProto } from '../onnx/types.js';
import { has } from './proto-util.js';

export type AttributeValue = number | bigint | string | number[] | string[] | TensorProto | { ints: number[] } | { floats: number[] };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** `where` names the node, for the error an int past 2^53 gets. */
export function attrInt(attrs: readonly AttributeProto[], name: string, where?: string): number | undefined {
  const a = attrs.find((x) => x.name === name);
  if (!a) return undefined;
  if (a.i === undefined && a.type !== AttributeType.INT) return undefined;
  return int64ToNumber(a.i, `attribute ${name}`, where);
}

export function attrBigInt(attrs: readonly AttributeProto[], name: string): bigint | undefined {
  const a = attrs.find((x) => x.name === name);
  return a && (a.i !== undefined || a.type === AttributeType.INT) ? int64ToBigInt(a.i) : undefined;
}

export function attrFloat(attrs: readonly AttributeProto[], name: string): number | undefined {
  const a = attrs.find((x) => x.name === name);
  return a && (a.f !== undefined || a.type === AttributeType.FLOAT) ? (a.f ?? 0) : undefined;
}

export function attrInts(attrs: readonly AttributeProto[], name: string, where?: string): number[] | undefined {
  const a = attrs.find((x) => x.name === name);
  if (!a || (a.type !== AttributeType.INTS && !a.ints?.length)) return undefined;
  return (a.ints ?? []).map((v, i) => int64ToNumber(v, `attribute ${name}[${i}]`, where));
}

export function attrFloats(attrs: readonly AttributeProto[], name: string): number[] | undefined {
  const a = attrs.find((x) => x.name === name);
  if (!a || (a.type !== AttributeType.FLOATS && !a.floats?.length)) return undefined;
  return [...(a.floats ?? [])];
}

export function attrString(attrs: readonly AttributeProto[], name: string): string | undefined {
  const a = attrs.find((x) => x.name === name);
  // Presence, not `a.s !== undefined`: protobufjs answers an absent bytes field with a shared empty Array (not
  // bytes), so a non-string attribute of this name used to reach TextDecoder with an Array and throw TypeError.
  const s = a && has(a, 's') ? a.s : undefined;
  return a && (s !== undefined || a.type === AttributeType.STRING) ? decoder.decode(s ?? new Uint8Array()) : undefined;
}

export function attrTensor(attrs: readonly AttributeProto[], name: string): TensorProto | undefined {
  const a = attrs.find((x) => x.name === name);
  return a?.t;
}

/** An attribute of the given kind; numbers are ints unless `float` is asked for. */
export function makeAttr(name: string, value: AttributeValue, kind?: 'float' | 'floats'): AttributeProto {
  if (typeof value === 'number') {
    if (kind === 'float' || !Number.isInteger(value)) return { name, type: AttributeType.FLOAT, f: value };
    return { name, type: AttributeType.INT, i: toInt64(value) };
  }
  if (typeof value === 'bigint') return { name, type: AttributeType.INT, i: toInt64(value) };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: encoder.encode(value) };
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      return { name, type: AttributeType.STRINGS, strings: (value as string[]).map((s) => encoder.encode(s)) };
    }
    const nums = value as number[];
    if (kind === 'floats' || nums.some((v) => !Number.isInteger(v))) return { name, type: AttributeType.FLOATS, floats: nums };
    return { name, type: AttributeType.INTS, ints: nums.map((v) => toInt64(v)) };
  }
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: value.ints.map((v) => toInt64(v)) };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  if (typeof value === 'object') return { name, type: AttributeType.TENSOR, t: value };
  throw new SdxlOptError('BAD_PARAM', `cannot make attribute ${name} from ${String(value)}`);
}
