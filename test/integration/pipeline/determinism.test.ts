/**
 * The same source through the real pipeline and the bundled model twice, with everything that decides
 * how texts are batched set differently (files per micro-batch, texts per gold chunk, texts per model
 * call, worker count): gold must come out identical, predicted_sentiment and predicted_score included,
 * and so must application. (With dynamic int8 quantization, whose activation scales span the whole
 * padded batch, some of these texts changed label and scores moved by many points.)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession } from '../../../src/duck/session.js';
import { bundledModelDir } from '../../../src/model/bundled.js';
import type { Classifier } from '../../../src/model/classifier.js';
import { loadClassifier } from '../../../src/model/load.js';
import { bundledSampleDir } from '../../../src/pipeline/config.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { tempDirs } from '../../helpers/delta.js';

interface Settings {
  maxFilesPerTrigger: number;
  inferenceBatchSize: number;
  modelBatchSize: number;
  workers: number;
}

const dirs = tempDirs('tweetlake-determinism-');
let session: DuckSession;
let source: string;
const classifiers: Classifier[] = [];

async function rows(root: string, table: string, columns: string): Promise<string[]> {
  const t = await DeltaTable.forPath(nodePath.join(root, table), session);
  const plan = await t.scan();
  try {
    const out = await session.all(`SELECT to_json(q) AS j FROM (SELECT ${columns} FROM (${plan.sql})) q`);
    return out.map((r) => String(r.j)).sort();
  } finally {
    await plan.dispose();
  }
}

async function runWith(s: Settings): Promise<{ gold: string[]; application: string[]; texts: number }> {
  const root = dirs.make();
  const classifier = await loadClassifier(
    { uri: bundledModelDir(), dir: bundledModelDir(), name: 'HF_TWEET_SENTIMENT' },
    { workers: s.workers, batchSize: s.modelBatchSize },
  );
  classifiers.push(classifier);
  await new Pipeline({
    root,
    source,
    session,
    classifier: async () => classifier,
    maxFilesPerTrigger: s.maxFilesPerTrigger,
    inferenceBatchSize: s.inferenceBatchSize,
  }).run();
  return {
    // every column, the score as the exact double it is stored as
    gold: await rows(
      root,
      'gold',
      `CAST("timestamp" AS VARCHAR) AS ts, mention, cleaned_text, sentiment, CAST(predicted_score AS VARCHAR) AS score, predicted_sentiment, sentiment_id, predicted_sentiment_id`,
    ),
    application: await rows(
      root,
      'application',
      'mention, CAST(min_timestamp AS VARCHAR) AS lo, CAST(max_timestamp AS VARCHAR) AS hi, negative, neutral, positive, total',
    ),
    texts: classifier.stats!.texts,
  };
}

beforeAll(async () => {
  session = await DuckSession.create({ threads: 2 });
  source = nodePath.join(dirs.make(), 'source');
  mkdirSync(source);
  // 800 tweets of the bundled sample in 16 files of 50
  const lines = ['tweets-001.json', 'tweets-002.json', 'tweets-003.json']
    .flatMap((f) => readFileSync(nodePath.join(bundledSampleDir(), f), 'utf8').trim().split('\n'))
    .slice(0, 800);
  expect(lines).toHaveLength(800);
  for (let k = 0; k < 16; k++) {
    writeFileSync(
      nodePath.join(source, `part-${String(k).padStart(2, '0')}.json`),
      lines.slice(k * 50, (k + 1) * 50).join('\n') + '\n',
    );
  }
});

afterAll(async () => {
  for (const c of classifiers) await c.close();
  session?.close();
  dirs.cleanup();
});

describe('gold does not depend on how texts are batched', () => {
  it('two runs with different batch settings give identical gold (labels and exact scores) and application', async () => {
    const a = await runWith({ maxFilesPerTrigger: 1, inferenceBatchSize: 97, modelBatchSize: 5, workers: 1 });
    const b = await runWith({
      maxFilesPerTrigger: 20,
      inferenceBatchSize: 1024,
      modelBatchSize: 64,
      workers: 2,
    });
    expect(a.gold.length).toBeGreaterThan(800);
    // the two runs really batched differently: run a scored each micro-batch's texts on their own
    expect(a.texts).toBeGreaterThan(b.texts);
    const differing = a.gold.filter((row, i) => row !== b.gold[i]);
    expect(differing.slice(0, 5)).toEqual([]);
    expect(a.gold).toEqual(b.gold);
    expect(a.application).toEqual(b.application);
  }, 600_000);
});
