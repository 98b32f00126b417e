import { randomUUID } from 'node:crypto';
import { SCRATCH_SCHEMA, type DuckSession } from '../duck/session.js';

import type { StructType } from '../delta/schema.js';
import type { Snapshot } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import { DeltaSource } from '../engine/delta-source.js';
import { FileSource } from '../engine/file-source.js';
import type { StreamingQueryOptions } from '../engine/query.js';
import { ForeachBatchSink, type BatchContext, type BatchResult } from '../engine/sink.js';
import type { SourceBatch } from '../engine/source.js';
import type { Classifier } from '../model/classifier.js';
import { cacheKeyOf, PredictionCache } from '../model/prediction-cache.js';
import type { ObjectStore } from '../storage/object-store.js';
import { mentionAggregatesSql, mergeAggregatesSql } from './application.js';
import { bronzeRowsSql, newKeysSql, quarantineRowsSql } from './bronze.js';
import { scoreBatch, type BatchCache, type InferenceMetrics } from './gold.js';
import type { LakehousePaths, StreamName } from './paths.js';
import {
  APPLICATION_SCHEMA,
  BRONZE_SCHEMA,
  GOLD_SCHEMA,
  QUARANTINE_SCHEMA,
  SILVER_SCHEMA,
} from './schemas.js';
import { silverRowsSql } from './silver.js';

/** Options of the medallion stages. */
export interface StageOptions {
  paths: LakehousePaths;
  source: string;
  /** Where the source files are read from (default: the local folder `source`). */
  sourceStore?: ObjectStore;
  session: DuckSession;
  /** Loaded on first use by the gold stage. */
  classifier: () => Promise<Classifier>;
  maxFilesPerTrigger?: number;
  maxBytesPerTrigger?: number;
  /** Source files: settle time, re-reading changed files, the record size limit (see FileSourceOptions). */
  fileSettleMs?: number;
  allowOverwrites?: boolean;
  maxRecordBytes?: number;
  /** Drop tweets without a mention in silver (the first edition's behaviour). */
  dropTweetsWithoutMentions?: boolean;
  /** Add new source fields to bronze as string columns (otherwise they go to _rescued_data). */
  schemaEvolution?: boolean;
  /** Texts per inference call. */
  inferenceBatchSize?: number;
  /** Take scores from the prediction cache and add new ones to it (default true). */
  predictionCache?: boolean;
  /** Texts scored so far in the gold batch running now, of `total` distinct texts. */
  onInference?: (done: number, total: number) => void;
}

/** Rows per batch of the stages that read a Delta table (bounds memory whatever the upstream file sizes). */
const DELTA_MAX_ROWS_PER_TRIGGER = 200_000;

async function ensureTable(path: string, schema: StructType, session: DuckSession): Promise<DeltaTable> {
  const table = await DeltaTable.forPath(path, session);
  if (!(await table.exists())) {
    try {
      await table.create(schema);
    } catch (err) {
      if ((err as { code?: string }).code !== 'DELTA_TABLE_EXISTS') throw err;
    }
  }
  return table;
}

async function countRows(session: DuckSession, sql: string): Promise<number> {
  const [row] = await session.all(`SELECT count(*) AS n FROM (${sql})`);
  return Number(row?.n ?? 0);
}

/** Whether the table already committed this query's batch (a replay after a crash): its txn says so. */
async function holdsBatch(table: DeltaTable, ctx: BatchContext, snapshot?: Snapshot): Promise<boolean> {
  return ((snapshot ?? (await table.snapshot())).txnVersion(ctx.queryId) ?? -1) >= ctx.batchId;
}

/** Writes one batch to a table exactly once (txn = query id + batch id); undefined when the table held it already. */
async function appendOnce(
  table: DeltaTable,
  sql: string,
  ctx: BatchContext,
  mergeSchema = false,
): Promise<number | undefined> {
  const result = await table.write(
    { sql },
    {
      mode: 'append',
      mergeSchema,
      txn: { appId: ctx.queryId, version: ctx.batchId },
      operation: 'STREAMING UPDATE',
      operationParameters: {
        outputMode: 'Append',
        queryName: ctx.queryName,
        queryId: ctx.queryId,
        epochId: String(ctx.batchId),
      },
    },
  );
  return result.skipped ? undefined : result.numRows;
}

