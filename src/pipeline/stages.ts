import { randomUUID } from 'node:crypto';
import { SCRATCH_SCHEMA, type DuckSession } from '../duck/session.js';

import { planScan } from '../delta/scan.js';
import { DeltaSource } from '../engine/delta-source.js';
import { FileSource } from '../engine/file-source.js';
import { KafkaSource, type KafkaSourceOptions } from '../engine/kafka-source.js';
import { isKafkaUri } from '../engine/kafka-uri.js';
import type { Source } from '../engine/source.js';
import type { StreamingQueryOptions } from '../engine/query.js';
import { DeltaTablesSink, type StageTransform } from '../engine/delta-tables-sink.js';
import type { Sink } from '../engine/sink.js';
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
  /** A folder of JSON files, or a Kafka topic (`kafka://host:port[,host:port]/topic`). */
  source: string;
  /** Options of a Kafka source (startingOffsets, maxOffsetsPerTrigger, client id, SASL/TLS). */
  kafka?: Omit<KafkaSourceOptions, 'uri'>;
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

async function countRows(session: DuckSession, sql: string): Promise<number> {
  const [row] = await session.all(`SELECT count(*) AS n FROM (${sql})`);
  return Number(row?.n ?? 0);
}

type BronzeTables = 'bronze' | 'quarantine';

/** Rows of a batch below which it is written in one part (one connection). */
const MIN_PART_ROWS = 20_000;

/**
 * A table of `rows` rows split into at most `threads` ranges of rowid, each a relation over the
 * table, so that a batch's bronze rows are made on every core (DataSource.parts). Together they
 * hold every row whatever the rowids are: the first range is open below, the last above.
 */
export function rowidParts(table: string, rows: number, threads: number): string[] {
  const n = Math.max(1, Math.min(threads, Math.floor(rows / MIN_PART_ROWS)));
  if (n === 1) return [table];
  const size = Math.ceil(rows / n);
  return Array.from({ length: n }, (_, i) => {
    const lo = i === 0 ? undefined : `rowid >= ${i * size}`;
    const hi = i === n - 1 ? undefined : `rowid < ${(i + 1) * size}`;
    return `(SELECT * FROM ${table} WHERE ${[lo, hi].filter(Boolean).join(' AND ')})`;
  });
}

/** bronze_stream's transform: raw records -> bronze rows (JSON objects) + quarantine rows (everything else). */
function bronzeTransform(o: StageOptions): StageTransform<BronzeTables> {
  let threads: number | undefined;
  return async (batch, ctx) => {
    // The batch is read several times: the file source's table of records, or a copy of it.
    const copy = batch.table ? undefined : `${SCRATCH_SCHEMA}.raw_${randomUUID().replace(/-/g, '')}`;
    if (copy) await o.session.run(`CREATE TABLE ${copy} AS ${batch.sql}`);
    const dispose = async () => {
      if (copy) await o.session.run(`DROP TABLE IF EXISTS ${copy}`);
    };
    try {
      const raw = batch.table ?? copy!;
      // the table's own count (its metadata, not a scan): what the quarantine test below relies on
      const records = await countRows(o.session, `SELECT * FROM ${raw}`);
      const input = batch.numRows ?? records;
      const now = new Date().toISOString();
      let columns = ctx
        .snapshot('bronze')
        .schema.fields.map((f) => f.name)
        .filter((n) => !['_rescued_data', 'source_file', 'processing_time'].includes(n));
      let evolved = false;
      if (o.schemaEvolution) {
        const added = (await o.session.all(newKeysSql(raw, columns))).map((r) => String(r.k));
        if (added.length) {
          columns = [...columns, ...added];
          evolved = true;
        }
      }
      const parts = rowidParts(raw, records, (threads ??= await o.session.threads()));
      return {
        rows: {
          bronze: {
            sql: bronzeRowsSql(raw, columns, now),
            ...(parts.length > 1 ? { parts: parts.map((p) => bronzeRowsSql(p, columns, now)) } : {}),
            mergeSchema: evolved,
          },
          quarantine: {
            sql: quarantineRowsSql(raw, ctx.queryName, now),
            // mergeSchema: a quarantine table of an older tweetlake gains byte_offset and raw_bytes.
            mergeSchema: true,
            // every record is in bronze or here: a batch wholly in bronze is not tested again
            emptyIf: (w) => w.bronze === records,
          },
        },
        numInputRows: input,
        metrics: (w) => ({ inputRecords: input, bronzeRows: w.bronze, quarantinedRows: w.quarantine }),
        dispose,
      };
    } catch (err) {
      await dispose();
      throw err;
    }
  };
}

