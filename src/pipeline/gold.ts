import { randomUUID } from 'node:crypto';
import { SCRATCH_SCHEMA, type DuckSession } from '../duck/session.js';
import type { Classifier } from '../model/classifier.js';
import type { SourceBatch } from '../engine/source.js';

/** Metrics of one gold batch, for progress and the performance report. */
export interface InferenceMetrics {
  texts: number;
  distinctTexts: number;
  inferenceMs: number;
}

/** SQL: given sentiment text -> id. 0 negative, 1 positive, 2 neutral (docs/pipeline.md), NULL otherwise. */
export function sentimentIdSql(col: string): string {
  return `CASE lower(${col}) WHEN 'negative' THEN 0 WHEN 'positive' THEN 1 WHEN 'neutral' THEN 2 END`;
}

/** SQL: predicted label -> id, on the same scale as `sentimentIdSql`. */
export function predictedIdSql(col: string): string {
  return `CASE ${col} WHEN 'NEG' THEN 0 WHEN 'POS' THEN 1 WHEN 'NEU' THEN 2 END`;
}

/**
 * The gold transform: scores each distinct cleaned text of a silver batch once (a tweet with three
 * mentions is one text), in chunks so memory stays bounded, and joins the predictions back.
 */
export async function scoreBatch(
  batch: SourceBatch,
  session: DuckSession,
  classifier: Classifier,
  options: { chunkSize?: number; onChunk?: (done: number, total: number) => void } = {},
): Promise<{ batch: SourceBatch; metrics: InferenceMetrics }> {
  const id = randomUUID().replace(/-/g, '');
  const input = `${SCRATCH_SCHEMA}.silver_${id}`;
  const predsName = `pred_${id}`;
  const preds = `${SCRATCH_SCHEMA}.${predsName}`;
  await session.run(`CREATE TABLE ${input} AS ${batch.sql}`);
  await session.run(
    `CREATE TABLE ${preds} (text VARCHAR, predicted_sentiment VARCHAR, predicted_score DOUBLE)`,
  );
  const dispose = async () => {
    await session.run(`DROP TABLE IF EXISTS ${input}; DROP TABLE IF EXISTS ${preds}`);
  };
  try {
    const [counts] = await session.all(
      `SELECT count(*) AS n, count(DISTINCT coalesce(cleaned_text, '')) AS d FROM ${input}`,
    );
    const chunkSize = options.chunkSize ?? 1024;
    let inferenceMs = 0;
    let done = 0;
    for await (const rows of session.stream(
      `SELECT DISTINCT coalesce(cleaned_text, '') AS text FROM ${input}`,
    )) {
      for (let i = 0; i < rows.length; i += chunkSize) {
        const texts = rows.slice(i, i + chunkSize).map((r) => String(r.text));
        const t0 = performance.now();
        const predictions = await classifier.classify(texts);
        inferenceMs += performance.now() - t0;
        await session.appendRows(
          predsName,
          ['varchar', 'varchar', 'double'],
          texts.map((t, k) => [t, predictions[k]!.label, predictions[k]!.score]),
          SCRATCH_SCHEMA,
        );
        done += texts.length;
        options.onChunk?.(done, Number(counts?.d ?? 0));
      }
    }
    const sql = `SELECT s."timestamp", s.mention, s.cleaned_text, s.sentiment,
        p.predicted_score, p.predicted_sentiment,
        ${sentimentIdSql('s.sentiment')} AS sentiment_id,
        ${predictedIdSql('p.predicted_sentiment')} AS predicted_sentiment_id
      FROM ${input} s LEFT JOIN ${preds} p ON coalesce(s.cleaned_text, '') = p.text`;
    return {
      batch: { sql, description: batch.description, numRows: Number(counts?.n ?? 0), dispose },
      metrics: { texts: Number(counts?.n ?? 0), distinctTexts: Number(counts?.d ?? 0), inferenceMs },
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
