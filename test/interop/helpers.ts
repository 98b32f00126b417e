/**
 * Shared pieces of the interop suite: running the Python helpers (delta-rs, Spark) and reading
 * tweetlake tables into the same canonical row form that test/interop/py/canon.py produces.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { ident, literal } from '../../src/duck/session.js';
import {
  decodeActionPath,
  DeltaTable,
  typeToString,
  type DataType,
  type Snapshot,
  type StructType,
} from '../../src/delta/index.js';

export const PY_DIR = nodePath.join(nodePath.dirname(fileURLToPath(import.meta.url)), 'py');

/** The interpreter of the interop virtual environment (run.sh exports it). */
export function pythonBin(): string {
  const bin = process.env.TWEETLAKE_PYTHON;
  if (!bin) throw new Error('TWEETLAKE_PYTHON is not set: run the suite with `npm run test:interop`');
  return bin;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Runs a helper script; resolves with stdout, rejects with stderr's tail when it exits non-zero. */
export function runPython(script: string, args: string[], timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      pythonBin(),
      [nodePath.join(PY_DIR, script), ...args],
      { maxBuffer: 1 << 30, timeout: timeoutMs, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script} failed (${err.message}):\n${String(stderr).slice(-8000)}`));
        else resolve(String(stdout));
      },
    );
  });
}

/** Runs a helper that takes a JSON spec file and writes a JSON result file. */
export async function runPythonJson<T>(script: string, spec: unknown, extraArgs: string[] = []): Promise<T> {
  const dir = await fs.mkdtemp(nodePath.join(tmpdir(), 'tweetlake-interop-py-'));
  try {
    const specFile = nodePath.join(dir, 'spec.json');
    const outFile = nodePath.join(dir, 'out.json');
    await fs.writeFile(specFile, JSON.stringify(spec));
    await runPython(script, ['--batch', specFile, '--out', outFile, ...extraArgs]);
    return JSON.parse(await fs.readFile(outFile, 'utf8')) as T;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** What a reader saw of one table version, in canonical form. */
export interface RowsSummary {
  numRows: number;
  /** sha256 of the sorted rows' JSON lines. */
  digest: string;
  /** The sorted rows, when there are at most 5000. */
  rows?: Record<string, Json>[];
  rowsHead?: Record<string, Json>[];
}

/** dump_deltalake.py's answer for one table version. */
export interface DeltaRsDump extends Partial<RowsSummary> {
  table: string;
  requestedVersion?: number;
  version?: number;
  schema?: string;
  partitionColumns?: string[];
  configuration?: Record<string, string>;
  protocol?: {
    minReaderVersion: number;
    minWriterVersion: number;
    readerFeatures: string[] | null;
    writerFeatures: string[] | null;
  };
  files?: string[];
  reader?: string;
  arrowSchema?: string;
  error?: string;
  rowsError?: string;
  history?: { version: number; operation: string }[];
  vacuumDryRun?: string[];
}

/** Reads table versions with delta-rs (one Python process for all of them). */
export function deltaRsDump(
  specs: {
    table: string;
    version?: number;
    noRows?: boolean;
    reader?: 'pyarrow';
    history?: boolean;
    vacuumDryRun?: boolean;
    /** delta-rs storage_options (an s3:// table: endpoint, credentials, region, AWS_ALLOW_HTTP). */
    storageOptions?: Record<string, string>;
  }[],
): Promise<DeltaRsDump[]> {
  return runPythonJson<DeltaRsDump[]>('dump_deltalake.py', specs);
}

// ---------------------------------------------------------------------------------------------
// Canonical form (must match py/canon.py exactly)

/** Python's repr() of a float. */
export function pyFloatRepr(value: number | string | null): string | null {
  if (value === null) return null;
  const n = typeof value === 'string' ? Number(value) : value;
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const sign = n < 0 ? '-' : '';
  const [mant, expText] = Math.abs(n).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const frac = digits.slice(1);
    const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
    return `${sign}${digits[0]}${frac ? `.${frac}` : ''}e${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const fracPart = digits.slice(exp + 1);
  return `${sign}${intPart}.${fracPart || '0'}`;
}

function utcMs(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(0, 0, 0, 0);
  return d.getTime();
}
const YEAR1_MS = utcMs(1, 0, 1);
const YEAR10000_MS = utcMs(10000, 0, 1);

/** Canonical timestamp: ISO with microseconds for years 1..9999 (Z when zoned), else 'us:N'. */
export function canonTimestampUs(text: string | number | null, zoned: boolean): string | null {
  if (text === null) return null;
  const us = BigInt(text);
  let ms = us / 1000n;
  if (ms * 1000n > us) ms -= 1n; // floor for negatives
  const micros = Number(us - ms * 1000n);
  const msNum = Number(ms);
  if (msNum < YEAR1_MS || msNum >= YEAR10000_MS) return `us:${us}`;
  const iso = new Date(msNum).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = String((((msNum % 1000) + 1000) % 1000) * 1000 + micros).padStart(6, '0');
  return `${iso.slice(0, 19)}.${frac}${zoned ? 'Z' : ''}`;
}

/** Canonical date: 'YYYY-MM-DD' for years 1..9999, else 'days:N'. */
export function canonDateDays(days: string | number | null): string | null {
  if (days === null) return null;
  const n = Number(days);
  const ms = n * 86_400_000;
  if (ms < YEAR1_MS || ms >= YEAR10000_MS) return `days:${n}`;
  return new Date(ms).toISOString().slice(0, 10);
}

/** JSON text with object keys sorted (code point order), as Python's json.dumps(sort_keys=True). */
export function jsonText(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  const keys = Object.keys(value).sort(compareCodePoints);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jsonText((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** String order by Unicode code point (Python's), not UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A DuckDB expression turning a value of a Delta type into a JSON-friendly, lossless form. */
export function canonSql(expr: string, type: DataType, depth = 0): string {
  if (typeof type === 'string') {
    if (type.startsWith('decimal(')) return `CAST(${expr} AS VARCHAR)`;
    switch (type) {
      case 'byte':
      case 'short':
      case 'integer':
      case 'long':
        return `CAST(${expr} AS VARCHAR)`;
      case 'float':
        return `CAST(${expr} AS DOUBLE)`;
      case 'binary':
        return `lower(hex(${expr}))`;
      case 'date':
        return `CAST(date_diff('day', DATE '1970-01-01', ${expr}) AS VARCHAR)`;
      case 'timestamp':
      case 'timestamp_ntz':
        return `CAST(epoch_us(${expr}) AS VARCHAR)`;
      default:
        return expr;
    }
  }
  const v = `x${depth}`;
  if (type.type === 'struct') {
    if (type.fields.length === 0) return expr;
    const members = type.fields
      .map((f) => `${literal(f.name)}: ${canonSql(`${expr}.${ident(f.name)}`, f.type, depth + 1)}`)
      .join(', ');
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE {${members}} END`;
  }
  if (type.type === 'array')
    return `list_transform(${expr}, ${v} -> ${canonSql(v, type.elementType, depth + 1)})`;
  return (
    `CASE WHEN ${expr} IS NULL THEN NULL ELSE list_transform(map_entries(${expr}), ${v} -> ` +
    `{'k': ${canonSql(`${v}.key`, type.keyType, depth + 1)}, 'v': ${canonSql(`${v}.value`, type.valueType, depth + 1)}}) END`
  );
}

/** Finishes, in JS, the canonical value of what `canonSql` produced. */
export function canonValue(value: unknown, type: DataType): Json {
  if (value === null || value === undefined) return null;
  if (typeof type === 'string') {
    switch (type) {
      case 'float':
      case 'double':
        return pyFloatRepr(value as number | string);
      case 'date':
        return canonDateDays(value as string);
      case 'timestamp':
        return canonTimestampUs(value as string, true);
      case 'timestamp_ntz':
        return canonTimestampUs(value as string, false);
      default:
        return value as Json;
    }
  }
  if (type.type === 'struct') {
    const obj = value as Record<string, unknown>;
    const out: Record<string, Json> = {};
    for (const f of type.fields) out[f.name] = canonValue(obj[f.name], f.type);
    return out;
  }
  if (type.type === 'array') return (value as unknown[]).map((e) => canonValue(e, type.elementType));
  const pairs = (value as { k: unknown; v: unknown }[]).map(
    (e) => [canonValue(e.k, type.keyType), canonValue(e.v, type.valueType)] as Json[],
  );
  return pairs.sort((a, b) => compareCodePoints(jsonText(a), jsonText(b)));
}

/** Sorted canonical rows → summary with the same digest rule as canon.py. */
export function summarise(lines: string[], maxRows = 5000): RowsSummary {
  lines.sort(compareCodePoints);
  const digest = createHash('sha256').update(lines.join('\n'), 'utf8').digest('hex');
  const out: RowsSummary = { numRows: lines.length, digest };
  if (lines.length <= maxRows) out.rows = lines.map((l) => JSON.parse(l) as Record<string, Json>);
  else out.rowsHead = lines.slice(0, 20).map((l) => JSON.parse(l) as Record<string, Json>);
  return out;
}

/** Canonical rows of a tweetlake snapshot (read through tweetlake's scan). */
export async function tweetlakeRows(table: DeltaTable, snapshot: Snapshot): Promise<RowsSummary> {
  const plan = await table.scan(snapshot);
  try {
    const fields = snapshot.schema.fields.filter((f) => f.type !== 'void');
    const select = fields.length
      ? fields.map((f) => `${canonSql(ident(f.name), f.type)} AS ${ident(f.name)}`).join(', ')
      : '1 AS __empty';
    const lines: string[] = [];
    for await (const chunk of table.session.stream(`SELECT ${select} FROM (${plan.sql})`)) {
      for (const row of chunk) {
        const out: Record<string, Json> = {};
        for (const f of fields) out[f.name] = canonValue(row[f.name], f.type);
        lines.push(jsonText(out));
      }
    }
    return summarise(lines);
  } finally {
    await plan.dispose();
  }
}

/** Whether every active file of the snapshot exists on disk (some test tables ship only their log). */
export function dataFilesPresent(table: DeltaTable, snapshot: Snapshot): boolean {
  return snapshot.files.every((f) => {
    const p = decodeActionPath(f.path);
    return nodePath.isAbsolute(p) ? existsSync(p) : existsSync(table.store.location(p));
  });
}

/** Field names and types, as Spark prints them: for comparing schemas across engines. */
export function schemaSignature(schema: StructType): string[] {
  return schema.fields.map((f) => `${f.name}:${typeToString(f.type)}`);
}

/** Compares two row summaries with a readable diff on failure (rows when both have them). */
export function rowsDiff(a: RowsSummary, b: Partial<RowsSummary>): string | undefined {
  if (a.digest === b.digest && a.numRows === b.numRows) return undefined;
  if (a.rows && b.rows) {
    const left = new Set(a.rows.map(jsonText));
    const right = new Set(b.rows.map(jsonText));
    const onlyA = [...left].filter((x) => !right.has(x)).slice(0, 5);
    const onlyB = [...right].filter((x) => !left.has(x)).slice(0, 5);
    return `rows differ (${a.numRows} vs ${b.numRows}); only in first: ${onlyA.join(' | ')}; only in second: ${onlyB.join(' | ')}`;
  }
  return `rows differ (${a.numRows} vs ${b.numRows} rows, digest ${a.digest} vs ${b.digest}); heads: ${jsonText(
    a.rowsHead?.slice(0, 3) ?? [],
  )} vs ${jsonText(b.rowsHead?.slice(0, 3) ?? [])}`;
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(nodePath.join(tmpdir(), `tweetlake-interop-${prefix}-`));
}

/** Where the suite writes machine-readable results (git-ignored). */
export const ARTIFACTS_DIR = nodePath.resolve(
  nodePath.dirname(fileURLToPath(import.meta.url)),
  '../../test-artifacts',
);

/** One task of spark_job.py (see its docstring for the ops). */
export type SparkTask = { id: string; op: string } & Record<string, unknown>;

/** What spark_job.py reports for one task. */
export interface SparkTaskResult {
  id: string;
  op: string;
  ok: boolean;
  result?: unknown;
  error?: string;
  traceback?: string;
  seconds: number;
}

/** An S3 server Spark reaches through s3a:// paths (spark_job.py --s3). */
export interface SparkS3 {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** Runs tasks in one Spark session; returns each task's result by id (failed tasks throw when read). */
export async function sparkJob(
  tasks: SparkTask[],
  options: { s3?: SparkS3 } = {},
): Promise<{ sparkVersion: string; get<T>(id: string): T }> {
  const out = await runPythonJson<{ sparkVersion: string; seconds: number; tasks: SparkTaskResult[] }>(
    'spark_job.py',
    tasks,
    options.s3 ? ['--s3', JSON.stringify(options.s3)] : [],
  );
  const byId = new Map(out.tasks.map((t) => [t.id, t]));
  console.log(
    `Spark ${out.sparkVersion}: ${out.seconds} s for ${out.tasks.length} tasks (` +
      out.tasks.map((t) => `${t.id} ${t.seconds}s`).join(', ') +
      ')',
  );
  return {
    sparkVersion: out.sparkVersion,
    get<T>(id: string): T {
      const t = byId.get(id);
      if (!t) throw new Error(`no Spark result for task ${id}`);
      if (!t.ok) throw new Error(`Spark task ${id} (${t.op}) failed: ${t.error}\n${t.traceback ?? ''}`);
      return t.result as T;
    },
  };
}

/** Spark's canonical read of one version (op 'read'). */
export interface SparkRead extends Partial<RowsSummary> {
  requestedVersion: number | null;
  schema?: string;
  error?: string;
}

/**
 * DuckDB SQL for rows of many types, with nulls, NaN/±inf/-0.0, unicode, long strings and nested values
 * (the same columns Spark and delta-rs write in they-write.test.ts).
 */
export function typedRows(from: number, to: number, extra = false, arrStruct = true): string {
  return `SELECT
      i::BIGINT AS id,
      CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 3)::INTEGER END AS int_col,
      ((i * 7) % 30000 - 20)::SMALLINT AS short_col,
      (i % 100 - 50)::TINYINT AS byte_col,
      CASE i % 11 WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN 'Infinity'::DOUBLE WHEN 3 THEN '-Infinity'::DOUBLE
                  WHEN 4 THEN -0.0::DOUBLE WHEN 5 THEN NULL ELSE (i / 3.0)::DOUBLE END AS double_col,
      (i / 7.0)::FLOAT AS float_col,
      (i * 1.25 - 3)::DECIMAL(10,2) AS dec_col,
      (i * 1234567.891)::DECIMAL(38,6) AS big_dec_col,
      CASE i % 4 WHEN 0 THEN 'str-' || i WHEN 1 THEN 'üñí€😀-' || i WHEN 2 THEN repeat('long', 12) || i ELSE NULL END AS str_col,
      i % 2 = 0 AS bool_col,
      DATE '2024-02-28' + i::INTEGER AS date_col,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(i * 1000123) AS ts_col,
      encode('bin' || i) AS bin_col,
      CASE WHEN i % 6 = 0 THEN NULL ELSE {'a': i::INTEGER, 'b': 'x' || i, 'c': {'d': (i / 2.0)::DOUBLE}} END AS struct_col,
      CASE WHEN i % 7 = 0 THEN NULL ELSE [i, NULL, i + 1] END AS arr_col,
      MAP {'k' || i: i::INTEGER, 'z': NULL::INTEGER} AS map_col
      ${arrStruct ? `, [{'x': i::INTEGER}] AS arr_struct_col` : ''}
      ${extra ? `, 'extra-' || i AS extra` : ''}
    FROM range(${from}, ${to}) t(i)`;
}

/** Spark SQL for the same typed rows as helpers.typedRows (without arr_struct_col). */
export function sparkTypedRows(from: number, to: number, extra = false): string {
  return `SELECT id,
    CASE WHEN id % 5 = 0 THEN NULL ELSE CAST(id % 3 AS INT) END AS int_col,
    CAST((id * 7) % 30000 - 20 AS SMALLINT) AS short_col,
    CAST(id % 100 - 50 AS TINYINT) AS byte_col,
    CASE id % 11 WHEN 1 THEN double('NaN') WHEN 2 THEN double('Infinity') WHEN 3 THEN double('-Infinity')
                 WHEN 4 THEN -0.0D WHEN 5 THEN NULL ELSE id / 3.0D END AS double_col,
    CAST(id / 7.0 AS FLOAT) AS float_col,
    CAST(id * 1.25 - 3 AS DECIMAL(10,2)) AS dec_col,
    CAST(id * 1234567.891 AS DECIMAL(38,6)) AS big_dec_col,
    CASE id % 4 WHEN 0 THEN concat('str-', id) WHEN 1 THEN concat('üñí€😀-', id)
                WHEN 2 THEN concat(repeat('long', 12), id) ELSE NULL END AS str_col,
    id % 2 = 0 AS bool_col,
    date_add(DATE'2024-02-28', CAST(id AS INT)) AS date_col,
    timestamp_micros(1704067200000000 + id * 1000123) AS ts_col,
    CAST(concat('bin', id) AS BINARY) AS bin_col,
    CASE WHEN id % 6 = 0 THEN NULL ELSE named_struct('a', CAST(id AS INT), 'b', concat('x', id), 'c', named_struct('d', id / 2.0D)) END AS struct_col,
    CASE WHEN id % 7 = 0 THEN NULL ELSE array(id, NULL, id + 1) END AS arr_col,
    map(concat('k', id), CAST(id AS INT), 'z', CAST(NULL AS INT)) AS map_col
    ${extra ? `, concat('extra-', id) AS extra` : ''}
    FROM range(${from}, ${to})`;
}
