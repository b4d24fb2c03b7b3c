/**
 * Micro-models for `filter: auto`: one layer shape at the rows the model really feeds it, as the float MatMul and
 * as the int8 form, built in memory for a ModelTimer. Weights are seeded pseudo-random values (timing must not
 * depend on all-zero data, which some hardware runs at lower power), quantized by the same code as the real pass.
 */
import { Graph } from '../../../src/ir/graph.js';
import { Model } from '../../../src/ir/model.js';
import { InlineData, Tensor } from '../../../src/ir/tensor.js';
import type { TensorType, Value } from '../../../src/ir/value.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { ChannelQuantizer } from './weights.js';
import { ConstantPool, rewriteToInt8, type Int8Form } from './subgraph.js';

export interface ProbeShape {
  rows: number;
  in: number;
  out: number;
  dtype: DataType;
}

/** "8192x1280x640 float16": rows × in × out. */
export function probeKey(p: ProbeShape): string {
  return `${p.rows}x${p.in}x${p.out}${p.dtype === DataType.FLOAT ? '' : p.dtype === DataType.FLOAT16 ? ' float16' : ' bfloat16'}`;
}

export interface ModelShell {
  irVersion: number;
  opsets: ReadonlyMap<string, number>;
}

/** The float layer and its int8 form, for timing side by side. */
export function probeModels(p: ProbeShape, form: Int8Form, shell: ModelShell, pass: string): { float: Model; int8: Model } {
  const weight = new Tensor(p.dtype, [p.in, p.out], new InlineData(seededWeights(p.dtype, p.in * p.out)));
  const float = layerModel(p, weight, shell);
  const int8 = layerModel(p, weight, shell);
  const g = int8.graph;
  const node = g.nodes().find((n) => n.is('MatMul'))!;
  const quantizer = new ChannelQuantizer(weight, false, 'probe weight');
  const q = g.addInitializer('w_int8', quantizer.quantizedTensor());
  const scale = g.addInitializer('w_scale', quantizer.scaleTensor());
  const w = node.input(1)!;
  rewriteToInt8(g, { node, x: node.input(0)!, dtype: p.dtype, weight: { q, scale } }, form, new ConstantPool(g), pass);
  g.removeInitializer(w);
  if (form.target === 'cpu') int8.requireOpset('com.microsoft', 1);
  return { float, int8 };
}

/**
 * x [rows, in] → MatMul → y [rows, out]. ORT's JavaScript API has no bfloat16 tensors, so a bfloat16 layer takes
 * and gives float32 through Casts (the same in both models).
 */
function layerModel(p: ProbeShape, weight: Tensor, shell: ModelShell): Model {
  const g = new Graph(`int8-probe-${p.rows}x${p.in}x${p.out}`);
  const io = p.dtype === DataType.BFLOAT16 ? DataType.FLOAT : p.dtype;
  const x = g.createValue('x', { dtype: io, shape: [p.rows, p.in] });
  g.inputs.push(x);
  const w = g.addInitializer('w', weight);
  let a = x;
  if (io !== p.dtype) a = append(g, 'Cast', [x], { dtype: p.dtype, shape: [p.rows, p.in] }, { to: p.dtype });
  let y = append(g, 'MatMul', [a, w], { dtype: p.dtype, shape: [p.rows, p.out] });
  if (io !== p.dtype) y = append(g, 'Cast', [y], { dtype: io, shape: [p.rows, p.out] }, { to: io });
  g.outputs.push(y);
  return new Model(g, shell.irVersion, new Map(shell.opsets));
}

function append(g: Graph, opType: string, inputs: Value[], type: TensorType, attrs: Record<string, number> = {}): Value {
  const node = g.createNode({ opType, inputs, types: [type] });
  for (const [k, v] of Object.entries(attrs)) node.setAttr(k, v);
  g.append(node);
  return node.output();
}

/**
 * Values in ±[2^-10, 1) with random signs and mantissas, written straight as bits in each float type (no
 * conversion needed, and nothing subnormal).
 */
export function seededWeights(dtype: DataType, count: number, seed = 1): Uint8Array {
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  if (dtype === DataType.FLOAT) {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (next() / 2 ** 31 - 1) || 0.5;
    return new Uint8Array(out.buffer);
  }
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const r = next();
    if (dtype === DataType.FLOAT16) out[i] = ((r >>> 31) << 15) | ((5 + (r % 10)) << 10) | ((r >>> 8) & 0x3ff);
    else out[i] = ((r >>> 31) << 15) | ((117 + (r % 10)) << 7) | ((r >>> 8) & 0x7f); // bfloat16
  }
  return new Uint8Array(out.buffer);
}
