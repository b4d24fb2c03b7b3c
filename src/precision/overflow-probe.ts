/**
 * Finding the activations float16 cannot hold: the float32 model runs once on ONNX Runtime's CPU provider, at small
 * dims, with every float32 intermediate's largest magnitude as an extra output (Abs then ReduceMax: one number per
 * value, so even the full UNet's thousands of intermediates cost a few bytes each). Values past the threshold (a
 * margin under 65504: other inputs, other prompts and larger images give larger activations) are flagged, so that the
 * nodes making or reading them stay out of float16. The graph is restored before this returns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runOnCpu, type InputSpec } from './ort-cpu.js';
import { registerTempFile, unregisterTempFile } from '../io/temp-files.js';
import { writeModel } from '../io/write.js';
import { makeAttr } from '../ir/attributes.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { DataType } from '../onnx/dtype.js';

export interface OverflowProbeOptions {
  /** Magnitudes above this are flagged (default: a quarter of float16's 65504). */
  threshold: number;
  /** Sizes for the inputs' symbolic dims. */
  dims: Readonly<Record<string, number>>;
  /** The size of a symbolic dim `dims` does not name. */
  defaultDim: (name: string) => number;
  seed?: number;
  /** Where the model runs (default cpu); cuda runs graphs with CUDA-only contrib ops. */
  provider?: 'cpu' | 'cuda';
}

export interface OverflowProbeResult {
  /** Values whose largest magnitude exceeds the threshold (or that hold NaN or Infinity already in float32). */
  overflowing: Set<Value>;
  /** Largest magnitude of every probed value. */
  maxAbs: Map<Value, number>;
  probed: number;
}

export const DEFAULT_OVERFLOW_THRESHOLD = 0.25 * 65504;

/** Adds Abs → ReduceMax(all axes) for each value as graph outputs; returns what to remove afterwards. */
function instrument(model: Model, values: readonly Value[]): { nodes: Node[]; outputs: Map<string, Value> } {
  const graph = model.graph;
  const nodes: Node[] = [];
  const outputs = new Map<string, Value>();
  for (const v of values) {
    const abs = graph.createNode({ opType: 'Abs', name: `probe_abs_${v.name}`, inputs: [v], types: [v.type] });
    const max = graph.createNode({
      opType: 'ReduceMax',
      name: `probe_max_${v.name}`,
      inputs: [abs.output(0)],
      outputs: [`probe_max_${v.name}`],
      attributes: [makeAttr('keepdims', 0)],
      types: [{ dtype: DataType.FLOAT, shape: [] }],
    });
    graph.append(abs);
    graph.append(max);
    graph.outputs.push(max.output(0));
    nodes.push(abs, max);
    outputs.set(max.output(0).name, v);
  }
  return { nodes, outputs };
}

export async function probeOverflow(model: Model, options: OverflowProbeOptions): Promise<OverflowProbeResult> {
  const graph = model.graph;
  const values = [
    ...graph.inputs.filter((v) => v.initializer === undefined),
    ...graph.nodes().flatMap((n) => (n.is('Constant') ? [] : n.outputs)),
  ].filter((v) => v.type?.dtype === DataType.FLOAT && v.useCount + (v.isGraphOutput ? 1 : 0) > 0);
  const outputCount = graph.outputs.length;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-overflow-'));
  registerTempFile(dir);
  const added = instrument(model, values);
  try {
    const file = path.join(dir, 'probe.onnx');
    await writeModel(model, file);
    const inputs: InputSpec[] = graph.inputs
      .filter((v) => v.initializer === undefined)
      .map((v) => ({ name: v.name, dtype: v.type?.dtype ?? DataType.UNDEFINED, shape: v.type?.shape }));
    const results = await runOnCpu(file, inputs, [...added.outputs.keys()], {
      dims: options.dims,
      fallbackDim: options.defaultDim,
      seed: options.seed,
      provider: options.provider ?? 'cpu',
    });
    const overflowing = new Set<Value>();
    const maxAbs = new Map<Value, number>();
    for (const r of results) {
      const v = added.outputs.get(r.name)!;
      const m = Number((r.data as ArrayLike<number>)[0]);
      maxAbs.set(v, m);
      if (!(m <= options.threshold)) overflowing.add(v); // NaN fails every comparison: flagged too
    }
    return { overflowing, maxAbs, probed: values.length };
  } finally {
    graph.outputs.splice(outputCount);
    graph.remove(added.nodes);
    fs.rmSync(dir, { recursive: true, force: true });
    unregisterTempFile(dir);
  }
}
