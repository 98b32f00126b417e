import type { DuckSession } from '../duck/session.js';
import { DeltaTable } from '../delta/table.js';
import type { WriteOptions } from '../delta/write.js';
import type { SourceBatch } from './source.js';

/** What a sink reports for one batch. */
export interface BatchResult {
  /** Rows the batch read from its source. */
  numInputRows: number;
  /** Rows written downstream. */
  numOutputRows: number;
  /** Extra figures for progress reports (e.g. quarantined rows, inference time). */
  metrics?: Record<string, number>;
}

/** Everything a sink needs to write a batch exactly once. */
export interface BatchContext {
  batchId: number;
  queryId: string;
  queryName: string;
  session: DuckSession;
  /** More txn actions for the batch's commits: what it consumed of each source part (Source.transactions). */
  txns?: { appId: string; version: number }[];
}

/** Spark's Sink contract: `addBatch(batchId)` is idempotent, so a replayed batch changes nothing. */
export interface Sink {
  readonly description: string;
  addBatch(batch: SourceBatch, ctx: BatchContext): Promise<BatchResult>;
  /**
   * Locations of the Delta tables the sink writes with txn(appId = query id, version = batch id):
   * the source of truth of which batches are in. On start the engine counts a batch every one of
   * them holds as committed, and refuses a checkpoint that lost what they hold.
   */
  readonly tables?: readonly string[];
  /**
   * Whether every table of the sink already holds this batch (txn of the query at this batch id or
   * later). The engine asks once before it runs a batch and skips one that is fully held: a replay
   * after a crash that came between the tables' commits and the commits log.
   */
  holdsBatch?(ctx: BatchContext): Promise<boolean>;
}

/**
 * Appends each batch to a Delta table in one commit carrying `txn(appId = query id, version = batch id)`:
 * a batch replayed after a crash finds its txn already in the table and is skipped.
 */
export class DeltaSink implements Sink {
  readonly description: string;
  readonly tables: readonly string[];

  constructor(
    private readonly path: string,
    private readonly options: Pick<
      WriteOptions,
      'partitionBy' | 'mergeSchema' | 'properties' | 'targetFileSize'
    > = {},
  ) {
    this.description = `DeltaSink[${path}]`;
    this.tables = [path];
  }

  async holdsBatch(ctx: BatchContext): Promise<boolean> {
    const table = await DeltaTable.forPath(this.path, ctx.session);
    if (!(await table.exists())) return false;
    return ((await table.snapshot()).txnVersion(ctx.queryId) ?? -1) >= ctx.batchId;
  }

  async addBatch(batch: SourceBatch, ctx: BatchContext): Promise<BatchResult> {
    const table = await DeltaTable.forPath(this.path, ctx.session);
    const result = await table.write(
      { sql: batch.sql },
      {
        ...this.options,
        mode: 'append',
        txn: { appId: ctx.queryId, version: ctx.batchId },
        ...(ctx.txns?.length ? { txns: ctx.txns } : {}),
        operation: 'STREAMING UPDATE',
        operationParameters: {
          outputMode: 'Append',
          queryName: ctx.queryName,
          queryId: ctx.queryId,
          epochId: String(ctx.batchId),
        },
      },
    );
    const rows = result.skipped ? (batch.numRows ?? 0) : result.numRows;
    return { numInputRows: batch.numRows ?? rows, numOutputRows: result.skipped ? 0 : result.numRows };
  }
}

/**
 * Spark's foreachBatch: a function that writes each batch itself (it must be idempotent per batch
 * id); `tables` names the Delta tables it writes with the query's txn, when it does.
 */
export class ForeachBatchSink implements Sink {
  constructor(
    readonly description: string,
    private readonly fn: (batch: SourceBatch, ctx: BatchContext) => Promise<BatchResult>,
    readonly tables?: readonly string[],
  ) {}

  addBatch(batch: SourceBatch, ctx: BatchContext): Promise<BatchResult> {
    return this.fn(batch, ctx);
  }
}
