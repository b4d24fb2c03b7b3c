/**
 * Structure-aware mutators of tensors and the files beside the model: hostile dims and data types, raw and typed
 * data that disagree with the shape, external data entries with hostile locations, offsets and lengths, and data
 * files that are short, empty, directories, or symlinks out of the model's folder. Each returns what it did, or
 * undefined when the model has nothing it applies to.
 */
import Long from 'long';
import type { TensorProto } from '../../src/onnx/types.js';
import { big, EXTREME_INT64, ODD_DATA_TYPES, pickOr, type MutatorTable, type StructureMutator } from './mutator.js';
import { initializersOf, tensorsOf } from './proto-walk.js';

/** Decimal strings an external_data offset or length must refuse or handle. */
const ODD_SIZES = ['', '-1', '1e3', ' 8', '08', '0x10', '4096', '1000000', '9007199254740991', '9007199254740993', '9223372036854775807', '18446744073709551615', '99999999999999999999999', 'NaN', '٣'];

const LOCATIONS = [
  'data.bin', '../data.bin', '/etc/hostname', 'C:\\data.bin', 'c:data.bin', '\\\\server\\share\\x', 'sub/../data.bin', 'sub/../../x', '',
  '.', './', 'sub', 'missing.bin', 'data.bin/x', 'a\u0000b', 'link-out', 'loop', 'ok/../../../etc/passwd', 'x'.repeat(300),
  'dir-as-file', 'données.bin', '..\\data.bin', 'sub//more.bin', '/', 'NUL', '~/.ssh/id_rsa',
];

function tensorLabel(t: TensorProto): string {
  return `tensor '${t.name ?? ''}'`;
}

/** A tensor's raw_data when it has some: protobufjs answers an absent bytes field with a shared empty array. */
function rawOf(t: TensorProto): Uint8Array | undefined {
  return t.raw_data instanceof Uint8Array && t.raw_data.length ? t.raw_data : undefined;
}

function elementCount(t: TensorProto): number {
  return (t.dims ?? []).reduce<number>((a, d) => a * Long.fromValue(d).toNumber(), 1);
}

const hugeDim: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const value = cx.rng.pick(EXTREME_INT64);
  t.dims ??= [];
  const i = cx.rng.int(t.dims.length + 1);
  if (i === t.dims.length) t.dims.push(big(value));
  else t.dims[i] = big(value);
  return `${tensorLabel(t)} dim ${i} = ${value}`;
};

const manyDims: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const n = cx.rng.pick([64, 1000, 20000]);
  const d = cx.rng.pick(['0', '1', '2', '-1']);
  t.dims = Array.from({ length: n }, () => big(d));
  return `${tensorLabel(t)} gets ${n} dims of ${d}`;
};

const dataType: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const code = cx.rng.chance(0.5) ? cx.rng.pick(ODD_DATA_TYPES) : cx.rng.int(29);
  t.data_type = code;
  return `${tensorLabel(t)} data_type = ${code}`;
};

const rawData: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const have = rawOf(t)?.length ?? 0;
  const choice = cx.rng.int(5);
  if (choice === 0) t.raw_data = (rawOf(t) ?? new Uint8Array()).subarray(0, cx.rng.int(have + 1));
  else if (choice === 1) t.raw_data = cx.rng.bytes(have + cx.rng.range(1, 9));
  else if (choice === 2) t.raw_data = new Uint8Array();
  else if (choice === 3) t.raw_data = cx.rng.bytes(cx.rng.int(64)); // raw_data beside typed fields
  else delete t.raw_data;
  return `${tensorLabel(t)} raw_data ${have} → ${t.raw_data?.length ?? 'absent'} bytes`;
};