/** The bronze and quarantine rows of one batch of raw records, written exactly once; their counts. */
async function writeBronzeBatch(
  o: StageOptions,
  raw: string,
  ctx: BatchContext,
): Promise<{ bronzeRows: number; quarantinedRows: number }> {
  const bronze = await ensureTable(o.paths.tables.bronze, BRONZE_SCHEMA, o.session);
  const quarantine = await ensureTable(o.paths.tables.quarantine, QUARANTINE_SCHEMA, o.session);
  const now = new Date().toISOString();
  const snapshot = await bronze.snapshot();
  let columns = snapshot.schema.fields
    .map((f) => f.name)
    .filter((n) => !['_rescued_data', 'source_file', 'processing_time'].includes(n));
  let evolved = false;
  if (o.schemaEvolution) {
    const added = (await o.session.all(newKeysSql(raw, columns))).map((r) => String(r.k));
    if (added.length) {
      columns = [...columns, ...added];
      evolved = true;
    }
  }
  const good = bronzeRowsSql(raw, columns, now);
  const bad = quarantineRowsSql(raw, ctx.queryName, now);
  // A replay finds its txn in the table and writes nothing: count what the batch holds instead.
  const bronzeRows = (await appendOnce(bronze, good, ctx, evolved)) ?? (await countRows(o.session, good));
  // mergeSchema: a quarantine table of an older tweetlake gains byte_offset and raw_bytes.
  const quarantinedRows = (await appendOnce(quarantine, bad, ctx, true)) ?? (await countRows(o.session, bad));
  return { bronzeRows, quarantinedRows };
}

/**
 * bronze_stream: source files -> bronze (JSON objects) + quarantine (everything else). Its figures
 * balance: inputRecords (counted by the reader) = bronzeRows + quarantinedRows.
 */
export function bronzeQuery(o: StageOptions): Omit<StreamingQueryOptions, 'trigger'> {
  return {
    name: 'bronze_stream',
    source: new FileSource({
      path: o.source,
      ...(o.sourceStore ? { store: o.sourceStore } : {}),
      ...(o.fileSettleMs !== undefined ? { settleMs: o.fileSettleMs } : {}),
      ...(o.allowOverwrites ? { allowOverwrites: true } : {}),
      ...(o.maxRecordBytes ? { maxRecordBytes: o.maxRecordBytes } : {}),
    }),
    checkpointLocation: o.paths.checkpoints.bronze_stream,
    limits: { maxFilesPerTrigger: o.maxFilesPerTrigger, maxBytesPerTrigger: o.maxBytesPerTrigger },
    session: o.session,
    sink: new ForeachBatchSink(
      'bronze + quarantine',
      async (batch: SourceBatch, ctx): Promise<BatchResult> => {
        // The batch is read several times: the file source's table of records, or a copy of it.
        const copy = batch.table ? undefined : `${SCRATCH_SCHEMA}.raw_${randomUUID().replace(/-/g, '')}`;
        if (copy) await o.session.run(`CREATE TABLE ${copy} AS ${batch.sql}`);
        const raw = batch.table ?? copy!;
        try {
          const input = batch.numRows ?? (await countRows(o.session, `SELECT * FROM ${raw}`));
          const { bronzeRows, quarantinedRows } = await writeBronzeBatch(o, raw, ctx);
          return {
            numInputRows: input,
            numOutputRows: bronzeRows,
            metrics: { inputRecords: input, bronzeRows, quarantinedRows },
          };
        } finally {
          if (copy) await o.session.run(`DROP TABLE IF EXISTS ${copy}`);
        }
      },
      [o.paths.tables.bronze, o.paths.tables.quarantine],
    ),
  };
}

/** A stage that streams one Delta table of the lakehouse into a foreachBatch sink. */
function deltaStage(
  o: StageOptions,
  name: StreamName,
  from: 'bronze' | 'silver' | 'gold',
  sink: ForeachBatchSink,
): Omit<StreamingQueryOptions, 'trigger'> {
  return {
    name,
    source: new DeltaSource(o.paths.tables[from]),
    checkpointLocation: o.paths.checkpoints[name],
    limits: { maxFilesPerTrigger: o.maxFilesPerTrigger, maxRowsPerTrigger: DELTA_MAX_ROWS_PER_TRIGGER },
    session: o.session,
    sink,
  };
}

/** silver_stream: bronze -> silver (one row per mention). */
export function silverQuery(o: StageOptions): Omit<StreamingQueryOptions, 'trigger'> {
  return deltaStage(
    o,
    'silver_stream',
    'bronze',
    new ForeachBatchSink(
      'silver',
      async (batch, ctx) => {
        const silver = await ensureTable(o.paths.tables.silver, SILVER_SCHEMA, o.session);
        const written = await appendOnce(
          silver,
          silverRowsSql(batch.sql, { dropWithoutMentions: o.dropTweetsWithoutMentions }),
          ctx,
        );
        return { numInputRows: batch.numRows ?? 0, numOutputRows: written ?? 0 };
      },
      [o.paths.tables.silver],
    ),
  );
}

