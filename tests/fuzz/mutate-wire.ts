/**
 * Wire-level and raw byte mutators. Wire mutators work on the field tree of wire.ts, so they can cut the file at a
 * field boundary, repeat, reorder, drop or renumber a field, give a varint or a length an extreme value, plant
 * invalid UTF-8 in a string field, or nest If subgraphs and unknown groups deeper than any encoder would. Byte
 * mutators know nothing of the format: bit flips, inserts, deletes, truncation.
 */
import type { Rng } from './rng.js';
import { allFields, cloneField, concat, encodeFields, encodeVarint, fieldBoundaries, fieldsOfKind, fieldSchema, message, parseMessage, type FieldRef, type WireField, VERBATIM } from './wire.js';

/** A mutator over the model's bytes: returns the new bytes and what it did, or undefined when it does not apply. */
export type BytesMutator = (bytes: Uint8Array, rng: Rng) => { bytes: Uint8Array; what: string } | undefined;

const EXTREME_VARINTS = [0n, 1n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 2n];

/** Byte sequences that are not UTF-8: a lone continuation, a truncated sequence, overlong '/', a surrogate, past U+10FFFF. */
const INVALID_UTF8 = [[0x80], [0xff], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xfe, 0xff, 0xff], [0x00]];

function parsed(bytes: Uint8Array): WireField[] | undefined {
  return parseMessage(bytes, 'ModelProto');
}

function withTree(mutate: (fields: WireField[], refs: FieldRef[], rng: Rng) => string | undefined): BytesMutator {
  return (bytes, rng) => {
    const fields = parsed(bytes);
    if (!fields) return undefined;
    const what = mutate(fields, allFields(fields), rng);
    return what === undefined ? undefined : { bytes: encodeFields(fields), what };
  };
}

function label(f: WireField): string {
  const s = fieldSchema(f.parentType, f.field);
  return `${f.parentType.replace('.onnx.', '')}.${s?.name ?? `#${f.field}`}`;
}

// ---- wire mutators ----------------------------------------------------------------------------------------------

const truncateAtBoundary: BytesMutator = (bytes, rng) => {
  const fields = parsed(bytes);
  if (!fields) return undefined;
  const points = fieldBoundaries(fields).filter((p) => p < bytes.length);
  if (!points.length) return undefined;
  const at = rng.pick(points);
  return { bytes: bytes.subarray(0, at + (rng.chance(0.3) ? 1 : 0)), what: `truncated at field boundary ${at} of ${bytes.length}` };
};

/** Drops the tail of one message's fields, keeping the rest of the file well-formed. */
const truncateInner = withTree((_fields, refs, rng) => {
  const withKids = refs.filter((r) => r.field.children?.length);
  if (!withKids.length) return undefined;
  const r = rng.pick(withKids);
  const kids = r.field.children!;
  const keep = rng.int(kids.length);
  kids.length = keep;
  return `${label(r.field)} cut to its first ${keep} fields`;
});

const duplicateField = withTree((_fields, refs, rng) => {
  if (!refs.length) return undefined;
  const r = rng.pick(refs);
  r.siblings.splice(r.index + 1, 0, cloneField(r.field));
  return `${label(r.field)} repeated`;
});

const reorderFields = withTree((_fields, refs, rng) => {
  const multi = refs.filter((r) => r.siblings.length > 1);
  if (!multi.length) return undefined;
  const r = rng.pick(multi);
  if (rng.chance(0.5)) {
    r.siblings.reverse();
    return `fields around ${label(r.field)} reversed`;
  }
  const j = rng.int(r.siblings.length);
  [r.siblings[r.index], r.siblings[j]] = [r.siblings[j]!, r.siblings[r.index]!];
  return `${label(r.field)} swapped with field #${j}`;
});

const deleteField = withTree((_fields, refs, rng) => {
  if (!refs.length) return undefined;
  const r = rng.pick(refs);
  r.siblings.splice(r.index, 1);
  return `${label(r.field)} deleted`;
});

const extremeVarint = withTree((_fields, refs, rng) => {
  const varints = refs.filter((r) => r.field.wireType === 0);
  if (!varints.length) return undefined;
  const r = rng.pick(varints);
  r.field.varint = rng.pick(EXTREME_VARINTS);
  return `${label(r.field)} = ${r.field.varint}`;
});

/** A length prefix that lies: huge, near 2^63, or off by one, with the payload left as it was. */
const extremeLength = withTree((_fields, refs, rng) => {
  const lens = refs.filter((r) => r.field.wireType === 2);
  if (!lens.length) return undefined;
  const r = rng.pick(lens);
  const payload = r.field.children ? encodeFields(r.field.children) : (r.field.payload ?? new Uint8Array());
  const len = rng.pick([...EXTREME_VARINTS, BigInt(payload.length + 1), BigInt(Math.max(0, payload.length - 1)), BigInt(payload.length + 1000)]);
  const tag = encodeVarint((BigInt(r.field.field) << 3n) | 2n);
  // The whole field is spliced into the parent as an unknown-looking raw run: tag, lying length, payload.
  const raw = concat(Uint8Array.from(tag), Uint8Array.from(encodeVarint(len)), payload);
  r.siblings.splice(r.index, 1, ...splitRaw(raw, r.field.parentType));
  return `${label(r.field)} length prefix = ${len} (payload ${payload.length})`;
});

