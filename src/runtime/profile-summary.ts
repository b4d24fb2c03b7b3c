/**
 * Where the time goes, from ORT's profiler over the timed runs: per op type and per node, time per run and share of
 * all kernel time. On the CPU a kernel's time is its compute time. On CUDA, ORT times the host side of each kernel
 * call: kernels launch asynchronously, so most nodes show their launch cost and a node that waits for the GPU (a
 * Memcpy to the host, an op that reads a shape back) absorbs the time of the work queued before it. There, read the
 * table for CPU fallbacks and launch overhead, and compare wall-clock medians for speed.
 */
import type { KernelEvent } from './trace.js';

export interface OpTypeTime {
  opType: string;
  provider: string;
  /** Distinct nodes of this op type. */
  nodes: number;
  msPerRun: number;
  share: number;
}

export interface NodeTime {
  node: string;
  opType: string;
  provider: string;
  msPerRun: number;
  share: number;
}

export interface ProfileSummary {
  /** Timed runs the summary covers. */
  runs: number;
  /** Mean wall time of those runs as ORT measured it (model_run), ms. */
  runMs: number;
  /** Mean sum of kernel times per run, ms. */
  kernelMs: number;
  byOpType: OpTypeTime[];
  /** The slowest nodes, at most `topNodes`. */
  byNode: NodeTime[];
}

export function summarizeProfile(runs: readonly KernelEvent[][], runMs: number, topNodes = 50): ProfileSummary {
  const count = Math.max(runs.length, 1);
  const ops = new Map<string, { opType: string; provider: string; nodes: Set<string>; us: number }>();
  const nodes = new Map<string, { opType: string; provider: string; us: number }>();
  let totalUs = 0;
  for (const run of runs) {
    for (const k of run) {
      totalUs += k.dur;
      const opKey = `${k.opType}\u0000${k.provider}`;
      const op = ops.get(opKey) ?? { opType: k.opType, provider: k.provider, nodes: new Set<string>(), us: 0 };
      op.nodes.add(k.node);
      op.us += k.dur;
      ops.set(opKey, op);
      const node = nodes.get(k.node) ?? { opType: k.opType, provider: k.provider, us: 0 };
      node.us += k.dur;
      nodes.set(k.node, node);
    }
  }
  const share = (us: number): number => (totalUs > 0 ? us / totalUs : 0);
  const perRun = (us: number): number => us / 1000 / count;
  return {
    runs: runs.length,
    runMs,
    kernelMs: perRun(totalUs),
    byOpType: [...ops.values()]
      .map((o) => ({ opType: o.opType, provider: o.provider, nodes: o.nodes.size, msPerRun: perRun(o.us), share: share(o.us) }))
      .sort((a, b) => b.msPerRun - a.msPerRun),
    byNode: [...nodes.entries()]
      .map(([node, n]) => ({ node, opType: n.opType, provider: n.provider, msPerRun: perRun(n.us), share: share(n.us) }))
      .sort((a, b) => b.msPerRun - a.msPerRun)
      .slice(0, topNodes),
  };
}
