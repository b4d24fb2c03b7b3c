/**
 * The check a precision rewrite must pass: every node's float data agrees on one type (ONNX Runtime refuses an Add
 * of a float16 and a float32), and inputs that kernels need as float32 are float32. Shape inference does not catch a
 * mixed-type Add (its rule takes the first input's type), so this looks at the operands themselves.
 */
import { inputRole, outputRole, signatureOf } from './signatures.js';
import type { Graph } from '../ir/graph.js';
import { DataType, dataTypeName, isFloatType } from '../onnx/dtype.js';

/** One line per node whose float inputs and outputs disagree. */
export function precisionProblems(graph: Graph): string[] {
  const problems: string[] = [];
  for (const node of graph) {
    if (node.is('Cast')) {
      const to = node.attrInt('to', 0);
      const out = node.output(0).type?.dtype;
      if (out !== undefined && out !== to) problems.push(`${node}: casts to ${dataTypeName(to)} but its output is typed ${dataTypeName(out)}`);
      continue;
    }
    const sig = signatureOf(node);
    if (!sig) continue;
    const types = new Set<number>();
    node.inputs.forEach((v, i) => {
      const t = v?.type?.dtype;
      if (t !== undefined && inputRole(sig, i) === 'T' && isFloatType(t)) types.add(t);
    });
    node.outputs.forEach((v, i) => {
      const t = v.type?.dtype;
      if (t !== undefined && outputRole(sig, i) === 'T' && isFloatType(t)) types.add(t);
    });
    if (types.size > 1) problems.push(`${node}: float data in ${[...types].map(dataTypeName).join(' and ')}`);
    if (node.is('GroupNorm', 'com.microsoft') || node.is('SkipGroupNorm', 'com.microsoft')) {
      for (const i of [1, 2]) {
        const t = node.input(i)?.type?.dtype;
        if (t !== undefined && t !== DataType.FLOAT) problems.push(`${node}: ${i === 1 ? 'gamma' : 'beta'} is ${dataTypeName(t)}; ONNX Runtime's CUDA kernel reads float32`);
      }
    }
  }
  return problems;
}
