/**
 * Builds the bundled sample source, data/sample/, from the airline tweets of ../shared/data:
 * each tweet becomes {date, user, text, sentiment} with `date` as Twitter printed it
 * ("EEE MMM dd HH:mm:ss zzz yyyy"). The data set's times are US Pacific (PST, UTC-8, in February
 * 2015). Tweets are ordered by time and split into 30 JSON Lines files, as if they arrived in turns.
 *
 *   npx tsx scripts/sample/make-sample.ts [--source ../shared/data/airline_tweets/Tweets.csv] [--out data/sample] [--files 30]
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as nodePath from 'node:path';
import { copyTarget, readerFiles } from '../../src/duck/files.js';
import { DuckSession } from '../../src/duck/session.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const source = nodePath.resolve(arg('source', '../shared/data/airline_tweets/Tweets.csv'));
const out = nodePath.resolve(arg('out', 'data/sample'));
const files = Number(arg('files', '30'));

const session = await DuckSession.create();
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith('.json')) rmSync(nodePath.join(out, f));
await session.run(`CREATE TABLE tweets AS
  SELECT row_number() OVER () AS n, * FROM read_csv(${readerFiles([source])}, all_varchar=true, header=true)`);
await session.run(`CREATE TABLE ordered AS
  SELECT row_number() OVER (ORDER BY strptime(tweet_created, '%d-%m-%Y %H:%M'), n) - 1 AS k,
         strftime(strptime(tweet_created, '%d-%m-%Y %H:%M'), '%a %b %d %H:%M:%S PST %Y') AS date,
         name AS "user", text, airline_sentiment AS sentiment
  FROM tweets`);
const [{ total }] = (await session.all(`SELECT count(*) AS total FROM ordered`)) as [{ total: string }];
const per = Math.ceil(Number(total) / files);
for (let i = 0; i < files; i++) {
  const file = nodePath.join(out, `tweets-${String(i + 1).padStart(3, '0')}.json`);
  await session.run(
    `COPY (SELECT date, "user", text, sentiment FROM ordered WHERE k >= ${i * per} AND k < ${(i + 1) * per} ORDER BY k)
     TO ${copyTarget(file)} (FORMAT json)`,
  );
}
console.log(`wrote ${total} tweets in ${files} files to ${out}`);
session.close();
