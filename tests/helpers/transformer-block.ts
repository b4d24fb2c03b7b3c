/**
 * A diffusers-style transformer block written out as exporters write it, at any width: the test model of the
 * fusion passes. Attention is stood in for by one linear projection per attention (the fusions here do not look
 * inside attention):
 *
 *   h0 = x·Wp + bp                          proj_in
 *   r1 = (LN1(h0)·W1 + b1) [/ 1] + h0       attn1 output + residual    (LN1 reads no residual: not fusable)
 *   r2 = (LN2(r1)·W2 + b2) [/ 1] + r1       attn2 output + residual    → SkipLayerNormalization at LN2
 *   p  = LN3(r2)·Wf + bf                    GEGLU projection, C → 8C   → SkipLayerNormalization at LN3
 *   h, g = halves of p;  f = (h · gelu(g))·Wg + bg                      → BiasSplitGelu
 *   r3 = f + r2                                                         → BiasAdd
 *   y  = r3·Wo + bo                         proj_out
 *
 * Weights are seeded (deterministic). `divideByOne` adds TorchScript's Div by rescale_output_factor (1.0).
 */
import Long from 'long';
import type { Model } from '../../src/ir/model.js';
import { DataType } from '../../src/onnx/dtype.js';
import { float32ToFloat16Array } from '../../src/runtime/float16.js';
import type { TensorProto } from '../../src/onnx/types.js';
import { seededFloats } from './ort.js';
import { int64Tensor, tinyModel, type TinyModel, type TinyNode } from './tiny-model.js';

export interface BlockOptions {
  /** Channels C (SDXL: 640, 1280); the GEGLU projection is C → 8C. */
  channels: number;
  batch?: number;
  sequence?: number;
  /** How the GEGLU halves are taken. */
  split?: 'slices' | 'split';
  /** How the Gelu's factors are grouped: TorchScript's (x·(1+erf))·0.5 or dynamo's x·(0.5·(1+erf)). */
  gelu?: 'torchscript' | 'dynamo';
  divideByOne?: boolean;
  /** Element type of the whole model (float16 weights and I/O). */
  dtype?: typeof DataType.FLOAT | typeof DataType.FLOAT16;
  opset?: number;
}

export function transformerBlockSpec(o: BlockOptions): TinyModel {
  const c = o.channels;
  const batch = o.batch ?? 2;
  const seq = o.sequence ?? 4;
  const dtype = o.dtype ?? DataType.FLOAT;
  const inits: TensorProto[] = [];
  let seed = 11;
  const weight = (name: string, dims: number[], scale: number): string => {
    const values = seededFloats(dims.reduce((a, b) => a * b, 1), seed++).map((v) => v * scale);
    inits.push(tensor(name, values, dims, dtype));
    return name;
  };
  const ones = (name: string, n: number) => (inits.push(tensor(name, new Array(n).fill(1), [n], dtype)), name);
  const scalar = (name: string, v: number) => (inits.push(tensor(name, [v], [], dtype)), name);
  const nodes: TinyNode[] = [];
  const op = (opType: string, inputs: string[], out: string, attrs?: TinyNode['attrs']) => (nodes.push({ op: opType, inputs, outputs: [out], attrs }), out);
  const linear = (x: string, name: string, cin: number, cout: number) =>
    op('Add', [op('MatMul', [x, weight(`${name}.weight`, [cin, cout], 1 / Math.sqrt(cin))], `${name}/MatMul`), weight(`${name}.bias`, [cout], 0.1)], `${name}/Add`);
  const norm = (x: string, name: string) => op('LayerNormalization', [x, ones(`${name}.weight`, c), weight(`${name}.bias`, [c], 0.1)], `${name}/LN`, { axis: -1, epsilon: { float: 1e-5 } });
  const attention = (x: string, name: string) => {
    const out = linear(x, name, c, c);
    return o.divideByOne ? op('Div', [out, scalar(`${name}.rescale`, 1)], `${name}/Div`) : out;
  };

  const h0 = linear('x', 'proj_in', c, c);
  const r1 = op('Add', [attention(norm(h0, 'norm1'), 'attn1'), h0], 'r1');
  const r2 = op('Add', [attention(norm(r1, 'norm2'), 'attn2'), r1], 'r2');
  const p = linear(norm(r2, 'norm3'), 'ff.proj', c, 8 * c);
  const [h, g] = halves(p, 8 * c, o.split ?? 'slices', nodes, inits);
  const erf = op('Erf', [op('Div', [g, scalar('sqrt2', Math.SQRT2)], 'ff/Div')], 'ff/Erf');
  const onePlus = op('Add', [erf, scalar('one', 1)], 'ff/Add1');
  const gelu =
    o.gelu === 'dynamo'
      ? op('Mul', [g, op('Mul', [scalar('half', 0.5), onePlus], 'ff/MulHalf')], 'ff/gelu')
      : op('Mul', [op('Mul', [g, onePlus], 'ff/MulX'), scalar('half', 0.5)], 'ff/gelu');
  const f = linear(op('Mul', [h, gelu], 'ff/Mul'), 'ff.out', 4 * c, c);
  const r3 = op('Add', [f, r2], 'r3');
  nodes.push({ op: 'Add', inputs: [op('MatMul', [r3, weight('proj_out.weight', [c, c], 1 / Math.sqrt(c))], 'proj_out/MatMul'), weight('proj_out.bias', [c], 0.1)], outputs: ['y'] });
  return {
    opset: o.opset ?? 17,
    inputs: [['x', dtype, [batch, seq, c]]],
    outputs: [['y', dtype, [batch, seq, c]]],
    nodes,
    initializers: inits,
  };
}

export function transformerBlock(o: BlockOptions): Model {
  return tinyModel(transformerBlockSpec(o));
}

/** The first and second halves of `p`'s last axis, as TorchScript (two Slices) or dynamo (one Split) write them. */
function halves(p: string, d: number, form: 'slices' | 'split', nodes: TinyNode[], inits: TensorProto[]): [string, string] {
  if (form === 'split') {
    nodes.push({ op: 'Split', inputs: [p], outputs: ['ff/h', 'ff/g'], attrs: { axis: 2, num_outputs: 2 } });
    return ['ff/h', 'ff/g'];
  }
  inits.push(int64Tensor('half_d', [d / 2]), int64Tensor('zero', [0]), int64Tensor('end', [Number.MAX_SAFE_INTEGER]), int64Tensor('last_axis', [-1]));
  nodes.push({ op: 'Slice', inputs: [p, 'zero', 'half_d', 'last_axis'], outputs: ['ff/h'] });
  nodes.push({ op: 'Slice', inputs: [p, 'half_d', 'end', 'last_axis'], outputs: ['ff/g'] });
  return ['ff/h', 'ff/g'];
}

function tensor(name: string, values: ArrayLike<number>, dims: number[], dtype: DataType): TensorProto {
  const data = dtype === DataType.FLOAT ? Float32Array.from(values) : float32ToFloat16Array(values);
  return { name, data_type: dtype, dims: dims.map((d) => Long.fromNumber(d)), raw_data: new Uint8Array(data.buffer) };
}

