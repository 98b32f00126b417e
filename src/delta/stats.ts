import type { DuckSession, JsonRow } from '../duck/session.js';
import { fileList } from '../duck/files.js';
import { isDecimal, type DataType, type StructType } from './schema.js';

/** Strings longer than this keep a prefix as their minimum and no maximum (as Spark's prefix length). */
export const STRING_STATS_PREFIX = 32;

interface Leaf {
  path: string[];
  type: DataType;
}

function leaves(schema: StructType, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const f of schema.fields) {
    const path = [...prefix, f.name];
    if (typeof f.type === 'object' && f.type.type === 'struct') out.push(...leaves(f.type, path));
    else if (typeof f.type === 'string') out.push({ path, type: f.type });
  }
  return out;
}

/** A Parquet statistic (as DuckDB prints it) as the JSON value Delta stats hold; undefined = don't record. */
function statValue(raw: string, type: DataType, isMax: boolean): unknown {
  if (typeof type !== 'string') return undefined;
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
    case 'float':
    case 'double': {
      const n = Number(raw);
      return Number.isFinite(n) && !Object.is(n, -0) ? n : undefined;
    }
    case 'string':
      if ([...raw].length <= STRING_STATS_PREFIX) return raw;
      return isMax ? undefined : [...raw].slice(0, STRING_STATS_PREFIX).join('');
    case 'date':
      return raw.slice(0, 10);
    case 'timestamp':
    case 'timestamp_ntz': {
      // '2020-01-01 00:00:00.123456+00' -> '2020-01-01T00:00:00.123Z' (truncated to milliseconds)
      const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?/.exec(raw);
      if (!m) return undefined;
      const ms = ((m[3] ?? '.') + '000').slice(1, 4);
      return `${m[1]}T${m[2]}.${ms}${type === 'timestamp' ? 'Z' : ''}`;
    }
    default:
      if (isDecimal(type)) {
        const n = Number(raw);
        return Number.isFinite(n) ? n : undefined;
      }
      return undefined; // boolean, binary: nullCount only
  }
}

function less(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b))) < 0;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/**
 * Delta statistics (numRecords, minValues, maxValues, nullCount) of Parquet files, from their
 * footers only (no data is read). Keys are the files' local paths; values are the `stats` JSON.
 */
export async function collectFileStats(
  session: DuckSession,
  files: string[],
  schema: StructType,
): Promise<Map<string, { numRecords: number; stats: string }>> {
  const out = new Map<string, { numRecords: number; stats: string }>();
  if (files.length === 0) return out;
  const list = fileList(files);
  const counts = await session.all(`SELECT file_name, num_rows FROM parquet_file_metadata(${list})`);
  const meta = await session.all(
    `SELECT file_name, path_in_schema, stats_min_value, stats_max_value, stats_null_count, row_group_num_rows
       FROM parquet_metadata(${list})`,
  );
  const byFile = new Map<string, JsonRow[]>();
  for (const row of meta) {
    const rows = byFile.get(String(row.file_name)) ?? [];
    rows.push(row);
    byFile.set(String(row.file_name), rows);
  }
  const leafList = leaves(schema);
  for (const c of counts) {
    const file = String(c.file_name);
    const numRecords = Number(c.num_rows);
    const minValues: Record<string, unknown> = {};
    const maxValues: Record<string, unknown> = {};
    const nullCount: Record<string, unknown> = {};
    const rows = byFile.get(file) ?? [];
    for (const leaf of leafList) {
      const key = leaf.path.join(', ');
      const groups = rows.filter((r) => r.path_in_schema === key);
      if (groups.length === 0) continue;
      let nulls = 0;
      let min: unknown;
      let max: unknown;
      // Each bound is kept only if every row group has it; null counts add up over all row groups.
      let minOk = true;
      let maxOk = true;
      for (const g of groups) {
        const n = g.stats_null_count === null ? undefined : Number(g.stats_null_count);
        if (n === undefined) minOk = maxOk = false;
        else nulls += n;
        const rgRows = Number(g.row_group_num_rows);
        if (n === rgRows) continue; // all null in this row group: no min/max to take
        const lo =
          g.stats_min_value === null ? undefined : statValue(String(g.stats_min_value), leaf.type, false);
        const hi =
          g.stats_max_value === null ? undefined : statValue(String(g.stats_max_value), leaf.type, true);
        if (lo === undefined) minOk = false;
        else if (min === undefined || less(lo, min)) min = lo;
        if (hi === undefined) maxOk = false;
        else if (max === undefined || less(max, hi)) max = hi;
      }
      if (groups.every((g) => g.stats_null_count !== null)) setPath(nullCount, leaf.path, nulls);
      if (minOk && min !== undefined) setPath(minValues, leaf.path, min);
      if (maxOk && max !== undefined) setPath(maxValues, leaf.path, max);
    }
    const stats = JSON.stringify({ numRecords, minValues, maxValues, nullCount });
    out.set(file, { numRecords, stats });
  }
  return out;
}
