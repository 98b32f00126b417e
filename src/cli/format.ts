import type { JsonRow } from '../duck/session.js';
import { UsageError } from './errors.js';

/** Output formats of commands that print rows. */
export type OutputFormat = 'table' | 'jsonl' | 'json';

export function parseFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'jsonl' || value === 'json') return value;
  throw new UsageError(`unknown format '${value}' (use table, jsonl or json)`);
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Renders rows as an aligned text table (long cells are cut to `maxWidth`). */
export function renderTable(rows: JsonRow[], columns?: string[], maxWidth = 60): string {
  const cols = columns ?? (rows[0] ? Object.keys(rows[0]) : []);
  if (cols.length === 0) return '(no rows)\n';
  const cut = (s: string) => (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s);
  const cells = rows.map((r) => cols.map((c) => cut(cell(r[c])).replace(/\n/g, ' ')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  return out.join('\n') + '\n';
}