/** gold_stream: silver -> gold (model predictions). */
export function goldQuery(o: StageOptions): Omit<StreamingQueryOptions, 'trigger'> {
  return deltaStage(
    o,
    'gold_stream',
    'silver',
    new ForeachBatchSink(
      'gold',
      async (batch, ctx) => {
        const gold = await ensureTable(o.paths.tables.gold, GOLD_SCHEMA, o.session);
        if (await holdsBatch(gold, ctx)) return { numInputRows: batch.numRows ?? 0, numOutputRows: 0 }; // no need to score again
        const classifier = await o.classifier();
        const before = classifier.stats
          ? {
              ...classifier.stats,
              lengths: classifier.stats.sequenceLengths.length,
              sizes: classifier.stats.batchSizes.length,
            }
          : undefined;
        const cache = batchCache(o, classifier);
        const scored = await scoreBatch(batch, o.session, classifier, {
          chunkSize: o.inferenceBatchSize,
          onChunk: o.onInference,
          ...(cache ? { cache } : {}),
        });
        try {
          // the cache first: a crash before the gold commit then replays the batch from the cache
          if (cache && scored.metrics.cachedTexts < scored.metrics.distinctTexts)
            await cache.cache.append(cache.key, scored.newScores, {
              appId: ctx.queryId,
              version: ctx.batchId,
              queryName: ctx.queryName,
            });
          const written = await appendOnce(gold, scored.batch.sql, ctx);
          return {
            numInputRows: batch.numRows ?? scored.metrics.texts,
            numOutputRows: written ?? 0,
            metrics: {
              ...goldMetrics(scored.metrics, cache !== undefined),
              ...inferenceDeltas(before, classifier.stats),
            },
          };
        } finally {
          await scored.batch.dispose();
        }
      },
      [o.paths.tables.gold],
    ),
  );
}

/** The prediction cache for a classifier, unless it is off or the model has no registry version. */
function batchCache(o: StageOptions, classifier: Classifier): BatchCache | undefined {
  if (o.predictionCache === false) return undefined;
  const key = cacheKeyOf(classifier.info);
  return key ? { cache: new PredictionCache(o.paths.predictionCache, o.session), key } : undefined;
}

/** Progress metrics of a gold batch: texts, the cache's share of them, model time and speed. */
function goldMetrics(m: InferenceMetrics, cacheUsed: boolean): Record<string, number> {
  const scored = m.distinctTexts - m.cachedTexts;
  return {
    distinctTexts: m.distinctTexts,
    cachedTexts: m.cachedTexts,
    scoredTexts: scored,
    cacheHitRate: m.distinctTexts > 0 ? m.cachedTexts / m.distinctTexts : 0,
    predictionCache: cacheUsed ? 1 : 0,
    inferenceMs: Math.round(m.inferenceMs),
    textsPerSecond: m.inferenceMs > 0 ? (scored * 1000) / m.inferenceMs : 0,
  };
}

/** Pool figures of one batch: model time, time and bytes moving texts to workers and back, padding. */
function inferenceDeltas(
  before: (NonNullable<Classifier['stats']> & { lengths: number; sizes: number }) | undefined,
  after: Classifier['stats'],
): Record<string, number> {
  if (!before || !after) return {};
  // a model server reports no padded lengths: each list is sliced from its own length before the batch
  const lengths = after.sequenceLengths.slice(before.lengths);
  const sizes = after.batchSizes.slice(before.sizes);
  return {
    modelBatches: after.batches - before.batches,
    modelComputeMs: Math.round(after.computeMs - before.computeMs),
    workerTransferMs: Math.round(after.transferMs - before.transferMs),
    bytesToWorkers: after.bytesToWorkers - before.bytesToWorkers,
    bytesFromWorkers: after.bytesFromWorkers - before.bytesFromWorkers,
    meanModelBatchSize: sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0,
    meanPaddedLength: lengths.length ? lengths.reduce((a, b) => a + b, 0) / lengths.length : 0,
    maxPaddedLength: lengths.length ? Math.max(...lengths) : 0,
  };
}

/** application_stream: gold -> application (per-mention counts, rewritten as gold grows). */
export function applicationQuery(o: StageOptions): Omit<StreamingQueryOptions, 'trigger'> {
  return deltaStage(
    o,
    'application_stream',
    'gold',
    new ForeachBatchSink(
      'application',
      async (batch, ctx) => {
        const app = await ensureTable(o.paths.tables.application, APPLICATION_SCHEMA, o.session);
        const snapshot = await app.snapshot();
        if (await holdsBatch(app, ctx, snapshot))
          return { numInputRows: batch.numRows ?? 0, numOutputRows: 0 };
        const current = await app.scan(snapshot);
        try {
          const merged = mergeAggregatesSql(current.sql, mentionAggregatesSql(batch.sql));
          const result = await app.write(
            { sql: merged },
            {
              mode: 'overwrite',
              snapshot,
              txn: { appId: ctx.queryId, version: ctx.batchId },
              operation: 'STREAMING UPDATE',
              operationParameters: {
                outputMode: 'Complete',
                queryName: ctx.queryName,
                queryId: ctx.queryId,
                epochId: String(ctx.batchId),
              },
            },
          );
          return { numInputRows: batch.numRows ?? 0, numOutputRows: result.numRows };
        } finally {
          await current.dispose();
        }
      },
      [o.paths.tables.application],
    ),
  );
}

/** The four stages, by stream name. */
export function stageQueries(o: StageOptions): Record<StreamName, Omit<StreamingQueryOptions, 'trigger'>> {
  return {
    bronze_stream: bronzeQuery(o),
    silver_stream: silverQuery(o),
    gold_stream: goldQuery(o),
    application_stream: applicationQuery(o),
  };
}
