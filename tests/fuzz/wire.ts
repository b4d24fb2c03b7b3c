/**
 * A tiny protobuf wire-format walker for the fuzzer, independent of the codec under test: it splits bytes into
 * fields (tag, wire type, payload), descends into the fields the ONNX schema says are messages, and writes a field
 * tree back with every length recomputed. Mutators use it to find field boundaries, to duplicate, reorder, drop and
 * retype fields, and to plant extreme varints and lengths exactly where they want them.
 */
import protobuf from 'protobufjs';
import { ONNX_PROTO } from '../../src/onnx/onnx.proto.js';

export type Kind = 'message' | 'string' | 'bytes' | 'scalar';

export interface FieldSchema {
  name: string;
  kind: Kind;
  /** The message type, for kind 'message'. */
  type?: string;
}

/** The wire type of a pseudo-field whose payload is written as it is: hand-made bytes (a lying length, a group). */
export const VERBATIM = -1;

export interface WireField {
  field: number;
  /** 0, 1, 2 or 5 as parsed, any 0–7 once mutated, or VERBATIM. */
  wireType: number;
  /** The value of a varint field (wire type 0), unsigned 64-bit. */
  varint?: bigint;
  /** The payload of a fixed-width or length-delimited field. */
  payload?: Uint8Array;
  /** The fields of a length-delimited payload the schema says is a message, when it parsed cleanly. */
  children?: WireField[];
  /** The message type this field belongs to ('.onnx.ModelProto'...). */
  parentType: string;
  /** Where the field (tag included) lay in the bytes it was parsed from. */
  start: number;
  end: number;
}

const schema = new Map<string, Map<number, FieldSchema>>();
{
  const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
  root.resolveAll();
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) {
        const fields = new Map<number, FieldSchema>();
        for (const f of nested.fieldsArray) {
          const rt = f.resolvedType;
          const kind: Kind = rt instanceof protobuf.Type ? 'message' : f.type === 'string' ? 'string' : f.type === 'bytes' ? 'bytes' : 'scalar';
          fields.set(f.id, { name: f.name, kind, type: rt instanceof protobuf.Type ? rt.fullName : undefined });
        }
        schema.set(nested.fullName, fields);
      }
      if (nested instanceof protobuf.Namespace) visit(nested);
    }
  };
  visit(root);
}

/** Message types are named in full ('.onnx.ModelProto') or by their top-level name ('ModelProto'). */
const fullName = (messageType: string): string => (messageType.startsWith('.') ? messageType : `.onnx.${messageType}`);

export function fieldSchema(messageType: string, field: number): FieldSchema | undefined {
  return schema.get(fullName(messageType))?.get(field);
}

/** Field numbers of a message type with a given kind (for retyping and planting fields). */
export function fieldsOfKind(messageType: string, kind: Kind): number[] {
  return [...(schema.get(fullName(messageType)) ?? new Map<number, FieldSchema>()).entries()].filter(([, f]) => f.kind === kind).map(([n]) => n);
}

class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  varint(): bigint | undefined {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) return undefined;
      const b = this.bytes[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return BigInt.asUintN(64, v);
    }
    return undefined;
  }
}

/** The fields of `bytes[start, end)` as a message of `messageType`; undefined when they are not well-formed wire data. */
export function parseMessage(bytes: Uint8Array, messageType: string, start = 0, end = bytes.length, depth = 0): WireField[] | undefined {
  messageType = fullName(messageType);
  const out: WireField[] = [];
  const c = new Cursor(bytes, start, end);
  while (c.pos < end) {
    const at = c.pos;
    const tag = c.varint();
    if (tag === undefined || tag > 0xffffffffn) return undefined;
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (field === 0) return undefined;
    const f: WireField = { field, wireType, parentType: messageType, start: at, end: at };
    if (wireType === 0) {
      f.varint = c.varint();
      if (f.varint === undefined) return undefined;
    } else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (c.pos + n > end) return undefined;
      f.payload = bytes.subarray(c.pos, c.pos + n);
      c.pos += n;
    } else if (wireType === 2) {
      const len = c.varint();
      if (len === undefined || BigInt(c.pos) + len > BigInt(end)) return undefined;
      const from = c.pos;
      c.pos += Number(len);
      f.payload = bytes.subarray(from, c.pos);
      const s = fieldSchema(messageType, field);
      if (s?.kind === 'message' && depth < 200) f.children = parseMessage(bytes, s.type!, from, c.pos, depth + 1);
    } else {
      return undefined; // groups and invalid wire types: the enclosing payload stays opaque
    }
    f.end = c.pos;
    out.push(f);
  }
  return out;
}

