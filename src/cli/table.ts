/** Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned. */

export type Align = 'left' | 'right';

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A number with `digits` decimals, or '-' when absent or not finite. */
export function fixed(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
