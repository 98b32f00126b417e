import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { SCRATCH_SCHEMA, type DuckSession } from '../duck/session.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isGzipName, readRange } from './range-reader.js';
import type { RecordSink } from './record-sink.js';

/**
 * The columns of a batch of raw records (the relation a file source gives its sink), one row per
 * record:
 * - `source_file`, `line_number` (line, or element number of a JSON array), `line` (the record's
 *   text; NULL when it is not UTF-8 or was not read), `file_error` (why the record is not JSON text
 *   to parse, else NULL), `raw_bytes` (base64 of a record that is not UTF-8 text);
 * - `byte_offset`: the record's byte offset in the (decompressed) file, or NULL for a line read in a
 *   block of lines; `segment_offset` and `line_bytes` are that block's offset and the line's length,
 *   from which `withByteOffsetsSql` works out the offset where it is needed (quarantine), so clean
 *   input does not pay for it.
 */
export const RAW_RECORD_COLUMNS = [
  'source_file',
  'line_number',
  'byte_offset',
  'segment_offset',
  'line',
  'line_bytes',
  'file_error',
  'raw_bytes',
] as const;

/** An empty relation with the raw-record columns. */
export const EMPTY_RAW_RECORDS_SQL = `SELECT CAST(NULL AS VARCHAR) AS source_file, CAST(NULL AS BIGINT) AS line_number,
  CAST(NULL AS BIGINT) AS byte_offset, CAST(NULL AS BIGINT) AS segment_offset, CAST(NULL AS VARCHAR) AS line,
  CAST(NULL AS BIGINT) AS line_bytes, CAST(NULL AS VARCHAR) AS file_error, CAST(NULL AS VARCHAR) AS raw_bytes WHERE false`;

/** A record longer than this is quarantined by offset and length, never held whole (10 MiB). */
export const DEFAULT_MAX_RECORD_BYTES = 10 << 20;

/** Appended bytes after which the appender flushes to the table (bounds what it buffers). */
const FLUSH_BYTES = 8 << 20;

/**
 * A scratch table that receives records as a reader finds them, through an appender, in bounded
 * chunks: a block of JSON lines is one row (DuckDB splits it), other records one row each. `sql`
 * is the raw-record relation over it; `materialize()` turns it into a table of one row per record
 * (and lets the blocks go).
 */
export class RawRecordsTable {
  readonly name: string;
  records = 0;
  private pending = 0;
  /** The table of records, once materialized. */
  private recordsTable?: string;

  private constructor(
    private readonly session: DuckSession,
    private readonly appender: Awaited<ReturnType<DuckSession['openAppender']>>,
    name: string,
  ) {
    this.name = name;
  }

  /**
   * A batch of raw records: a table that `fill` appends to, then materialized; a failure drops what
   * was made. `table` is the table of records, `sql` the relation over it.
   */
  static async read(
    session: DuckSession,
    fill: (table: RawRecordsTable) => Promise<void>,
  ): Promise<{ sql: string; table: string; numRows: number; dispose: () => Promise<void> }> {
    const table = await RawRecordsTable.create(session);
    let records: string;
    try {
      try {
        await fill(table);
      } finally {
        table.close();
      }
      records = await table.materialize();
    } catch (err) {
      await table.dispose();
      throw err;
    }
    return { sql: table.sql, table: records, numRows: table.records, dispose: () => table.dispose() };
  }

  /** Creates the scratch table and its appender. */
  static async create(session: DuckSession): Promise<RawRecordsTable> {
    const table = `raw_${randomUUID().replace(/-/g, '')}`;
    await session.run(`CREATE TABLE ${SCRATCH_SCHEMA}.${table} (source_file VARCHAR, byte_offset BIGINT,
      line_number BIGINT, lines INTEGER, bytes BLOB, raw BLOB, error VARCHAR)`);
    return new RawRecordsTable(session, await session.openAppender(table, SCRATCH_SCHEMA), table);
  }

  /** A sink that appends the records of one file (named `sourceFile` in the rows). */
  sink(sourceFile: string): RecordSink {
    const row = (
      offset: number,
      line: number | null,
      lines: number | null,
      bytes: Uint8Array | null,
      raw: Uint8Array | null,
      error: string | null,
    ) => {
      const a = this.appender.appender;
      a.appendVarchar(sourceFile);
      a.appendBigInt(BigInt(offset));
      if (line === null) a.appendNull();
      else a.appendBigInt(BigInt(line));
      if (lines === null) a.appendNull();
      else a.appendInteger(lines);
      if (bytes === null) a.appendNull();
      else a.appendBlob(bytes);
      if (raw === null) a.appendNull();
      else a.appendBlob(raw);
      if (error === null) a.appendNull();
      else a.appendVarchar(error);
      a.endRow();
      this.pending += (bytes?.length ?? 0) + (raw?.length ?? 0) + 64;
      if (this.pending >= FLUSH_BYTES) {
        a.flushSync();
        this.pending = 0;
      }
    };
    return {
      lines: (offset, line, count, bytes) => {
        this.records += count;
        row(offset, line, count, bytes, null, null);
      },
      record: (offset, line, bytes) => {
        this.records++;
        row(offset, line, null, bytes, null, null);
      },
      error: (offset, line, reason, raw) => {
        this.records++;
        const text = raw && isUtf8(raw) ? raw : null;
        row(offset, line, null, text, raw && !text ? raw : null, reason);
      },
    };
  }

