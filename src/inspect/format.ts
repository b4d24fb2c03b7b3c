/** The inspect report as text for a terminal: aligned tables, thousands separators, FLOPs in T/G. */
import type { InspectReport, TensorSummary } from '../inspect.js';
import type { Dim } from '../ir/value.js';
import type { AttentionBlock } from './attention.js';
import type { NonFiniteWeights } from './non-finite.js';

const int = (n: number) => n.toLocaleString('en-US');

function si(n: number): string {
  for (const [unit, scale] of [['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3]] as const) {
    if (n >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
  }
  return String(n);
}

function bytes(n: number): string {
  for (const [unit, scale] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
  }
  return `${n} B`;
}

function shape(s: readonly Dim[] | null): string {
  return s ? `[${s.map((d) => (d === undefined || d === null ? '?' : String(d))).join(', ')}]` : '[?]';
}

const tuple = (s: readonly Dim[]) => `(${s.map((d) => d ?? '?').join(', ')})`;

/** Rows as aligned columns; numbers (or the columns listed in `right`) right-aligned. */
function table(rows: string[][], right: readonly number[] = [], indent = '  '): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => r[c]!.length))) ?? [];
  return rows.map((r) => indent + r.map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

function tensors(list: TensorSummary[]): string[] {
  return table(list.map((t) => [t.name, t.dtype, shape(t.shape)]));
}

function attentionGroups(blocks: AttentionBlock[]): string[] {
  const groups = new Map<string, { row: string[]; count: number }>();
  for (const b of blocks) {
    const row = [b.form === 'MultiHeadAttention' ? 'MultiHeadAttention' : 'MatMul/Softmax/MatMul', b.kind, b.kind === 'cross' ? b.keySource : '(same as query)', String(b.heads ?? '?'), String(b.queryLength ?? '?'), String(b.keyLength ?? '?'), String(b.headSize ?? '?')];
    const key = row.join('|');
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { row, count: 1 });
  }
  const rows = [['form', 'kind', 'key from', 'heads', 'q len', 'kv len', 'head size', 'count'], ...[...groups.values()].map((g) => [...g.row, String(g.count)])];
  return table(rows, [3, 4, 5, 6, 7]);
}

function nonFiniteLines(w: NonFiniteWeights): string[] {
  const unread = w.unread ? ` (${int(w.unread)} not read: their external data is absent)` : '';
  if (!w.tensors.length) return [`weights: no NaN or Infinity in ${int(w.scanned)} float tensors${unread}`];
  const lines = [`weights: NaN or Infinity in ${w.tensors.length} of ${int(w.scanned)} float tensors (${int(w.nan)} NaN, ${int(w.posInf)} +Inf, ${int(w.negInf)} -Inf)${unread}`];
  const shown = w.tensors.slice(0, 20);
  lines.push(...table([['tensor', 'dtype', 'NaN', '+Inf', '-Inf'], ...shown.map((t) => [t.name, t.dtype, int(t.nan), int(t.posInf), int(t.negInf)])], [2, 3, 4]));
  if (w.tensors.length > shown.length) lines.push(`  ... and ${w.tensors.length - shown.length} more (--json lists all)`);
  return lines;
}

export function formatInspectReport(r: InspectReport, source: string): string {
  const lines: string[] = [];
  const opsets = Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(', ');
  lines.push(`model       ${source}`);
  lines.push(`IR version  ${r.irVersion}    opsets: ${opsets}`);
  lines.push(`producer    ${r.producer || '(none)'}`);
  lines.push('', 'inputs', ...tensors(r.inputs), 'outputs', ...tensors(r.outputs));

  lines.push('', `nodes: ${int(r.nodeCount)}`);
  lines.push(...table(Object.entries(r.opTypes).map(([op, n]) => [op, int(n)]), [1]));

  const p = r.parameters;
  lines.push('', `parameters: ${int(p.count)} (${bytes(p.bytes)} in ${int(p.initializers)} initializers)`);
  if (p.shared) lines.push(`  ${int(p.storedCount)} stored: ${p.shared} initializers are read by several nodes and count once per reader`);
  lines.push(...table(Object.entries(p.byDtype).map(([dt, e]) => [dt, int(e.count), `${int(e.bytes)} bytes`]), [1, 2]));

  if (r.weightShapes.matmul.length) {
    lines.push('', 'weight MatMul/Gemm (in, out): count');
    lines.push(...table(r.weightShapes.matmul.map((e) => [tuple(e.shape), String(e.count)]), [1]));
  }
  if (r.weightShapes.conv.length) {
    lines.push('', 'Conv (in, out, kh, kw): count');
    lines.push(...table(r.weightShapes.conv.map((e) => [tuple(e.shape), String(e.count)]), [1]));
  }

  const a = r.attention;
  lines.push('', `attention: ${a.blocks.length} block${a.blocks.length === 1 ? '' : 's'} (${a.self} self, ${a.cross} cross; ${a.multiHeadAttention} MultiHeadAttention)`);
  if (a.blocks.length) lines.push(...attentionGroups(a.blocks));

  const at = Object.entries(r.dims).map(([k, v]) => `${k}=${v}`).join(', ') || 'the model\'s own shapes';
  const f = r.flops;
  lines.push('', `FLOPs at ${at}: ${si(f.total)}${f.unresolved ? ' (partial)' : ''}`);
  if (f.unresolved) {
    const need = r.symbolicDims.length ? `give --dims for ${r.symbolicDims.join(', ')}` : 'some shapes are unknown';
    lines.push(`  ${f.unresolved} nodes not counted: ${need}`);
  }
  if (r.ignoredDims.length) lines.push(`  no input has the dims ${r.ignoredDims.join(', ')}`);
  lines.push(...table(Object.entries(f.byOp).sort((x, y) => y[1] - x[1]).map(([op, n]) => [op, si(n)]), [1]));
  lines.push(`  by kind: weights ${si(f.byKind.weights)}, attention ${si(f.byKind.attention)}, other ${si(f.byKind.other)}`);

  if (r.nonFiniteWeights) lines.push('', ...nonFiniteLines(r.nonFiniteWeights));

  const inf = r.inference;
  const unknown = Object.entries(inf.unknownOps).map(([op, n]) => `${op} ×${n}`);
  if (inf.complete < inf.values || unknown.length || inf.issues.length) {
    lines.push('', `types: ${int(inf.complete)} of ${int(inf.values)} values fully known`);
    if (unknown.length) lines.push(`  no inference rule for: ${unknown.join(', ')}`);
    for (const issue of inf.issues.slice(0, 10)) lines.push(`  ${issue}`);
    if (inf.issues.length > 10) lines.push(`  ... and ${inf.issues.length - 10} more`);
  }
  return lines.join('\n') + '\n';
}