/** Hand-made bytes carried as a pseudo-field the encoder writes as they are. */
function splitRaw(raw: Uint8Array, parentType: string): WireField[] {
  return [{ field: 0, wireType: VERBATIM, payload: raw, parentType, start: 0, end: 0 }];
}

const overlongVarint = withTree((_fields, refs, rng) => {
  const varints = refs.filter((r) => r.field.wireType === 0);
  if (!varints.length) return undefined;
  const r = rng.pick(varints);
  const v = encodeVarint(r.field.varint ?? 0n);
  const pad = rng.pick([1, 3, 10 - v.length, 11 - v.length, 20]);
  const bytes = [...v.slice(0, -1).map((b) => b | 0x80), v[v.length - 1]! | 0x80, ...Array<number>(Math.max(0, pad - 1)).fill(0x80), 0x00];
  const tag = encodeVarint(BigInt(r.field.field) << 3n);
  r.siblings.splice(r.index, 1, ...splitRaw(Uint8Array.from([...tag, ...bytes]), r.field.parentType));
  return `${label(r.field)} written in ${bytes.length} varint bytes`;
});

const wireType = withTree((_fields, refs, rng) => {
  if (!refs.length) return undefined;
  const r = rng.pick(refs);
  const wt = rng.pick([0, 1, 2, 3, 4, 5, 6, 7].filter((w) => w !== r.field.wireType));
  const rest = encodeFields([r.field]);
  const oldTag = encodeVarint((BigInt(r.field.field) << 3n) | BigInt(r.field.wireType));
  const tag = encodeVarint((BigInt(r.field.field) << 3n) | BigInt(wt));
  r.siblings.splice(r.index, 1, ...splitRaw(concat(Uint8Array.from(tag), rest.subarray(oldTag.length)), r.field.parentType));
  return `${label(r.field)} wire type ${r.field.wireType} → ${wt}`;
});

const fieldNumber = withTree((_fields, refs, rng) => {
  if (!refs.length) return undefined;
  const r = rng.pick(refs);
  const known = [...fieldsOfKind(r.field.parentType, 'message'), ...fieldsOfKind(r.field.parentType, 'scalar'), ...fieldsOfKind(r.field.parentType, 'string')];
  const to = rng.chance(0.7) && known.length ? rng.pick(known) : rng.pick([99, 1000, 2 ** 29 - 1, 19000]);
  const before = label(r.field);
  r.field.field = to;
  return `${before} renumbered to ${to}`;
});

const invalidUtf8 = withTree((_fields, refs, rng) => {
  const strings = refs.filter((r) => r.field.wireType === 2 && fieldSchema(r.field.parentType, r.field.field)?.kind === 'string');
  if (!strings.length) return undefined;
  const r = rng.pick(strings);
  const bad = Uint8Array.from(rng.pick(INVALID_UTF8));
  const p = r.field.payload ?? new Uint8Array();
  const at = rng.int(p.length + 1);
  r.field.payload = rng.chance(0.5) ? concat(p.subarray(0, at), bad, p.subarray(at)) : bad;
  return `${label(r.field)} holds invalid UTF-8 ${[...bad].map((b) => b.toString(16)).join(' ')}`;
});

/** An unknown field, possibly a group nested far deeper than any recursion limit. */
const plantUnknown = withTree((fields, refs, rng) => {
  const host = rng.chance(0.3) || !refs.length ? fields : (rng.pick(refs.filter((r) => r.field.children)) ?? { field: { children: fields } }).field.children!;
  const parentType = host[0]?.parentType ?? '.onnx.ModelProto';
  const field = rng.pick([99, 1000, 12345]);
  const depth = rng.pick([1, 10, 100, 1000, 100000]);
  let raw: Uint8Array;
  if (rng.chance(0.5)) {
    const start = encodeVarint((BigInt(field) << 3n) | 3n);
    const end = encodeVarint((BigInt(field) << 3n) | 4n);
    raw = new Uint8Array((start.length + end.length) * depth);
    for (let i = 0; i < depth; i++) raw.set(start, i * start.length);
    for (let i = 0; i < depth; i++) raw.set(end, depth * start.length + i * end.length);
  } else {
    raw = message([[field, rng.bytes(rng.int(32))]]);
  }
  host.splice(rng.int(host.length + 1), 0, ...splitRaw(raw, parentType));
  return `unknown field ${field} planted (${raw.length} bytes, depth ${depth})`;
});

