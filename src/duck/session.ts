import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import {
  DuckDBInstance,
  JsonDuckDBValueConverter,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import { TweetlakeError } from '../errors.js';
import { removeAtExit } from '../storage/temp-dirs.js';
import { sqlFailureDomain } from './error-text.js';

/** A JSON-shaped value as DuckDB's JSON conversion returns it (BIGINT as string, etc.). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonRow = Record<string, JsonValue>;

/** Settings of an embedded DuckDB database. */
export interface DuckSessionOptions {
  /** e.g. '2GB'; DuckDB spills to `tempDirectory` beyond it. */
  memoryLimit?: string;
  tempDirectory?: string;
  threads?: number;
}

/**
 * The schema, created with the database, that holds the scratch tables of batches and scans
 * (names made unique by their users), made once so that no statement has to create it first.
 */
export const SCRATCH_SCHEMA = 'tweetlake_work';

let sessions = 0;

/** A SQL statement failed inside DuckDB. */
export class SqlError extends TweetlakeError {
  constructor(
    message: string,
    readonly sql: string,
    cause?: unknown,
  ) {
    // the SQL tweetlake runs: a mistake in it is ours; the CLI turns a user's own SQL into QueryError
    super('SQL_ERROR', message, { domain: sqlFailureDomain(message, 'tweetlake'), cause });
  }
}

/**
 * One embedded DuckDB database and connection. The session time zone is UTC, so TIMESTAMPTZ values
 * print and cast as UTC whatever the machine's zone is.
 */
export class DuckSession {
  private queue: Promise<unknown> = Promise.resolve();
  /** More connections of this session's, for statements run at the same time (see `connections`). */
  private readonly extra: DuckSession[] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    /** A fork shares its parent's database: closing it closes its connection only. */
    private readonly forked = false,
    /** The spill folder this session made (none given), removed when it closes or the process exits. */
    private readonly ownTemp?: { remove(): void },
  ) {}

  /**
   * Another connection to the same database (tables, scratch schema and memory limit shared), with
   * its own statement queue: statements on two forks run at the same time.
   */
  async fork(): Promise<DuckSession> {
    return new DuckSession(this.instance, await DuckSession.connect(this.instance), true);
  }

  /**
   * This session and `n - 1` more connections to its database (made once, closed with it), so that
   * `n` statements can run at the same time: DuckDB scans one in-memory row group (122,880 rows) on
   * one thread, so a statement over a batch smaller than that uses one core whatever `threads` says.
   */
  async connections(n: number): Promise<DuckSession[]> {
    while (this.extra.length < n - 1) this.extra.push(await this.fork());
    return [this, ...this.extra.slice(0, Math.max(0, n - 1))];
  }

  /** DuckDB's `threads` setting: how many statements over separate inputs can use a core each. */
  async threads(): Promise<number> {
    const [row] = await this.all(`SELECT current_setting('threads') AS t`);
    return Math.max(1, Number(row?.t ?? 1));
  }

  /** Runs `fn` after every earlier call on this connection has finished (one statement at a time). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Opens an in-memory database with the given limits. */
  static async create(options: DuckSessionOptions = {}): Promise<DuckSession> {
    const config: Record<string, string> = {};
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.threads) config.threads = String(options.threads);
    // a folder per session: two sessions of one process must not remove each other's spill
    const ownTemp = options.tempDirectory
      ? undefined
      : nodePath.join(tmpdir(), `tweetlake-duckdb-spill-${process.pid}-${++sessions}`);
    const temp = options.tempDirectory ?? ownTemp!;
    mkdirSync(temp, { recursive: true });
    const own = ownTemp ? removeAtExit(ownTemp) : undefined;
    config.temp_directory = temp;
    try {
      const instance = await DuckDBInstance.create(':memory:', config);
      const connection = await DuckSession.connect(instance);
      await connection.run(`CREATE SCHEMA ${SCRATCH_SCHEMA}`);
      return new DuckSession(instance, connection, false, own);
    } catch (err) {
      own?.remove();
      throw err;
    }
  }

  private static async connect(instance: DuckDBInstance): Promise<DuckDBConnection> {
    const connection = await instance.connect();
    // icu is built in but not loaded until asked; TIMESTAMPTZ arithmetic and the time zone need it.
    await connection.run(`LOAD icu; SET TimeZone='UTC'; SET parquet_metadata_cache=true`);
    return connection;
  }

  /** Runs statements that return nothing of interest. */
  async run(sql: string): Promise<void> {
    await this.serial(async () => {
      try {
        await this.connection.run(sql);
      } catch (err) {
        throw new SqlError(`${(err as Error).message}`, sql, err);
      }
    });
  }

  /** Runs a query and returns every row as a JSON-shaped object. For small results only. */
  async all(sql: string): Promise<JsonRow[]> {
    return this.serial(async () => {
      try {
        const reader = await this.connection.runAndReadAll(sql);
        return reader.getRowObjectsJson() as JsonRow[];
      } catch (err) {
        throw new SqlError(`${(err as Error).message}`, sql, err);
      }
    });
  }

  /**
   * Streams a query's rows in chunks (bounded memory), as JSON-shaped objects. It runs on a connection
   * of its own, so the caller may run other statements while it iterates; temporary tables and
   * views of the main connection are not visible to it.
   */
  async *stream(sql: string): AsyncGenerator<JsonRow[]> {
    const connection = await DuckSession.connect(this.instance);
    try {
      let result;
      try {
        result = await connection.stream(sql);
      } catch (err) {
        throw new SqlError(`${(err as Error).message}`, sql, err);
      }
      const names = result.columnNames();
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        yield chunk.convertRows(JsonDuckDBValueConverter).map((values) => {
          const row: JsonRow = {};
          names.forEach((name, i) => (row[name] = (values[i] ?? null) as JsonValue));
          return row;
        });
      }
    } finally {
      connection.closeSync();
    }
  }

  /**
   * Appends rows to an existing table through DuckDB's appender (much faster than INSERT for many
   * rows). `types` gives each column's kind, in table order.
   */
  async appendRows(
    table: string,
    types: ('varchar' | 'bigint' | 'double' | 'boolean')[],
    rows: (string | number | boolean | null)[][],
    schema?: string,
  ): Promise<void> {
    await this.serial(async () => {
      const appender = await this.connection.createAppender(table, schema ?? null);
      try {
        for (const row of rows) {
          for (let i = 0; i < types.length; i++) {
            const value = row[i] ?? null;
            if (value === null) appender.appendNull();
            else if (types[i] === 'varchar') appender.appendVarchar(String(value));
            else if (types[i] === 'boolean') appender.appendBoolean(Boolean(value));
            else if (types[i] === 'bigint') appender.appendBigInt(BigInt(Math.trunc(Number(value))));
            else appender.appendDouble(Number(value));
          }
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
    });
  }

  /**
   * An appender on a connection of its own, for a caller that appends between awaits (reading a
   * file in chunks) while other statements run on the session. `close()` flushes and frees it.
   */
  async openAppender(table: string, schema: string): Promise<{ appender: DuckDBAppender; close(): void }> {
    const connection = await DuckSession.connect(this.instance);
    const appender = await connection.createAppender(table, schema);
    return {
      appender,
      close: () => {
        try {
          appender.closeSync();
        } finally {
          connection.closeSync();
        }
      },
    };
  }

  /** Names and types of a query's result columns, without running it. */
  async describe(sql: string): Promise<{ name: string; type: DuckDBType }[]> {
    return this.serial(async () => {
      let prepared;
      try {
        prepared = await this.connection.prepare(sql);
      } catch (err) {
        throw new SqlError(`${(err as Error).message}`, sql, err);
      }
      try {
        const out: { name: string; type: DuckDBType }[] = [];
        for (let i = 0; i < prepared.columnCount; i++) {
          out.push({ name: prepared.columnName(i), type: prepared.columnType(i) });
        }
        return out;
      } finally {
        prepared.destroySync();
      }
    });
  }

  /** Bytes DuckDB has spilled to its temporary directory right now. */
  async spilledBytes(): Promise<number> {
    const [row] = await this.all(`SELECT coalesce(sum(size), 0) AS bytes FROM duckdb_temporary_files()`);
    return Number(row?.bytes ?? 0);
  }

  /** DuckDB's memory limit setting (e.g. '18.6 GiB'). */
  async memoryLimit(): Promise<string> {
    const [row] = await this.all(`SELECT current_setting('memory_limit') AS m`);
    return String(row?.m ?? '');
  }

  /** Closes the connection and the database. */
  close(): void {
    for (const s of this.extra.splice(0)) s.close();
    this.connection.closeSync();
    if (this.forked) return;
    this.instance.closeSync();
    this.ownTemp?.remove();
  }
}

/** Quotes an identifier for DuckDB SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for DuckDB SQL. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A SQL list literal of string literals. Not for file paths: DuckDB globs those (use `fileList` of files.ts). */
export function literalList(values: string[]): string {
  return `[${values.map(literal).join(', ')}]`;
}

let shared: Promise<DuckSession> | undefined;

/** The process-wide session used when a caller does not bring its own. */
export function sharedSession(): Promise<DuckSession> {
  shared ??= DuckSession.create();
  return shared;
}
