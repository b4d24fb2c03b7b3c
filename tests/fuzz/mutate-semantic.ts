/**
 * Semantic mutators: they keep a model readable and make it wrong in ways type inference, the constant evaluator
 * and inspect must survive: extreme attribute values, constants that ask for enormous or negative shapes, an op
 * swapped for another with different arity, graph input dims at the edges, inputs rewired to values of other types.
 */
import Long from 'long';
import { DataType } from '../../src/onnx/dtype.js';
import { AttributeType, type AttributeProto, type TensorProto } from '../../src/onnx/types.js';
import { big, EXTREME_INT64, pickOr, type MutatorTable, type StructureContext, type StructureMutator } from './mutator.js';
import { definedNames, graphsOf, nodesOf, tensorsOf } from './proto-walk.js';

/** Integers shapes and axes are made of, at the edges: sign, zero, rank-sized, 2^31, 2^40, int64 limits. */
const SMALL_EXTREMES = ['-1', '0', '1', '2', '3', '-3', '7', '-100', '65536', '2147483648', '1099511627776', '-1099511627776', '4611686018427387904'];

const OPS: readonly (readonly [op: string, domain?: string])[] = [
  ['Reshape'], ['Expand'], ['ConstantOfShape'], ['Range'], ['Tile'], ['Slice'], ['Gather'], ['Concat'], ['Split'],
  ['Transpose'], ['Squeeze'], ['Unsqueeze'], ['Flatten'], ['Shape'], ['Size'], ['Cast'], ['Resize'], ['Conv'],
  ['MatMul'], ['MatMulInteger'], ['Gemm'], ['Softmax'], ['LayerNormalization'], ['InstanceNormalization'], ['Where'],
  ['ReduceMean'], ['ReduceSum'], ['ReduceProd'], ['Add'], ['Mul'], ['Div'], ['Pow'], ['Equal'], ['Not'], ['Sqrt'],
  ['Identity'], ['Constant'], ['QuantizeLinear'], ['DequantizeLinear'], ['DynamicQuantizeLinear'], ['If'], ['Loop'],
  ['Pad'], ['Einsum'], ['TopK'], ['NonZero'], ['ConvTranspose'],
  ['MultiHeadAttention', 'com.microsoft'], ['GroupNorm', 'com.microsoft'], ['SkipGroupNorm', 'com.microsoft'],
  ['NhwcConv', 'com.microsoft'], ['SkipLayerNormalization', 'com.microsoft'], ['BiasSplitGelu', 'com.microsoft'],
  ['BiasAdd', 'com.microsoft'], ['DynamicQuantizeMatMul', 'com.microsoft'], ['MatMulIntegerToFloat', 'com.microsoft'],
];

const ATTRIBUTE_NAMES = ['axis', 'axes', 'perm', 'keepdims', 'to', 'group', 'kernel_shape', 'strides', 'pads', 'dilations', 'transA', 'transB', 'split', 'num_outputs', 'epsilon', 'allowzero', 'num_heads', 'groups', 'value', 'mode', 'noop_with_empty_axes', 'saturate', 'block_size', 'activation', 'channels_last'];

const intValue = (cx: StructureContext): Long => big(cx.rng.chance(0.8) ? cx.rng.pick(SMALL_EXTREMES) : cx.rng.pick(EXTREME_INT64));

function randomAttribute(cx: StructureContext, name: string): AttributeProto {
  const rng = cx.rng;
  switch (rng.int(6)) {
    case 0:
      return { name, type: AttributeType.INT, i: intValue(cx) };
    case 1:
      return { name, type: AttributeType.INTS, ints: Array.from({ length: rng.pick([0, 1, 2, 4, 7, 300]) }, () => intValue(cx)) };
    case 2:
      return { name, type: AttributeType.FLOAT, f: rng.pick([NaN, Infinity, -0, 1e-30, -5]) };
    case 3:
      return { name, type: AttributeType.STRING, s: rng.pick([new TextEncoder().encode('linear'), Uint8Array.from([0xff]), new Uint8Array()]) };
    case 4:
      return { name, type: AttributeType.TENSOR, t: smallIntTensor(cx) };
    default:
      return { name, type: rng.pick([0, 5, 10, 13]) };
  }
}

function smallIntTensor(cx: StructureContext): TensorProto {
  const n = cx.rng.pick([0, 1, 2, 3, 4, 8]);
  const dims = cx.rng.chance(0.8) ? [Long.fromNumber(n)] : [];
  const count = dims.length ? n : 1;
  return { data_type: cx.rng.chance(0.8) ? DataType.INT64 : cx.rng.pick([DataType.INT32, DataType.FLOAT, DataType.BOOL]), dims, int64_data: Array.from({ length: count }, () => intValue(cx)), int32_data: Array.from({ length: count }, () => cx.rng.int(10) - 3), float_data: Array.from({ length: count }, () => cx.rng.pick([0, 1, -1, NaN])) };
}