/** A node whose then_branch holds an If whose then_branch holds an If... `depth` levels, built bottom-up by hand. */
export function nestedIfNode(depth: number, innermostReads = 'x'): Uint8Array {
  const GRAPH = 5n;
  let graph = message([[1, message([[1, innermostReads], [2, 'leaf'], [4, 'Identity']])], [12, message([[1, 'leaf']])]]);
  for (let i = 0; i < depth; i++) {
    const attr = message([[1, 'then_branch'], [20, GRAPH], [6, graph]]);
    const node = message([[2, `n${i}`], [4, 'If'], [5, attr]]);
    graph = message([[1, node], [12, message([[1, `n${i}`]])]]);
  }
  return message([[2, 'deep_if'], [4, 'If'], [5, message([[1, 'then_branch'], [20, GRAPH], [6, graph]])]]);
}

const deepSubgraph = withTree((fields, _refs, rng) => {
  const graph = fields.find((f) => f.field === 7 && f.children);
  if (!graph) return undefined;
  const depth = rng.pick([5, 20, 21, 22, 100, 1000]);
  graph.children!.push({ field: 1, wireType: 2, payload: nestedIfNode(depth), parentType: '.onnx.GraphProto', start: 0, end: 0 });
  return `If nested ${depth} deep appended`;
});

const WIRE: readonly (readonly [string, BytesMutator, number])[] = [
  ['truncateAtBoundary', truncateAtBoundary, 6],
  ['truncateInner', truncateInner, 5],
  ['duplicateField', duplicateField, 4],
  ['reorderFields', reorderFields, 3],
  ['deleteField', deleteField, 4],
  ['extremeVarint', extremeVarint, 5],
  ['extremeLength', extremeLength, 4],
  ['overlongVarint', overlongVarint, 2],
  ['wireType', wireType, 3],
  ['fieldNumber', fieldNumber, 3],
  ['invalidUtf8', invalidUtf8, 3],
  ['plantUnknown', plantUnknown, 2],
  ['deepSubgraph', deepSubgraph, 3],
];

// ---- raw byte mutators ------------------------------------------------------------------------------------------

const bitFlip: BytesMutator = (bytes, rng) => {
  if (!bytes.length) return undefined;
  const out = new Uint8Array(bytes); // a copy: Buffer.prototype.slice would return a view of the seed
  const n = rng.pick([1, 1, 2, 4, 16]);
  for (let i = 0; i < n; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return { bytes: out, what: `${n} bit(s) flipped` };
};

const byteSet: BytesMutator = (bytes, rng) => {
  if (!bytes.length) return undefined;
  const out = new Uint8Array(bytes);
  const at = rng.int(out.length);
  out[at] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12]);
  return { bytes: out, what: `byte ${at} = ${out[at]}` };
};

const insertBytes: BytesMutator = (bytes, rng) => {
  const at = rng.int(bytes.length + 1);
  const ins = rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : Uint8Array.from(rng.pick([[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x0a, 0xff, 0xff, 0xff, 0xff, 0x07], [0x00]]));
  return { bytes: concat(bytes.subarray(0, at), ins, bytes.subarray(at)), what: `${ins.length} byte(s) inserted at ${at}` };
};

const deleteBytes: BytesMutator = (bytes, rng) => {
  if (!bytes.length) return undefined;
  const at = rng.int(bytes.length);
  const n = Math.min(bytes.length - at, rng.pick([1, 2, 8, 100, 1000]));
  return { bytes: concat(bytes.subarray(0, at), bytes.subarray(at + n)), what: `${n} byte(s) deleted at ${at}` };
};

const truncateAnywhere: BytesMutator = (bytes, rng) => {
  const at = rng.int(bytes.length + 1);
  return { bytes: bytes.subarray(0, at), what: `truncated at ${at} of ${bytes.length}` };
};

const duplicateRange: BytesMutator = (bytes, rng) => {
  if (!bytes.length) return undefined;
  const from = rng.int(bytes.length);
  const n = Math.min(bytes.length - from, rng.range(1, 256));
  const to = rng.int(bytes.length + 1);
  return { bytes: concat(bytes.subarray(0, to), bytes.subarray(from, from + n), bytes.subarray(to)), what: `${n} bytes from ${from} copied to ${to}` };
};

const BYTES: readonly (readonly [string, BytesMutator, number])[] = [
  ['bitFlip', bitFlip, 6],
  ['byteSet', byteSet, 3],
  ['insertBytes', insertBytes, 3],
  ['deleteBytes', deleteBytes, 3],
  ['truncateAnywhere', truncateAnywhere, 2],
  ['duplicateRange', duplicateRange, 2],
];

export const WIRE_MUTATORS = WIRE;
export const BYTE_MUTATORS = BYTES;
