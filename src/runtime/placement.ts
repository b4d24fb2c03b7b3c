/**
 * Which execution provider ran which node, read from one profiled run.
 *
 * The rule for "compute on the CPU" in a CUDA session. ORT's CUDA provider deliberately leaves small shape
 * computations on the CPU (its "CPU-preferred nodes": Shape → Gather → Concat → Reshape chains whose values are
 * needed on the host), and copies data across with MemcpyToHost / MemcpyFromHost nodes. Neither is a fallback of
 * real work. So a node that ran on CPUExecutionProvider counts as CPU compute unless
 *   1. it is a MemcpyToHost / MemcpyFromHost node, or
 *   2. it is shape-like: every output is an integer or bool tensor (shapes, indices, masks), or every output has at
 *      most SHAPE_LIKE_MAX_ELEMENTS elements (scalars such as an attention scale computed from a shape).
 * Anything else (a Resize, an InstanceNormalization, a MatMul on activations) is compute, and in a CUDA session it
 * costs two copies and a CPU kernel per call. In a CPU session every node is on the CPU by request: none is listed.
 */
import type { Provider } from './ort.js';
import type { KernelEvent } from './trace.js';

export interface Placement {
  /** Nodes per execution provider (ORT's names: CPUExecutionProvider, CUDAExecutionProvider). */
  byProvider: Record<string, number>;
  /** MemcpyToHost + MemcpyFromHost nodes ORT inserted between providers. */
  memcpy: number;
  /** Names of nodes doing real work on the CPU in a session that asked for another provider (see the rule above). */
  cpuComputeNodes: string[];
  /** Op types of those nodes, with counts. */
  cpuComputeOps: Record<string, number>;
  /** CPU nodes judged shape-like (not counted as compute). */
  cpuShapeNodes: number;
}

export const CPU_PROVIDER = 'CPUExecutionProvider';
export const SHAPE_LIKE_MAX_ELEMENTS = 64;
const MEMCPY_OPS = new Set(['MemcpyToHost', 'MemcpyFromHost']);

/** Placement from the kernel events of ONE run (each node once). */
export function placementOf(kernels: readonly KernelEvent[], provider: Provider): Placement {
  const placement: Placement = { byProvider: {}, memcpy: 0, cpuComputeNodes: [], cpuComputeOps: {}, cpuShapeNodes: 0 };
  for (const k of kernels) {
    placement.byProvider[k.provider] = (placement.byProvider[k.provider] ?? 0) + 1;
    if (MEMCPY_OPS.has(k.opType)) {
      placement.memcpy++;
      continue;
    }
    if (provider === 'cpu' || k.provider !== CPU_PROVIDER) continue;
    if (isShapeLike(k)) {
      placement.cpuShapeNodes++;
    } else {
      placement.cpuComputeNodes.push(k.node);
      placement.cpuComputeOps[k.opType] = (placement.cpuComputeOps[k.opType] ?? 0) + 1;
    }
  }
  return placement;
}

export function isShapeLike(k: KernelEvent): boolean {
  if (k.outputs.length === 0) return false; // nothing known about it: assume it works
  const integral = k.outputs.every((o) => /^(u?int\d+|bool)$/i.test(o.dtype));
  const tiny = k.outputs.every((o) => o.dims.reduce((n, d) => n * d, 1) <= SHAPE_LIKE_MAX_ELEMENTS);
  return integral || tiny;
}

/** One line: "CUDAExecutionProvider 2810, CPUExecutionProvider 10; 4 Memcpy; 0 CPU compute nodes". */
export function describePlacement(p: Placement): string {
  const providers = Object.entries(p.byProvider)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  const compute = p.cpuComputeNodes.length
    ? `; ${p.cpuComputeNodes.length} compute nodes on the CPU (${Object.entries(p.cpuComputeOps).map(([op, n]) => `${op} ×${n}`).join(', ')})`
    : '';
  return `${providers}; ${p.memcpy} Memcpy${compute}`;
}