const attrValue: StructureMutator = (m, cx) => {
  const n = pickOr(cx, nodesOf(m))?.node;
  if (!n) return undefined;
  const attrs = (n.attribute ??= []);
  const existing = pickOr(cx, attrs);
  const name = existing && cx.rng.chance(0.6) ? (existing.name ?? '') : cx.rng.pick(ATTRIBUTE_NAMES);
  const a = randomAttribute(cx, name);
  const at = attrs.findIndex((x) => x.name === name);
  if (at >= 0) attrs[at] = a;
  else attrs.push(a);
  return `node '${n.name ?? ''}' (${n.op_type}) attribute '${name}' = ${describe(a)}`;
};

function describe(a: AttributeProto): string {
  if (a.i !== undefined) return String(a.i);
  if (a.ints) return `[${a.ints.slice(0, 8).join(', ')}${a.ints.length > 8 ? ', …' : ''}]`;
  if (a.f !== undefined) return String(a.f);
  if (a.t) return `tensor ${a.t.data_type}`;
  return `type ${a.type}`;
}

/** A small integer constant (a shape, axes, starts) rewritten with edge values, possibly to another length. */
const constValue: StructureMutator = (m, cx) => {
  const small = tensorsOf(m).filter((t) => (t.data_type === DataType.INT64 || t.data_type === DataType.INT32) && (t.dims ?? []).every((d) => Long.fromValue(d).lessThanOrEqual(16)) && (t.dims ?? []).length <= 1);
  const t = pickOr(cx, small);
  if (!t) return undefined;
  const n = cx.rng.chance(0.7) && t.dims?.length ? Long.fromValue(t.dims[0]!).toNumber() : cx.rng.pick([0, 1, 2, 3, 4, 6]);
  const values = Array.from({ length: Math.max(0, n) }, () => intValue(cx));
  if (t.dims?.length || n !== 1) t.dims = [Long.fromNumber(Math.max(0, n))];
  delete t.int64_data;
  delete t.int32_data;
  if (t.data_type === DataType.INT64) t.raw_data = new Uint8Array(BigInt64Array.from(values, (v) => v.toBigInt()).buffer);
  else t.raw_data = new Uint8Array(Int32Array.from(values, (v) => v.toInt()).buffer);
  return `constant ${t.name ? `'${t.name}'` : '(attribute)'} = [${values.join(', ')}]`;
};

const opSwap: StructureMutator = (m, cx) => {
  const n = pickOr(cx, nodesOf(m))?.node;
  if (!n) return undefined;
  const [op, domain] = cx.rng.pick(OPS);
  const before = n.op_type;
  n.op_type = op;
  if (domain) n.domain = domain;
  else delete n.domain;
  return `node '${n.name ?? ''}' ${before} → ${domain ? `${domain}.` : ''}${op}`;
};

const inputShape: StructureMutator = (m, cx) => {
  const inputs = graphsOf(m).flatMap(({ graph }) => graph.input ?? []);
  const vi = pickOr(cx, inputs);
  if (!vi) return undefined;
  const rng = cx.rng;
  const dimValue = () => (rng.chance(0.2) ? { dim_param: rng.pick(['batch', 'height', 'x', '']) } : rng.chance(0.1) ? {} : { dim_value: big(rng.pick(['0', '1', '3', '1048576', '2147483648', '1099511627776', '9007199254740991'])) });
  const rank = rng.pick([0, 1, 2, 3, 4, 5, 8]);
  vi.type = { tensor_type: { elem_type: rng.chance(0.7) ? (vi.type?.tensor_type?.elem_type ?? 1) : rng.pick([1, 6, 7, 9, 10, 11, 16]), shape: { dim: Array.from({ length: rank }, dimValue) } } };
  return `graph input '${vi.name}' is now rank ${rank}`;
};

const rewire: StructureMutator = (m, cx) => {
  const g = pickOr(cx, graphsOf(m))?.graph;
  const n = g && pickOr(cx, g.node ?? []);
  if (!g || !n) return undefined;
  const names = definedNames(g);
  const choice = cx.rng.int(4);
  n.input ??= [];
  if (choice === 0 && names.length) n.input[cx.rng.int(n.input.length + 1)] = cx.rng.pick(names);
  else if (choice === 1) n.input = n.input.slice(0, cx.rng.int(n.input.length + 1));
  else if (choice === 2 && n.input.length) n.input[cx.rng.int(n.input.length)] = '';
  else n.output = [...(n.output ?? []), ...Array.from({ length: cx.rng.range(1, 3) }, (_, i) => `${n.name ?? 'n'}_extra${i}_${cx.rng.int(1e6)}`)];
  return `node '${n.name ?? ''}' (${n.op_type}) inputs now [${n.input.join(', ').slice(0, 120)}], ${n.output?.length ?? 0} outputs`;
};

export const SEMANTIC_MUTATORS: MutatorTable = [
  ['attrValue', attrValue, 6],
  ['constValue', constValue, 6],
  ['opSwap', opSwap, 5],
  ['inputShape', inputShape, 3],
  ['rewire', rewire, 4],
];

