/**
 * The prediction cache with the real bundled model in the real inference pool: every classify call
 * goes through a counting wrapper that passes the texts on to the pool unchanged, so "scored" below
 * means texts the model really scored.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/table.js';
import { DuckSession, type JsonRow } from '../../../src/duck/session.js';
import type { QueryProgress } from '../../../src/engine/progress.js';
import { bundledModelDir } from '../../../src/model/bundled.js';
import type { Classifier, Prediction } from '../../../src/model/classifier.js';
import { InferencePool } from '../../../src/model/inference-pool.js';
import { readMlflowModel } from '../../../src/model/mlmodel.js';
import { PredictionCache } from '../../../src/model/prediction-cache.js';
import { lakehousePaths, type StreamName } from '../../../src/pipeline/paths.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { dashboardState } from '../../../src/ui/dashboard-state.js';
import { tempDirs } from '../../helpers/delta.js';

const CLI = nodePath.resolve('dist/cli/main.js');
const SAMPLE = nodePath.resolve('data/sample');
/** The registry version the CLI gives the bundled model on first use. */
const BUNDLED_V1 = { name: 'HF_TWEET_SENTIMENT', version: '1', uri: 'models:/HF_TWEET_SENTIMENT/1' };

/** Passes every call on to the real classifier and counts what it was asked to score. */
class Counting implements Classifier {
  calls = 0;
  texts = 0;
  readonly info: Classifier['info'];
  constructor(
    private readonly inner: Classifier,
    info?: Classifier['info'],
  ) {
    this.info = info ?? inner.info;
  }
  get labels(): readonly string[] {
    return this.inner.labels;
  }
  async classify(texts: string[]): Promise<Prediction[]> {
    this.calls++;
    this.texts += texts.length;
    return this.inner.classify(texts);
  }
  async close(): Promise<void> {}
}

const dirs = tempDirs('tweetlake-cache-');
let session: DuckSession;
let pool: InferencePool;
let source: string;
const sampleLines = (file: string) => readFileSync(nodePath.join(SAMPLE, file), 'utf8').trim().split('\n');
const withUser = (line: string, user: string) =>
  JSON.stringify({ ...(JSON.parse(line) as Record<string, unknown>), user });

async function run(
  root: string,
  classifier: Classifier,
  options: { predictionCache?: boolean; clear?: boolean } = {},
): Promise<Map<StreamName, QueryProgress[]>> {
  const progress = new Map<StreamName, QueryProgress[]>();
  const pipeline = new Pipeline({
    root,
    source,
    session,
    classifier: async () => classifier,
    maxFilesPerTrigger: 1,
    ...(options.predictionCache === false ? { predictionCache: false } : {}),
    onProgress: (s, p) => progress.set(s, [...(progress.get(s) ?? []), p]),
  });
  if (options.clear) await pipeline.clear();
  await pipeline.run();
  return progress;
}

async function scan(path: string, select = '*', order = 'ALL'): Promise<JsonRow[]> {
  const table = await DeltaTable.forPath(path, session);
  if (!(await table.exists())) return [];
  const plan = await table.scan();
  try {
    return await session.all(`SELECT ${select} FROM (${plan.sql}) ORDER BY ${order}`);
  } finally {
    await plan.dispose();
  }
}

/** Distinct texts the gold stage scores (silver's cleaned texts, NULL as ''). */
async function distinctTexts(root: string): Promise<number> {
  const [row] = await scan(
    lakehousePaths(root).tables.silver,
    `count(DISTINCT coalesce(cleaned_text, '')) AS n`,
    '1',
  );
  return Number(row!.n);
}

const goldRows = (root: string) => scan(lakehousePaths(root).tables.gold);
const cacheRows = (root: string) =>
  scan(
    lakehousePaths(root).predictionCache,
    'model_name, model_version, hex(text_sha256) AS h, predicted_score',
  );
const goldMetric = (p: Map<StreamName, QueryProgress[]>, key: string) =>
  (p.get('gold_stream') ?? []).reduce((n, q) => n + (q.metrics[key] ?? 0), 0);

beforeAll(async () => {
  session = await DuckSession.create({ threads: 2 });
  const model = readMlflowModel(bundledModelDir());
  pool = await InferencePool.create({
    modelDir: model.hfDir,
    info: BUNDLED_V1,
    workers: 2,
    batchSize: 32,
    maxLength: model.maxLength,
  });
  source = nodePath.join(dirs.make(), 'source');
  mkdirSync(source);
  // file A: 160 tweets plus 20 copies of some of them by other users (the same text twice in a batch)
  const a = sampleLines('tweets-001.json').slice(0, 160);
  writeFileSync(
    nodePath.join(source, 'a.json'),
    [...a, ...a.slice(0, 20).map((l, i) => withUser(l, `copier${i}`))].join('\n') + '\n',
  );
}, 120_000);

