import type { DuckSession } from '../duck/session.js';
import { TableAlreadyExists } from '../delta/errors.js';
import type { StructType } from '../delta/schema.js';
import type { Snapshot } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import type { BatchContext, BatchResult, Sink } from './sink.js';
import type { SourceBatch } from './source.js';

/** One Delta table a stage writes. */
export interface SinkTable {
  path: string;
  /** The schema it is created with (empty, version 0) when it does not exist yet. */
  schema: StructType;
  /** 'append' (default), or 'complete': each batch's rows replace the table (Spark's complete output mode). */
  outputMode?: 'append' | 'complete';
}

/** What a stage's transform makes of one batch: the rows for each table, as SQL. */
export interface StageOutput<T extends string> {
  /** Rows per table (every table of the sink: a table with no rows still records the batch). */
  rows: Record<T, StageRows<T>>;
  /** Rows the batch read. */
  numInputRows: number;
  /** Figures for the progress report, from what each table got of the batch. */
  metrics?(written: Record<T, number>): Record<string, number>;
  /** Drops what the transform made (scratch tables, scans). */
  dispose?(): Promise<void>;
}

/** One table's rows of a batch. */
export interface StageRows<T extends string> {
  sql: string;
  /** Queries whose rows together are exactly `sql`'s, written at the same time (DataSource.parts). */
  parts?: readonly string[];
  mergeSchema?: boolean;
  /**
   * True when what the tables written before this one got (in the sink's order) shows this one gets
   * no rows: its query is then not run (the commit still records the batch).
   */
  emptyIf?(written: Partial<Record<T, number>>): boolean;
}

/** What a transform sees: the batch's context and each table's current snapshot (the tables exist). */
export interface StageContext<T extends string> extends BatchContext {
  snapshot(table: T): Snapshot;
}

/** A stage's transform: one batch in, rows per table out. */
export type StageTransform<T extends string> = (
  batch: SourceBatch,
  ctx: StageContext<T>,
) => Promise<StageOutput<T>>;

/** Creates the table when it is missing (another writer creating it first is fine). */
export async function ensureTable(
  path: string,
  schema: StructType,
  session: DuckSession,
): Promise<DeltaTable> {
  const table = await DeltaTable.forPath(path, session);
  if (!(await table.exists())) {
    try {
      await table.create(schema);
    } catch (err) {
      if (!(err instanceof TableAlreadyExists)) throw err;
    }
  }
  return table;
}

async function countRows(session: DuckSession, sql: string): Promise<number> {
  const [row] = await session.all(`SELECT count(*) AS n FROM (${sql})`);
  return Number(row?.n ?? 0);
}

/**
 * The one sink of the medallion stages: a transform turns each batch into rows per table, and each
 * table gets them in one commit carrying `txn(appId = query id, version = batch id)`, even when it
 * gets no rows, so every table records every batch. The engine asks `holdsBatch` once before it
 * runs a batch and skips one that every table holds; a batch some tables hold (a crash between two
 * tables' commits) is written to the others only (the write itself checks the txn).
 */
export class DeltaTablesSink<T extends string> implements Sink {
  readonly tables: readonly string[];
  /** The tables once they exist, each with its latest snapshot (moved forward batch by batch). */
  private readonly opened = new Map<T, { table: DeltaTable; snapshot: Snapshot }>();

  constructor(
    readonly description: string,
    private readonly targets: Record<T, SinkTable>,
    private readonly transform: StageTransform<T>,
    /** The table whose rows are the batch's output rows (default: the first). */
    private readonly primary: T = Object.keys(targets)[0] as T,
  ) {
    this.tables = Object.values<SinkTable>(targets).map((t) => t.path);
  }

  private get names(): T[] {
    return Object.keys(this.targets) as T[];
  }

  /** The table's latest snapshot, creating the table when `create` is set; undefined when it does not exist. */
  private async latest(name: T, session: DuckSession, create: boolean): Promise<Snapshot | undefined> {
    const known = this.opened.get(name);
    if (known) {
      known.snapshot = await known.snapshot.update();
      return known.snapshot;
    }
    const target = this.targets[name];
    const table = create
      ? await ensureTable(target.path, target.schema, session)
      : await DeltaTable.forPath(target.path, session);
    if (!create && !(await table.exists())) return undefined;
    const snapshot = await table.snapshot();
    this.opened.set(name, { table, snapshot });
    return snapshot;
  }

  /** Whether every table already committed this query's batch (a replay): their txn says so. */
  async holdsBatch(ctx: BatchContext): Promise<boolean> {
    for (const name of this.names) {
      const snapshot = await this.latest(name, ctx.session, false);
      if ((snapshot?.txnVersion(ctx.queryId) ?? -1) < ctx.batchId) return false;
    }
    return true;
  }

  async addBatch(batch: SourceBatch, ctx: BatchContext): Promise<BatchResult> {
    const tables = {} as Record<T, DeltaTable>;
    const snapshots = {} as Record<T, Snapshot>;
    for (const name of this.names) {
      snapshots[name] = (await this.latest(name, ctx.session, true))!;
      tables[name] = this.opened.get(name)!.table;
    }
    const out = await this.transform(batch, { ...ctx, snapshot: (name) => snapshots[name] });
    try {
      const written = {} as Record<T, number>;
      for (const name of this.names) {
        const rows = out.rows[name];
        const none = rows.emptyIf?.(written) ?? false;
        written[name] = await this.write(
          tables[name],
          snapshots[name],
          name,
          none ? { sql: `SELECT * FROM (${rows.sql}) WHERE false` } : rows,
          ctx,
        );
      }
      return {
        numInputRows: out.numInputRows,
        numOutputRows: written[this.primary],
        ...(out.metrics ? { metrics: out.metrics(written) } : {}),
      };
    } finally {
      await out.dispose?.();
    }
  }

  /** Writes one table's rows of the batch exactly once; the rows it holds of the batch. */
  private async write(
    table: DeltaTable,
    snapshot: Snapshot,
    name: T,
    rows: StageRows<T>,
    ctx: BatchContext,
  ): Promise<number> {
    const complete = this.targets[name].outputMode === 'complete';
    const result = await table.write(
      { sql: rows.sql, ...(rows.parts ? { parts: rows.parts } : {}) },
      {
        mode: complete ? 'overwrite' : 'append',
        snapshot,
        ...(rows.mergeSchema ? { mergeSchema: true } : {}),
        txn: { appId: ctx.queryId, version: ctx.batchId },
        ...(ctx.txns?.length ? { txns: ctx.txns } : {}),
        operation: 'STREAMING UPDATE',
        operationParameters: {
          outputMode: complete ? 'Complete' : 'Append',
          queryName: ctx.queryName,
          queryId: ctx.queryId,
          epochId: String(ctx.batchId),
        },
      },
    );
    // A table that held the batch already (a partial replay) reports what the batch put there.
    return result.skipped ? await countRows(ctx.session, rows.sql) : result.numRows;
  }
}
