/** A graph summarized for reports: nodes by op type, initializers by element type, the interface. */
import type { Graph } from '../ir/graph.js';
import type { Dim } from '../ir/value.js';
import { dataTypeName } from '../onnx/dtype.js';

export interface GraphStats {
  nodes: number;
  /** Node count by op type ("Conv", "com.microsoft.MultiHeadAttention"), most frequent first. */
  opTypes: Record<string, number>;
  initializers: number;
  initializerBytes: number;
  /** Initializer bytes by element type name ("float", "float16"). */
  initializerBytesByDtype: Record<string, number>;
  inputs: InterfaceValue[];
  outputs: InterfaceValue[];
}

export interface InterfaceValue {
  name: string;
  dtype?: string;
  shape?: (number | string | null)[];
}

export function graphStats(graph: Graph): GraphStats {
  const ops = new Map<string, number>();
  for (const node of graph) {
    const key = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    ops.set(key, (ops.get(key) ?? 0) + 1);
  }
  const byDtype = new Map<string, number>();
  let bytes = 0;
  const initializers = graph.initializers();
  for (const v of initializers) {
    const t = v.initializer!;
    const name = dataTypeName(t.dtype);
    byDtype.set(name, (byDtype.get(name) ?? 0) + t.byteLength);
    bytes += t.byteLength;
  }
  return {
    nodes: graph.nodeCount,
    opTypes: sortedRecord(ops),
    initializers: initializers.length,
    initializerBytes: bytes,
    initializerBytesByDtype: sortedRecord(byDtype),
    inputs: graph.inputs.filter((v) => !v.initializer).map(interfaceValue),
    outputs: graph.outputs.map(interfaceValue),
  };
}

function interfaceValue(v: Graph['inputs'][number]): InterfaceValue {
  const out: InterfaceValue = { name: v.name };
  if (v.type) out.dtype = dataTypeName(v.type.dtype);
  if (v.type?.shape) out.shape = v.type.shape.map((d: Dim) => d ?? null);
  return out;
}

/** Largest count first, then by name: stable output for reports and diffs. */
function sortedRecord(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