const typedData: StructureMutator = (m, cx) => {
  const t = pickOr(cx, tensorsOf(m));
  if (!t) return undefined;
  const count = Math.max(0, Math.min(elementCount(t), 64));
  const n = cx.rng.pick([0, count, count + 1, Math.max(0, count - 1), 3]);
  const field = cx.rng.pick(['float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'string_data'] as const);
  if (cx.rng.chance(0.5)) delete t.raw_data;
  switch (field) {
    case 'float_data':
      t.float_data = Array.from({ length: n }, () => cx.rng.pick([0, -0, 1.5, NaN, Infinity, -Infinity, 3.4e38]));
      break;
    case 'int32_data':
      t.int32_data = Array.from({ length: n }, () => cx.rng.pick([0, -1, 65535, 65536, 2147483647, -2147483648, 300]));
      break;
    case 'double_data':
      t.double_data = Array.from({ length: n }, () => cx.rng.pick([0, NaN, 1e308, -5e-324]));
      break;
    case 'int64_data':
    case 'uint64_data':
      t[field] = Array.from({ length: n }, () => big(cx.rng.pick(EXTREME_INT64)));
      break;
    case 'string_data':
      t.string_data = Array.from({ length: n }, () => cx.rng.pick([new Uint8Array(), Uint8Array.from([0xff, 0xfe]), cx.rng.bytes(5)]));
      break;
  }
  return `${tensorLabel(t)} ${field} holds ${n} values for ${elementCount(t)} elements`;
};

/** Points a tensor at external data, with entries drawn from hostile and ordinary values, and maybe writes the file. */
const externalize: StructureMutator = (m, cx) => {
  const t = pickOr(cx, cx.rng.chance(0.8) ? initializersOf(m) : tensorsOf(m));
  if (!t) return undefined;
  const rng = cx.rng;
  const location = rng.chance(0.6) ? 'data.bin' : rng.pick(LOCATIONS);
  const raw = rawOf(t);
  const length = raw?.length ?? rng.int(64);
  const fileSize = rng.pick([length, length + 16, Math.max(0, length - 1), 0, 4096]);
  const offset = rng.pick([0, fileSize - length, fileSize, fileSize + 1, 16]);
  const entries = [
    { key: 'location', value: location },
    { key: 'offset', value: rng.chance(0.7) ? String(Math.max(0, offset)) : rng.pick(ODD_SIZES) },
    { key: 'length', value: rng.chance(0.7) ? String(length) : rng.pick(ODD_SIZES) },
  ].filter(() => rng.chance(0.9));
  if (rng.chance(0.1)) entries.push({ key: 'checksum', value: 'abc' });
  if (rng.chance(0.1)) entries.push({ key: 'location', value: rng.pick(LOCATIONS) });
  t.external_data = entries;
  t.data_location = rng.chance(0.9) ? 1 : rng.pick([0, 2, -1, 7]);
  if (rng.chance(0.8)) delete t.raw_data;
  if (location === 'data.bin' && rng.chance(0.85)) {
    const bytes = rng.bytes(Math.max(0, fileSize));
    if (raw) bytes.set(raw.subarray(0, Math.max(0, Math.min(raw.length, bytes.length - Math.max(0, offset)))), Math.min(Math.max(0, offset), bytes.length));
    cx.files['data.bin'] = { kind: 'bytes', bytes };
  }
  return `${tensorLabel(t)} → external ${JSON.stringify(entries)} (data_location ${t.data_location})`;
};

const externalEntries: StructureMutator = (m, cx) => {
  const ext = tensorsOf(m).filter((t) => t.external_data?.length);
  const t = pickOr(cx, ext);
  if (!t) return undefined;
  const entries = t.external_data!;
  const e = cx.rng.pick(entries);
  const choice = cx.rng.int(5);
  if (choice === 0) e.value = e.key === 'location' ? cx.rng.pick(LOCATIONS) : cx.rng.pick(ODD_SIZES);
  else if (choice === 1) entries.splice(entries.indexOf(e), 1);
  else if (choice === 2) entries.push({ ...e, value: e.key === 'location' ? cx.rng.pick(LOCATIONS) : cx.rng.pick(ODD_SIZES) });
  else if (choice === 3) e.key = cx.rng.pick(['', 'Location', 'offset ', 'basepath', 'length']);
  else t.data_location = cx.rng.pick([0, 2, -1]);
  return `${tensorLabel(t)} external_data now ${JSON.stringify(entries)}`;
};

/** Changes a file beside the model: shorter, empty, a directory, a symlink out of the directory or into a loop, gone. */
const dataFile: StructureMutator = (_m, cx) => {
  const names = Object.keys(cx.files);
  const name = cx.rng.chance(0.8) && names.length ? cx.rng.pick(names) : cx.rng.pick(['link-out', 'loop', 'dir-as-file', 'data.bin']);
  const old = cx.files[name];
  const rng = cx.rng;
  const choice = rng.int(7);
  let what: string;
  if (choice === 0 && old?.kind === 'bytes') {
    const n = rng.int(old.bytes.length + 1);
    cx.files[name] = { kind: 'bytes', bytes: old.bytes.subarray(0, n) };
    what = `truncated to ${n} bytes`;
  } else if (choice === 1) {
    cx.files[name] = { kind: 'bytes', bytes: new Uint8Array() };
    what = 'emptied';
  } else if (choice === 2) {
    cx.files[name] = { kind: 'dir' };
    what = 'a directory';
  } else if (choice === 3) {
    const target = rng.pick(['/etc/hostname', '..', '../..', '.', '/dev/zero', '/proc/self/mem', '/nonexistent']);
    cx.files[name] = { kind: 'symlink', target };
    what = `a symlink to ${target}`;
  } else if (choice === 4) {
    cx.files[name] = { kind: 'symlink', target: name };
    what = 'a symlink to itself';
  } else if (choice === 5) {
    delete cx.files[name];
    what = 'removed';
  } else {
    cx.files[name] = { kind: 'bytes', bytes: rng.bytes(rng.pick([1, 7, 100, 5000])) };
    what = 'replaced with random bytes';
  }
  return `file '${name}' ${what}`;
};

export const TENSOR_MUTATORS: MutatorTable = [
  ['hugeDim', hugeDim, 6],
  ['manyDims', manyDims, 1],
  ['dataType', dataType, 4],
  ['rawData', rawData, 4],
  ['typedData', typedData, 4],
  ['externalize', externalize, 8],
  ['externalEntries', externalEntries, 6],
  ['dataFile', dataFile, 5],
];