afterAll(async () => {
  await pool?.close();
  session?.close();
  dirs.cleanup();
});

describe('the prediction cache (bundled model, real inference pool)', () => {
  const root = dirs.make('lake');

  it('a first run scores each distinct text once and keeps every score in the cache', async () => {
    const counting = new Counting(pool);
    const progress = await run(root, counting);
    const distinct = await distinctTexts(root);
    expect(counting.texts).toBe(distinct);
    expect(goldMetric(progress, 'cachedTexts')).toBe(0);
    expect(goldMetric(progress, 'scoredTexts')).toBe(distinct);
    expect(goldMetric(progress, 'predictionCache')).toBe(1);
    const cache = await cacheRows(root);
    expect(cache).toHaveLength(distinct);
    expect(new Set(cache.map((r) => r.h)).size).toBe(distinct);
    expect(cache.every((r) => r.model_name === 'HF_TWEET_SENTIMENT' && r.model_version === '1')).toBe(true);
  });

  it('the same texts in a later batch come from the cache; only new texts are scored', async () => {
    const a = readFileSync(nodePath.join(source, 'a.json'), 'utf8').trim().split('\n');
    const fresh = sampleLines('tweets-002.json').slice(0, 30);
    writeFileSync(
      nodePath.join(source, 'b.json'),
      [...a.slice(100, 140).map((l, i) => withUser(l, `retweeter${i}`)), ...fresh].join('\n') + '\n',
    );
    const before = await distinctTexts(root);
    const counting = new Counting(pool);
    const progress = await run(root, counting);
    const added = (await distinctTexts(root)) - before;
    expect(added).toBeGreaterThan(0);
    expect(counting.texts).toBe(added);
    const batchDistinct = goldMetric(progress, 'distinctTexts');
    expect(goldMetric(progress, 'cachedTexts')).toBe(batchDistinct - added);
    expect(goldMetric(progress, 'cachedTexts')).toBeGreaterThanOrEqual(35); // the copied tweets
    expect(progress.get('gold_stream')!.at(-1)!.metrics.cacheHitRate).toBeCloseTo(
      (batchDistinct - added) / batchDistinct,
      10,
    );
    expect(await cacheRows(root)).toHaveLength(await distinctTexts(root));
  });

  it('a re-run after clear scores nothing and writes the same gold, to the last bit of every score', async () => {
    const gold = await goldRows(root);
    const cacheBefore = await cacheRows(root);
    const counting = new Counting(pool);
    const progress = await run(root, counting, { clear: true });
    expect(counting.calls).toBe(0);
    expect(counting.texts).toBe(0);
    expect(goldMetric(progress, 'cachedTexts')).toBe(goldMetric(progress, 'distinctTexts'));
    expect(progress.get('gold_stream')!.every((p) => p.metrics.cacheHitRate === 1)).toBe(true);
    expect(await goldRows(root)).toEqual(gold); // predicted_score compared as doubles, exactly
    expect(await cacheRows(root)).toEqual(cacheBefore); // nothing added
    const state = await dashboardState(session, root);
    expect(state.predictionCache).toMatchObject({ hitRate: 1, entries: cacheBefore.length });
  });

  it('--no-cache (predictionCache: false) scores every text and leaves the cache alone', async () => {
    const cacheBefore = await cacheRows(root);
    const counting = new Counting(pool);
    const progress = await run(root, counting, { clear: true, predictionCache: false });
    // each batch's distinct texts, so the texts of file A copied into file B are scored twice
    expect(counting.texts).toBe(goldMetric(progress, 'distinctTexts'));
    expect(counting.texts).toBeGreaterThan(await distinctTexts(root));
    expect(goldMetric(progress, 'cachedTexts')).toBe(0);
    expect(goldMetric(progress, 'predictionCache')).toBe(0);
    expect(await cacheRows(root)).toEqual(cacheBefore);
  });

  it('another model version misses: it is scored again and cached apart', async () => {
    const v1 = await cacheRows(root);
    const counting = new Counting(pool, { ...BUNDLED_V1, version: '2', uri: 'models:/HF_TWEET_SENTIMENT/2' });
    await run(root, counting, { clear: true });
    expect(counting.texts).toBe(await distinctTexts(root));
    const entries = await new PredictionCache(lakehousePaths(root).predictionCache, session).entries();
    expect(entries).toEqual([
      { name: 'HF_TWEET_SENTIMENT', version: '1', rows: v1.length },
      { name: 'HF_TWEET_SENTIMENT', version: '2', rows: v1.length },
    ]);
  });

  it('a model without a registry version (a folder) is not cached', async () => {
    const other = dirs.make('unversioned');
    const counting = new Counting(pool, { name: 'hf_tweet_sentiment', uri: bundledModelDir() });
    const progress = await run(other, counting);
    expect(counting.texts).toBe(goldMetric(progress, 'distinctTexts'));
    expect(counting.texts).toBeGreaterThan(await distinctTexts(other));
    expect(goldMetric(progress, 'predictionCache')).toBe(0);
    expect(existsSync(lakehousePaths(other).predictionCache)).toBe(false);
  });

  it('OPTIMIZE compacts the cache like any table, and lookups still hit', async () => {
    const table = await DeltaTable.forPath(lakehousePaths(root).predictionCache, session);
    const before = await cacheRows(root);
    const r = await table.optimize();
    expect(r.numFilesRemoved).toBeGreaterThanOrEqual(2); // version 1's two appends
    expect(await cacheRows(root)).toEqual(before);
    const counting = new Counting(pool);
    await run(root, counting, { clear: true });
    expect(counting.texts).toBe(0);
  });
});

