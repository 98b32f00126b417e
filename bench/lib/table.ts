/** Plain-text tables for the benchmark report: numbers right-aligned, text left-aligned. */

export type Cell = string | number | null | undefined;

/** Formats a number with `digits` significant-looking decimals; '-' for missing. */
export function fmt(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 1000 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(Math.max(0, digits - 2));
  if (Math.abs(value) >= 10) return value.toFixed(Math.max(0, digits - 1));
  return value.toFixed(digits);
}

/** Renders rows under a header; a row of `null` only is a separator line. */
export function renderTable(header: string[], rows: (Cell[] | null)[]): string {
  const text = rows.map((r) =>
    r ? r.map((c) => (c === null || c === undefined ? '-' : typeof c === 'number' ? fmt(c) : c)) : null,
  );
  const numeric = header.map((_, i) =>
    text.every((r) => !r || r[i] === '-' || /^[-+]?[\d,.]+[×%]?$/.test(r[i] ?? '')),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => (r ? (r[i] ?? '').length : 0))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...text.map((r) => (r ? line(r) : sep))].join('\n') + '\n';
}
