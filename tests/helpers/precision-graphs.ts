/** Small models for precision tests, built in code, and the context a pass runs with outside the engine. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultParams, type PassContext, type PassDefinition, type PassResult } from '../../src/engine/pass.js';
import { makeAttr, type AttributeValue } from '../../src/ir/attributes.js';
import { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import type { Dim, Value } from '../../src/ir/value.js';
import { DataType } from '../../src/onnx/dtype.js';

export class ModelBuilder {
  readonly graph = new Graph('test');
  readonly model: Model;

  constructor(opset = 17, extraOpsets: Record<string, number> = {}) {
    this.model = new Model(this.graph, 8, new Map([['', opset], ...Object.entries(extraOpsets)]));
  }

  input(name: string, dtype: DataType, shape: Dim[]): Value {
    const v = this.graph.createValue(name, { dtype, shape });
    this.graph.inputs.push(v);
    return v;
  }

  floats(name: string, dims: number[], data: ArrayLike<number>): Value {
    return this.graph.addInitializer(name, new Tensor(DataType.FLOAT, dims, new InlineData(new Uint8Array(Float32Array.from(data).buffer))));
  }

  /** A float32 weight with deterministic values in [-scale, scale). */
  weight(name: string, dims: number[], scale = 0.5): Value {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.floats(name, dims, Array.from({ length: n }, (_, i) => (((i * 7919) % 1000) / 1000 - 0.5) * 2 * scale));
  }

  int64s(name: string, data: number[], dims = [data.length]): Value {
    return this.graph.addInitializer(name, new Tensor(DataType.INT64, dims, new InlineData(new Uint8Array(BigInt64Array.from(data, (x) => BigInt(x)).buffer))));
  }

  node(opType: string, inputs: (Value | undefined)[], attrs: Record<string, AttributeValue> = {}, options: { outputs?: number; domain?: string; name?: string } = {}): Node {
    const node = this.graph.createNode({
      opType,
      domain: options.domain,
      name: options.name ?? opType,
      inputs,
      outputs: options.outputs ?? 1,
      attributes: Object.entries(attrs).map(([k, v]) => makeAttr(k, v)),
    });
    this.graph.append(node);
    return node;
  }

  op(opType: string, inputs: (Value | undefined)[], attrs: Record<string, AttributeValue> = {}, options: { domain?: string; name?: string } = {}): Value {
    return this.node(opType, inputs, attrs, options).output(0);
  }

  output(v: Value): Value {
    this.graph.outputs.push(v);
    return v;
  }
}

export interface RunResult {
  result: PassResult;
  logs: string[];
}

/** Runs a pass outside the engine, with the defaults of its params under `params`. */
export async function runPass<P extends object>(
  pass: PassDefinition<P>,
  model: Model,
  params: Partial<P> = {},
  context: Partial<Pick<PassContext, 'dims' | 'target'>> = {},
): Promise<RunResult> {
  const logs: string[] = [];
  const ctx: PassContext = {
    model,
    graph: model.graph,
    dims: context.dims ?? {},
    target: context.target ?? 'cuda',
    log: (m) => logs.push(m),
    progress() {},
  };
  const result = await pass.run(ctx, { ...defaultParams(pass), ...params } as P);
  return { result, logs };
}

export function nodeNamed(model: Model, name: string): Node {
  const node = model.graph.nodes().find((n) => n.name === name);
  if (!node) throw new Error(`no node named ${name}`);
  return node;
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Cosine similarity and largest absolute difference of two equally long arrays. */
export function similarity(a: ArrayLike<number>, b: ArrayLike<number>): { cosine: number; maxAbs: number; finite: boolean } {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbs = 0;
  let finite = true;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(y)) finite = false;
    dot += x * y;
    na += x * x;
    nb += y * y;
    maxAbs = Math.max(maxAbs, Math.abs(x - y));
  }
  return { cosine: dot / Math.sqrt(na * nb), maxAbs, finite };
}