/** Runs `tweetlake run` and SIGKILLs it the moment the prediction cache's first commit appears. */
function killAfterCacheCommit(root: string): Promise<'killed' | 'finished'> {
  const commit = nodePath.join(lakehousePaths(root).predictionCache, '_delta_log', `${'0'.repeat(20)}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'run', '--root', root, '--source', source], {
      stdio: 'ignore',
      env: { ...process.env, MLFLOW_TRACKING_URI: '' },
    });
    const poll = setInterval(() => {
      if (existsSync(commit)) child.kill('SIGKILL');
    }, 1);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0) resolve('finished');
      else reject(new Error(`tweetlake run exited with ${code}`));
    });
  });
}

describe('replay after a crash', () => {
  it('a gold batch killed after its scores reached the cache is replayed without scoring anything', async () => {
    let root = '';
    // The kill must land between the cache commit and the gold commit; retry if the gold commit won.
    for (let attempt = 0; attempt < 4; attempt++) {
      root = dirs.make(`crash-${attempt}`);
      expect(await killAfterCacheCommit(root)).toBe('killed');
      const gold = await DeltaTable.forPath(lakehousePaths(root).tables.gold, session);
      if ((await gold.exists()) && (await gold.snapshot()).numFiles > 0) continue;
      break;
    }
    const gold = await DeltaTable.forPath(lakehousePaths(root).tables.gold, session);
    expect(!(await gold.exists()) || (await gold.snapshot()).numFiles === 0).toBe(true);
    const cached = await cacheRows(root);
    expect(cached.length).toBeGreaterThan(0);
    const counting = new Counting(pool);
    const progress = await run(root, counting);
    expect(counting.texts).toBe(0);
    expect(progress.get('gold_stream')!.map((p) => p.batchId)).toEqual([0]); // the replayed batch
    // every gold row carries exactly the score the killed run's model gave (now in the cache)
    const paths = lakehousePaths(root);
    const goldPlan = await gold.scan();
    const cachePlan = await (await DeltaTable.forPath(paths.predictionCache, session)).scan();
    try {
      const [check] = await session.all(
        `SELECT count(*) AS n, count(c.predicted_score) AS matched,
           count(*) FILTER (WHERE g.predicted_score IS DISTINCT FROM c.predicted_score) AS differ
         FROM (${goldPlan.sql}) g LEFT JOIN (${cachePlan.sql}) c
           ON c.text_sha256 = unhex(sha256(coalesce(g.cleaned_text, '')))`,
      );
      expect(Number(check!.n)).toBe((await scan(paths.tables.silver)).length);
      expect(Number(check!.matched)).toBe(Number(check!.n));
      expect(Number(check!.differ)).toBe(0);
    } finally {
      await goldPlan.dispose();
      await cachePlan.dispose();
    }
    expect(await cacheRows(root)).toEqual(cached); // the replay added nothing
  }, 300_000);
});
