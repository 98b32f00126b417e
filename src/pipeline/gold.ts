import { randomUUID } from 'node:crypto';
import { SCRATCH_SCHEMA, type DuckSession } from '../duck/session.js';
import type { Classifier } from '../model/classifier.js';
import { textKeySql, type CacheKey, type PredictionCache } from '../model/prediction-cache.js';
import type { SourceBatch } from '../engine/source.js';

/** Metrics of one gold batch, for progress and the performance report. */
export interface InferenceMetrics {
  texts: number;
  distinctTexts: number;
  /** Distinct texts whose scores came from the prediction cache. */
  cachedTexts: number;
  inferenceMs: number;
}

/** SQL: given sentiment text -> id. 0 negative, 1 positive, 2 neutral (docs/pipeline.md), NULL otherwise. */
export function sentimentIdSql(col: string): string {
  return `CASE lower(${col}) WHEN 'negative' THEN 0 WHEN 'positive' THEN 1 WHEN 'neutral' THEN 2 END`;
}

/**
 * SQL: a model's label on gold's scale NEG / NEU / POS: the bundled model's labels as they are, and
 * the other spellings of the hub's sentiment models (`negative`, `Neutral`, `POSITIVE`, `neg`, …)
 * mapped to them; any other label is kept as the model gave it.
 */
export function predictedSentimentSql(col: string): string {
  return `CASE lower(${col}) WHEN 'negative' THEN 'NEG' WHEN 'neg' THEN 'NEG' WHEN 'neutral' THEN 'NEU'
    WHEN 'neu' THEN 'NEU' WHEN 'positive' THEN 'POS' WHEN 'pos' THEN 'POS' ELSE ${col} END`;
}

/** SQL: predicted label -> id, on the same scale as `sentimentIdSql`. */
export function predictedIdSql(col: string): string {
  return `CASE ${col} WHEN 'NEG' THEN 0 WHEN 'POS' THEN 1 WHEN 'NEU' THEN 2 END`;
}

/** The prediction cache of a gold batch: the table and the key of the model scoring it. */
export interface BatchCache {
  cache: PredictionCache;
  key: CacheKey;
}

/** A scored gold batch; `newScores` is SQL over the scores the model computed (for the cache). */
export interface ScoredBatch {
  batch: SourceBatch;
  metrics: InferenceMetrics;
  newScores: string;
}

interface ScratchTables {
  input: string;
  texts: string;
  preds: string;
  predsName: string;
  misses: string;
}

function scratchTables(): ScratchTables {
  const id = randomUUID().replace(/-/g, '');
  return {
    input: `${SCRATCH_SCHEMA}.silver_${id}`,
    texts: `${SCRATCH_SCHEMA}.texts_${id}`,
    preds: `${SCRATCH_SCHEMA}.pred_${id}`,
    predsName: `pred_${id}`,
    misses: `${SCRATCH_SCHEMA}.miss_${id}`,
  };
}

/** Scores the texts the cache did not have, chunk by chunk, into the predictions table. */
async function scoreMisses(
  session: DuckSession,
  classifier: Classifier,
  t: ScratchTables,
  progress: {
    chunkSize: number;
    done: number;
    total: number;
    onChunk?: (done: number, total: number) => void;
  },
): Promise<number> {
  let inferenceMs = 0;
  let done = progress.done;
  // in a fixed order: which texts share a model batch must not depend on how DuckDB's threads ran
  for await (const rows of session.stream(`SELECT text FROM ${t.misses} ORDER BY text`)) {
    for (let i = 0; i < rows.length; i += progress.chunkSize) {
      const chunk = rows.slice(i, i + progress.chunkSize);
      const texts = chunk.map((r) => String(r.text));
      const t0 = performance.now();
      const predictions = await classifier.classify(texts);
      inferenceMs += performance.now() - t0;
      await session.appendRows(
        t.predsName,
        ['varchar', 'varchar', 'double'],
        texts.map((text, k) => [text, predictions[k]!.label, predictions[k]!.score]),
        SCRATCH_SCHEMA,
      );
      done += texts.length;
      progress.onChunk?.(done, progress.total);
    }
  }
  return inferenceMs;
}

/**
 * The gold transform: scores each distinct cleaned text of a silver batch once (a tweet with three
 * mentions is one text), taking what it can from the prediction cache, scoring the rest in chunks so
 * memory stays bounded, and joining the predictions back.
 */
export async function scoreBatch(
  batch: SourceBatch,
  session: DuckSession,
  classifier: Classifier,
  options: { chunkSize?: number; onChunk?: (done: number, total: number) => void; cache?: BatchCache } = {},
): Promise<ScoredBatch> {
  const t = scratchTables();
  const dispose = async () => {
    for (const table of [t.input, t.texts, t.preds, t.misses])
      await session.run(`DROP TABLE IF EXISTS ${table}`);
  };
  try {
    await session.run(`CREATE TABLE ${t.input} AS ${batch.sql}`);
    await session.run(
      `CREATE TABLE ${t.texts} AS SELECT text, ${options.cache ? textKeySql('text') : 'CAST(NULL AS BLOB)'} AS text_sha256
       FROM (SELECT DISTINCT coalesce(cleaned_text, '') AS text FROM ${t.input})`,
    );
    await session.run(
      `CREATE TABLE ${t.preds} (text VARCHAR, predicted_sentiment VARCHAR, predicted_score DOUBLE)`,
    );
    const [counts] = await session.all(
      `SELECT (SELECT count(*) FROM ${t.input}) AS n, (SELECT count(*) FROM ${t.texts}) AS d`,
    );
    const total = Number(counts?.d ?? 0);
    const cachedTexts = options.cache
      ? await options.cache.cache.lookup(options.cache.key, t.texts, t.preds)
      : 0;
    if (cachedTexts > 0) options.onChunk?.(cachedTexts, total);
    await session.run(
      `CREATE TABLE ${t.misses} AS SELECT text, text_sha256 FROM ${t.texts} WHERE text NOT IN (SELECT text FROM ${t.preds})`,
    );
    const inferenceMs = await scoreMisses(session, classifier, t, {
      chunkSize: options.chunkSize ?? 1024,
      done: cachedTexts,
      total,
      ...(options.onChunk ? { onChunk: options.onChunk } : {}),
    });
    const sql = `SELECT "timestamp", mention, cleaned_text, sentiment, predicted_score, predicted_sentiment,
        ${sentimentIdSql('sentiment')} AS sentiment_id, ${predictedIdSql('predicted_sentiment')} AS predicted_sentiment_id
      FROM (SELECT s."timestamp", s.mention, s.cleaned_text, s.sentiment, p.predicted_score,
          ${predictedSentimentSql('p.predicted_sentiment')} AS predicted_sentiment
        FROM ${t.input} s LEFT JOIN ${t.preds} p ON coalesce(s.cleaned_text, '') = p.text)`;
    const newScores = `SELECT m.text_sha256, p.predicted_sentiment, p.predicted_score
      FROM ${t.misses} m JOIN ${t.preds} p ON p.text = m.text`;
    return {
      batch: { sql, description: batch.description, numRows: Number(counts?.n ?? 0), dispose },
      metrics: { texts: Number(counts?.n ?? 0), distinctTexts: total, cachedTexts, inferenceMs },
      newScores,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
