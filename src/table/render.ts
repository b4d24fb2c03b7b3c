/** The progression table as Markdown: what a results file quotes. */
import type { TableReport } from './compare.js';

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const sci = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : '—');

export function renderTable(r: TableReport, environment: string): string {
  const dims = Object.entries(r.dims).map(([k, v]) => `${k}=${v}`).join(', ') || '(static)';
  const lines = [
    `Model: \`${r.model}\`; provider ${r.provider}; dims ${dims}; ${r.iters} timed rounds after ${r.warmup} warm-up, each round running the original and the candidate back to back in one process.`,
    '',
    `${environment}`,
    '',
    `Original (fp32 as given): median ${f(r.original.medianMs)} ms over all rounds (min ${f(r.original.minMs)}, max ${f(r.original.maxMs)}), load ${f(r.original.loadMs / 1000)} s.`,
    '',
    '| form | median ms | original ms (same rounds) | speed-up | cosine | rel L2 | max abs | non-finite | CPU compute nodes | Memcpy | nodes | size GB | build s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    if (row.error) {
      lines.push(`| ${row.label} | failed: ${row.error.replace(/\|/g, '\\|')} |||||||||||| `);
      continue;
    }
    const worst = row.outputs.reduce(
      (w, o) => ({ cosine: Math.min(w.cosine, o.cosine), relL2: Math.max(w.relL2, o.relL2), maxAbs: Math.max(w.maxAbs, o.maxAbs), nonFinite: w.nonFinite + o.nonFinite.candidate }),
      { cosine: 1, relL2: 0, maxAbs: 0, nonFinite: 0 },
    );
    lines.push(
      `| ${row.label}${row.passed ? '' : ' ✗'} | ${f(row.medianMs)} | ${f(row.originalMedianMs)} | ${f(row.speedup, 2)}× | ${worst.cosine.toFixed(6)} | ${sci(worst.relL2)} | ${sci(worst.maxAbs)} | ${worst.nonFinite} | ${row.placement ? row.placement.cpuComputeNodes.length : '—'} | ${row.placement?.memcpy ?? '—'} | ${row.nodes} | ${f(row.bytes / 1e9, 2)} | ${f(row.buildMs / 1000)} |`,
    );
  }
  const failed = r.rows.filter((row) => !row.passed && !row.error);
  if (failed.length) {
    lines.push('', '✗ failed parity or placement:');
    for (const row of failed) lines.push(`- ${row.label}: ${row.failures.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}
