/**
 * The prediction cache: a Delta table of the scores a model version gave, keyed by the SHA-256 of the
 * text, so that a replayed batch, a re-run after `clear` and repeated texts are scored once per model
 * version. Lookups are SQL joins in DuckDB (a batch's distinct texts against one model version's
 * partition), never a map of the cache in the JS heap.
 */
import { removeLocation } from '../storage/locations.js';
import { literal, type DuckSession } from '../duck/session.js';
import { field, type StructType } from '../delta/schema.js';
import { fileStats } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import type { Classifier } from './classifier.js';

/** Columns of the cache table, partitioned by model name and version. */
export const PREDICTION_CACHE_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('model_name', 'string'),
    field('model_version', 'string'),
    field('text_sha256', 'binary'),
    field('predicted_sentiment', 'string'),
    field('predicted_score', 'double'),
  ],
};

/** Which model's scores: a registered name and version (registry versions never change). */
export interface CacheKey {
  name: string;
  version: string;
}

/**
 * The cache key of a classifier, or undefined when it has no registry version (a model folder by
 * path or a `runs:/` URI can change under the same name, so its scores are not cached).
 */
export function cacheKeyOf(info: Classifier['info']): CacheKey | undefined {
  return info.version === undefined || info.version === ''
    ? undefined
    : { name: info.name, version: info.version };
}

/** SQL: the cache's key of a text column (32 bytes of SHA-256 of its UTF-8 bytes). */
export function textKeySql(col: string): string {
  return `unhex(sha256(${col}))`;
}

/** Where a commit to the cache comes from: the gold query and batch (the Delta txn). */
export interface CacheTxn {
  appId: string;
  version: number;
  queryName?: string;
}

/** The prediction cache table at `path`. */
export class PredictionCache {
  constructor(
    readonly path: string,
    private readonly session: DuckSession,
  ) {}

  private table(): Promise<DeltaTable> {
    return DeltaTable.forPath(this.path, this.session);
  }

  /**
   * Copies into `into` (text, predicted_sentiment, predicted_score) the cached scores of
   * the distinct texts of `texts` (text, text_sha256); returns how many texts were found. Should the
   * cache hold a text twice (two writers), the row kept is the same every time.
   */
  async lookup(key: CacheKey, texts: string, into: string): Promise<number> {
    const table = await this.table();
    if (!(await table.exists())) return 0;
    const snapshot = await table.snapshot();
    const files = snapshot.files.filter(
      (f) => f.partitionValues.model_name === key.name && f.partitionValues.model_version === key.version,
    );
    if (files.length === 0) return 0;
    const plan = await table.scan(snapshot, {
      files,
      columns: ['text_sha256', 'predicted_sentiment', 'predicted_score'],
    });
    try {
      const [before] = await this.session.all(`SELECT count(*) AS n FROM ${into}`);
      await this.session.run(
        `INSERT INTO ${into} (text, predicted_sentiment, predicted_score)
         SELECT t.text, c.predicted_sentiment, c.predicted_score
         FROM ${texts} t JOIN (${plan.sql}) c ON c.text_sha256 = t.text_sha256
         QUALIFY row_number() OVER (PARTITION BY t.text_sha256 ORDER BY c.predicted_score, c.predicted_sentiment) = 1`,
      );
      const [after] = await this.session.all(`SELECT count(*) AS n FROM ${into}`);
      return Number(after?.n ?? 0) - Number(before?.n ?? 0);
    } finally {
      await plan.dispose();
    }
  }

  /**
   * Appends the new scores of one gold batch (`scores`: SQL with text_sha256, predicted_sentiment,
   * predicted_score) in one commit carrying the txn, so a replayed batch adds nothing twice.
   * Returns the rows written (0 when the txn was already applied or there was nothing new).
   */
  async append(key: CacheKey, scores: string, txn: CacheTxn): Promise<number> {
    const table = await this.table();
    const result = await table.write(
      {
        sql: `SELECT ${literal(key.name)} AS model_name, ${literal(key.version)} AS model_version,
                CAST(text_sha256 AS BLOB) AS text_sha256, CAST(predicted_sentiment AS VARCHAR) AS predicted_sentiment,
                CAST(predicted_score AS DOUBLE) AS predicted_score
              FROM (${scores})`,
      },
      {
        mode: 'append',
        partitionBy: ['model_name', 'model_version'],
        txn: { appId: txn.appId, version: txn.version },
        operation: 'STREAMING UPDATE',
        operationParameters: {
          outputMode: 'Append',
          ...(txn.queryName ? { queryName: txn.queryName } : {}),
          queryId: txn.appId,
          epochId: String(txn.version),
        },
        description: 'tweetlake prediction cache: scores by model name, version and SHA-256 of the text',
      },
    );
    return result.skipped ? 0 : result.numRows;
  }

  /** Rows per model version (for `tweetlake cache` and the dashboard). */
  async entries(): Promise<{ name: string; version: string; rows: number }[]> {
    const table = await this.table();
    if (!(await table.exists())) return [];
    const snapshot = await table.snapshot();
    const by = new Map<string, { name: string; version: string; rows: number }>();
    for (const f of snapshot.files) {
      const name = f.partitionValues.model_name ?? '';
      const version = f.partitionValues.model_version ?? '';
      const k = JSON.stringify([name, version]);
      const e = by.get(k) ?? { name, version, rows: 0 };
      e.rows += fileStats(f)?.numRecords ?? 0;
      by.set(k, e);
    }
    return [...by.values()].sort((a, b) =>
      a.name === b.name ? Number(a.version) - Number(b.version) : a.name < b.name ? -1 : 1,
    );
  }

  /** Deletes the whole cache table. */
  async clear(): Promise<void> {
    await removeLocation(this.path);
  }
}