  /** Flushes what is appended and frees the appender; call before reading the relation. */
  close(): void {
    this.appender.close();
  }

  /** Splits the blocks into a table of one row per record and drops the blocks; returns its name. */
  async materialize(): Promise<string> {
    const table = `${SCRATCH_SCHEMA}.${this.name}_records`;
    await this.session.run(`CREATE TABLE ${table} AS ${this.sql}`);
    await this.session.run(`DROP TABLE ${SCRATCH_SCHEMA}.${this.name}`);
    this.recordsTable = table;
    return table;
  }

  /** The raw-record relation (RAW_RECORD_COLUMNS) over the table. */
  get sql(): string {
    if (this.recordsTable) return `SELECT * FROM ${this.recordsTable}`;
    const t = `${SCRATCH_SCHEMA}.${this.name}`;
    return `SELECT source_file, line_number + i - 1 AS line_number, CAST(NULL AS BIGINT) AS byte_offset,
        byte_offset AS segment_offset, CASE WHEN ends_with(p, chr(13)) THEN rtrim(p, chr(13)) ELSE p END AS line, strlen(p) AS line_bytes,
        CAST(NULL AS VARCHAR) AS file_error, CAST(NULL AS VARCHAR) AS raw_bytes
      FROM (SELECT source_file, byte_offset, line_number, unnest(parts) AS p, generate_subscripts(parts, 1) AS i
        FROM (SELECT source_file, byte_offset, line_number, string_split(decode(bytes), chr(10)) AS parts
          FROM ${t} WHERE lines IS NOT NULL))
    UNION ALL
    SELECT source_file, line_number, byte_offset, CAST(NULL AS BIGINT), decode(bytes), CAST(NULL AS BIGINT), error,
        to_base64(raw)
      FROM ${t} WHERE lines IS NULL`;
  }

  /** Drops the tables. */
  async dispose(): Promise<void> {
    await this.session.run(
      `DROP TABLE IF EXISTS ${SCRATCH_SCHEMA}.${this.name}; DROP TABLE IF EXISTS ${SCRATCH_SCHEMA}.${this.name}_records`,
    );
  }
}

/**
 * The rows of a raw-record relation that match `where`, with every `byte_offset` filled in: a line
 * read in a block gets its block's offset plus the bytes of the lines before it (each line and its
 * '\n'). Only the blocks holding such rows are looked at.
 */
export function withByteOffsetsSql(raw: string, where: string): string {
  return `WITH picked AS (SELECT * FROM ${raw} WHERE ${where}),
    blocks AS (SELECT DISTINCT source_file, segment_offset FROM picked WHERE byte_offset IS NULL AND segment_offset IS NOT NULL),
    exact AS (
      SELECT r.source_file, r.line_number, CAST(r.segment_offset + sum(r.line_bytes + 1) OVER (
          PARTITION BY r.source_file, r.segment_offset ORDER BY r.line_number) - r.line_bytes - 1 AS BIGINT) AS byte_offset
        FROM ${raw} r SEMI JOIN blocks b ON r.source_file = b.source_file AND r.segment_offset = b.segment_offset)
    SELECT picked.* REPLACE (coalesce(picked.byte_offset, exact.byte_offset) AS byte_offset)
    FROM picked LEFT JOIN exact ON picked.byte_offset IS NULL AND exact.source_file = picked.source_file
      AND exact.line_number = picked.line_number`;
}

/**
 * Reads whole files of a store into a raw-records table (as a batch would, outside any stream): for
 * tools that read a folder once, such as `generate`. The caller disposes of the table.
 */
export async function loadRawRecords(
  session: DuckSession,
  store: ObjectStore,
  keys: string[],
  options: { maxRecordBytes?: number } = {},
): Promise<RawRecordsTable> {
  const table = await RawRecordsTable.create(session);
  try {
    try {
      for (const key of keys) {
        const meta = await store.head(key);
        const range = {
          key,
          path: store.location(key),
          start: 0,
          end: Number.MAX_SAFE_INTEGER,
          line: 1,
          size: meta?.size ?? 0,
          mtime: meta?.lastModified ?? 0,
          gzip: isGzipName(key),
        };
        await readRange(store, range, table.sink(range.path), {
          chunkBytes: 4 << 20,
          maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
        });
      }
    } finally {
      table.close();
    }
  } catch (err) {
    await table.dispose();
    throw err;
  }
  return table;
}
