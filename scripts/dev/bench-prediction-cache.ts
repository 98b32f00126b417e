// Measures the prediction cache: a lookup of one gold batch's distinct texts against a cache of N
// scores (before and after OPTIMIZE), its size on disk, and the heap it takes; not a test.
//   npx tsx scripts/dev/bench-prediction-cache.ts [entries=1000000] [batchTexts=10000] [appends=20]
import { execSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { DuckSession, SCRATCH_SCHEMA } from '../../src/duck/session.js';
import { DeltaTable } from '../../src/delta/table.js';
import { PredictionCache, textKeySql } from '../../src/model/prediction-cache.js';

const arg = (i: number, d: number) => Number(process.argv[2 + i] ?? d);
const [entries, batchTexts, appends] = [arg(0, 1_000_000), arg(1, 10_000), arg(2, 20)] as const;
const path = '/tmp/tl-cache-bench/predictions';
rmSync('/tmp/tl-cache-bench', { recursive: true, force: true });
const session = await DuckSession.create({ memoryLimit: '512MB', threads: 2 });
const cache = new PredictionCache(path, session);
const key = { name: 'HF_TWEET_SENTIMENT', version: '1' };
const text = (i: string) =>
  `'a tweet of average length about flight ' || ${i} || ' and its delay at the gate'`;

let t0 = performance.now();
const per = Math.ceil(entries / appends);
for (let a = 0; a < appends; a++) {
  const scores = `SELECT ${textKeySql(text('i'))} AS text_sha256, ['NEG','NEU','POS'][1 + i % 3] AS predicted_sentiment,
    (i % 10000) / 100.0 AS predicted_score FROM range(${a * per}, ${Math.min(entries, (a + 1) * per)}) t(i)`;
  await cache.append(key, scores, { appId: 'bench', version: a });
}
console.log(
  `filled ${entries} scores in ${appends} appends: ${Math.round(performance.now() - t0)} ms, ${execSync(`du -sh ${path}`).toString().split('\t')[0]} on disk`,
);

async function lookup(label: string): Promise<void> {
  // half the batch's texts are in the cache, half are new
  const texts = `${SCRATCH_SCHEMA}.bench_texts`;
  const into = `${SCRATCH_SCHEMA}.bench_preds`;
  await session.run(`DROP TABLE IF EXISTS ${texts}; DROP TABLE IF EXISTS ${into}`);
  await session.run(`CREATE TABLE ${texts} AS SELECT t AS text, ${textKeySql('t')} AS text_sha256 FROM
    (SELECT ${text('CAST(i * 7 % ' + entries + ' AS VARCHAR)')} AS t FROM range(0, ${batchTexts / 2}) r(i)
     UNION ALL SELECT 'new text ' || i FROM range(0, ${batchTexts / 2}) r(i))`);
  await session.run(
    `CREATE TABLE ${into} (text VARCHAR, predicted_sentiment VARCHAR, predicted_score DOUBLE)`,
  );
  const heap = process.memoryUsage().heapUsed;
  t0 = performance.now();
  const hits = await cache.lookup(key, texts, into);
  const ms = performance.now() - t0;
  console.log(
    `${label}: ${hits} of ${batchTexts} texts found in ${Math.round(ms)} ms; heap +${((process.memoryUsage().heapUsed - heap) / 1e6).toFixed(1)} MB, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
  );
}
for (let i = 0; i < 3; i++) await lookup(`lookup ${i + 1} (${appends} files)`);
const r = await (await DeltaTable.forPath(path, session)).optimize();
console.log(`OPTIMIZE: ${r.numFilesRemoved} files -> ${r.numFilesAdded}`);
for (let i = 0; i < 3; i++) await lookup(`lookup ${i + 1} after OPTIMIZE`);
session.close();