export function encodeVarint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

/** Bytes of a field tree, lengths recomputed. */
export function encodeFields(fields: readonly WireField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const emit = (fs: readonly WireField[]): number => {
    let size = 0;
    for (const f of fs) {
      if (f.wireType === VERBATIM) {
        parts.push(f.payload ?? new Uint8Array());
        size += f.payload?.length ?? 0;
        continue;
      }
      const tag = Uint8Array.from(encodeVarint((BigInt(f.field) << 3n) | BigInt(f.wireType)));
      parts.push(tag);
      size += tag.length;
      if (f.wireType === 0) {
        const v = Uint8Array.from(encodeVarint(f.varint ?? 0n));
        parts.push(v);
        size += v.length;
      } else if (f.children) {
        const lenAt = parts.length;
        parts.push(new Uint8Array());
        const inner = emit(f.children);
        const len = Uint8Array.from(encodeVarint(BigInt(inner)));
        parts[lenAt] = len;
        size += len.length + inner;
      } else if (f.wireType === 2) {
        const p = f.payload ?? new Uint8Array();
        const len = Uint8Array.from(encodeVarint(BigInt(p.length)));
        parts.push(len, p);
        size += len.length + p.length;
      } else {
        const p = f.payload ?? new Uint8Array();
        parts.push(p);
        size += p.length;
      }
    }
    return size;
  };
  const total = emit(fields);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A deep copy of a field; payloads are shared (mutators replace them, never write into them). */
export function cloneField(f: WireField): WireField {
  return { ...f, ...(f.children ? { children: f.children.map(cloneField) } : {}) };
}

export interface FieldRef {
  field: WireField;
  /** The list holding it (a message's fields), and its index there. */
  siblings: WireField[];
  index: number;
  depth: number;
}

/** Every field of the tree, depth first. */
export function allFields(fields: WireField[], depth = 0, out: FieldRef[] = []): FieldRef[] {
  fields.forEach((field, index) => {
    out.push({ field, siblings: fields, index, depth });
    if (field.children) allFields(field.children, depth + 1, out);
  });
  return out;
}

/** Every offset where a field starts or ends, at any depth (truncation points that cut between fields). */
export function fieldBoundaries(fields: readonly WireField[]): number[] {
  const set = new Set<number>();
  const visit = (fs: readonly WireField[]): void => {
    for (const f of fs) {
      set.add(f.start);
      set.add(f.end);
      if (f.children) visit(f.children);
    }
  };
  visit(fields);
  return [...set].sort((a, b) => a - b);
}

// ---- building messages by hand (for shapes protobufjs refuses to encode, like 1,000-deep nesting) ----------------

export type Part = [field: number, value: bigint | string | Uint8Array];

/** A message from (field, value) pairs: bigint → varint, string → UTF-8 bytes, bytes → length-delimited. */
export function message(parts: readonly Part[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const [field, value] of parts) {
    if (typeof value === 'bigint') {
      chunks.push(Uint8Array.from([...encodeVarint(BigInt(field) << 3n), ...encodeVarint(value)]));
    } else {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      chunks.push(Uint8Array.from([...encodeVarint((BigInt(field) << 3n) | 2n), ...encodeVarint(BigInt(bytes.length))]), bytes);
    }
  }
  return concat(...chunks);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