/** bronze_stream's source: a Kafka topic for a kafka:// source, else the file source. */
function bronzeSource(o: StageOptions): Source {
  if (isKafkaUri(o.source))
    return new KafkaSource({
      ...o.kafka,
      uri: o.source,
      ...(o.maxRecordBytes ? { maxRecordBytes: o.maxRecordBytes } : {}),
    });
  return new FileSource({
    path: o.source,
    ...(o.sourceStore ? { store: o.sourceStore } : {}),
    ...(o.fileSettleMs !== undefined ? { settleMs: o.fileSettleMs } : {}),
    ...(o.allowOverwrites ? { allowOverwrites: true } : {}),
    ...(o.maxRecordBytes ? { maxRecordBytes: o.maxRecordBytes } : {}),
  });
}

/**
 * bronze_stream: source files (or Kafka records) -> bronze (JSON objects) + quarantine (everything
 * else). Its figures balance: inputRecords (counted by the reader) = bronzeRows + quarantinedRows.
 */
export function bronzeQuery(o: StageOptions): Omit<StreamingQueryOptions, 'trigger'> {
  return {
    name: 'bronze_stream',
    source: bronzeSource(o),
    checkpointLocation: o.paths.checkpoints.bronze_stream,
    limits: { maxFilesPerTrigger: o.maxFilesPerTrigger, maxBytesPerTrigger: o.maxBytesPerTrigger },
    session: o.session,
    sink: new DeltaTablesSink(
      'bronze + quarantine',
      {
        bronze: { path: o.paths.tables.bronze, schema: BRONZE_SCHEMA },
        quarantine: { path: o.paths.tables.quarantine, schema: QUARANTINE_SCHEMA },
      },
      bronzeTransform(o),
    ),
  };
}

/** A stage that streams one Delta table of the lakehouse into a foreachBatch sink. */
function deltaStage(
  o: StageOptions,
  name: StreamName,
  from: 'bronze' | 'silver' | 'gold',
  sink: Sink,
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
    new DeltaTablesSink(
      'silver',
      { silver: { path: o.paths.tables.silver, schema: SILVER_SCHEMA } },
      async (batch) => ({
        rows: {
          silver: { sql: silverRowsSql(batch.sql, { dropWithoutMentions: o.dropTweetsWithoutMentions }) },
        },
        numInputRows: batch.numRows ?? 0,
      }),
    ),
  );
}

/** gold_stream: silver -> gold (model predictions). */
export function goldQuery(o: StageOptions): Omit<StreamingQueryOptions, 'trigger'> {
  return deltaStage(
    o,
    'gold_stream',
    'silver',
    new DeltaTablesSink(
      'gold',
      { gold: { path: o.paths.tables.gold, schema: GOLD_SCHEMA } },
      goldTransform(o),
    ),
  );
}

/** gold_stream's transform: silver rows -> scored rows (from the prediction cache, else the model). */
function goldTransform(o: StageOptions): StageTransform<'gold'> {
  return async (batch, ctx) => {
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
    } catch (err) {
      await scored.batch.dispose();
      throw err;
    }
    const metrics = {
      ...goldMetrics(scored.metrics, cache !== undefined),
      ...inferenceDeltas(before, classifier.stats),
    };
    return {
      rows: { gold: { sql: scored.batch.sql } },
      numInputRows: batch.numRows ?? scored.metrics.texts,
      metrics: () => metrics,
      dispose: () => scored.batch.dispose(),
    };
  };
}

/** The prediction cache for a classifier, unless it is off or the model has no registry version. */
export function batchCache(
  o: Pick<StageOptions, 'predictionCache' | 'paths' | 'session'>,
  classifier: Classifier,
): BatchCache | undefined {
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
    new DeltaTablesSink(
      'application',
      {
        application: { path: o.paths.tables.application, schema: APPLICATION_SCHEMA, outputMode: 'complete' },
      },
      async (batch, ctx) => {
        // complete output mode: the table's counts merged with the batch's replace the table
        const current = await planScan(ctx.snapshot('application'));
        return {
          rows: { application: { sql: mergeAggregatesSql(current.sql, mentionAggregatesSql(batch.sql)) } },
          numInputRows: batch.numRows ?? 0,
          dispose: () => current.dispose(),
        };
      },
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
