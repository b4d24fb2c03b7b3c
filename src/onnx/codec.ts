/**
 * Decoding and encoding ONNX protobuf messages with protobufjs, losslessly: unknown fields are kept (and written
 * back), int64 values stay exact (Long), and fields are written in field-number order as protobuf's own C++
 * serializer does, so a model decoded and re-encoded with no change is byte-identical.
 */
import protobuf from 'protobufjs';
import Long from 'long';
import { SdxlOptError } from '../errors.js';
import { ONNX_PROTO } from './onnx.proto.js';
import type { GraphProto, Int64, ModelProto, NodeProto, TensorProto } from './types.js';

// protobufjs picks up `long` by itself when it can require it; make sure of it, since int64 precision depends on it.
protobuf.util.Long = Long;
protobuf.configure();

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const types = {
  ModelProto: root.lookupType('onnx.ModelProto'),
  GraphProto: root.lookupType('onnx.GraphProto'),
  NodeProto: root.lookupType('onnx.NodeProto'),
  TensorProto: root.lookupType('onnx.TensorProto'),
};

type MessageName = keyof typeof types;

/** Deepest message nesting accepted: SDXL graphs nest 0–2 levels; this bounds hostile subgraph chains. */
export const MAX_NESTING = 64;

function decode<T>(name: MessageName, bytes: Uint8Array, what: string): T {
  const reader = protobuf.Reader.create(bytes);
  reader.discardUnknown = false;
  const previousLimit = protobuf.Reader.recursionLimit;
  protobuf.Reader.recursionLimit = MAX_NESTING;
  try {
    const message = types[name].decode(reader);
    if (reader.pos !== bytes.length) {
      throw new Error(`stopped at byte ${reader.pos} of ${bytes.length}`);
    }
    return message as unknown as T;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new SdxlOptError('BAD_PROTOBUF', `cannot decode ${name}: ${describeDecodeFailure(why)}`, {
      where: what,
      hint: 'the file is truncated, corrupt or not an ONNX model; re-export or re-download it',
      cause: e,
    });
  } finally {
    protobuf.Reader.recursionLimit = previousLimit;
  }
}

function describeDecodeFailure(why: string): string {
  if (/index out of range/.test(why)) return `a field runs past the end of the data (${why})`;
  if (/invalid wire type/.test(why)) return `a field has an invalid wire type (${why})`;
  if (/max depth/.test(why)) return `messages nest deeper than ${MAX_NESTING} levels`;
  return why;
}

function encode(name: MessageName, message: object): Uint8Array {
  return types[name].encode(message as protobuf.Message).finish();
}

export const decodeModel = (bytes: Uint8Array, what: string): ModelProto => decode('ModelProto', bytes, what);
export const encodeModel = (m: ModelProto): Uint8Array => encode('ModelProto', m);
export const decodeGraph = (bytes: Uint8Array, what: string): GraphProto => decode('GraphProto', bytes, what);
export const encodeGraph = (g: GraphProto): Uint8Array => encode('GraphProto', g);
export const encodeNode = (n: NodeProto): Uint8Array => encode('NodeProto', n);
export const encodeTensor = (t: TensorProto): Uint8Array => encode('TensorProto', t);

/**
 * An int64 field as a JS number; throws when it does not fit exactly (dims and offsets past 2^53 are hostile).
 * `where` names the file and the message holding the field, for the error.
 */
export function int64ToNumber(v: Int64 | undefined, what: string, where?: string): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const n = Long.fromValue(v);
  if (n.greaterThan(Number.MAX_SAFE_INTEGER) || n.lessThan(Number.MIN_SAFE_INTEGER)) {
    throw new SdxlOptError('BAD_MODEL', `${what} is ${n.toString()}, beyond what sdxl-opt can represent exactly`, {
      where,
      hint: 'values past 2^53 are not valid sizes or offsets; the file is corrupt or hostile',
    });
  }
  return n.toNumber();
}

/** An int64 field as a bigint, exactly (for attribute values like INT64_MAX that are meaningful). */
export function int64ToBigInt(v: Int64 | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(v);
  return Long.fromValue(v).toBigInt();
}

export function toInt64(v: number | bigint): Int64 {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not an exact integer: ${v}`);
    return Long.fromNumber(v);
  }
  return Long.fromBigInt(v);
}
