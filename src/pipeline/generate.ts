import { mkdirSync, readdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { DuckSession } from '../duck/session.js';
import { copyTarget } from '../duck/files.js';
import { loadRawRecords } from '../engine/raw-records.js';
import { TweetlakeError } from '../errors.js';
import { storeAt } from '../storage/locations.js';

/** The sample to resample holds no readable tweet. */
export class EmptySample extends TweetlakeError {
  constructor(folder: string) {
    super(
      'SAMPLE_EMPTY',
      `no tweets in ${folder}: give --sample a folder of JSON files with 'text' and 'sentiment' fields`,
      { domain: 'user' },
    );
  }
}

export interface GenerateOptions {
  /** Folder of the sample source to resample. */
  sample: string;
  out: string;
  tweets: number;
  files: number;
  /** Seed of the pseudo-random choices (same seed, same output). */
  seed?: number;
  /** Distinct synthetic authors (default: tweets / 5, at least 100). */
  users?: number;
}

/**
 * Writes a synthetic source of `tweets` tweets in `files` JSON Lines files by resampling the sample:
 * texts and labels come from sample tweets; authors, times and the mix of mentions are new (the
 * first mention of a text is replaced by one of a pool of handles with a skewed popularity, and
 * times advance through a day per file). DuckDB writes the files row group by row group, so memory
 * does not grow with `tweets`.
 */
export async function generateSource(
  session: DuckSession,
  options: GenerateOptions,
): Promise<{ files: string[] }> {
  const files = readdirSync(options.sample)
    .filter((f) => !f.startsWith('.') && !f.startsWith('_'))
    .sort();
  const seed = options.seed ?? 42;
  const users = Math.max(100, options.users ?? Math.floor(options.tweets / 5));
  mkdirSync(options.out, { recursive: true });
  const raw = await loadRawRecords(session, storeAt(options.sample), files);
  try {
    // Numbered in file and line order, so the same sample gives the same choices.
    await session.run(`CREATE OR REPLACE TEMP TABLE gen_sample AS
      SELECT row_number() OVER (ORDER BY source_file, line_number) - 1 AS k,
             json_extract_string(line, '$.text') AS text, json_extract_string(line, '$.sentiment') AS sentiment
      FROM (${raw.sql}) WHERE file_error IS NULL AND json_valid(line)`);
  } finally {
    await raw.dispose();
  }
  const [{ n }] = (await session.all(`SELECT count(*) AS n FROM gen_sample`)) as [{ n: string }];
  const sampleSize = Number(n);
  if (sampleSize === 0) throw new EmptySample(options.sample);
  // A pool of handles: the airlines of the sample (popular) and synthetic ones (long tail).
  await session.run(`CREATE OR REPLACE TEMP TABLE gen_handles AS
    SELECT row_number() OVER (ORDER BY uses DESC, handle) - 1 AS h, handle FROM (
      SELECT lower(m) AS handle, count(*) AS uses
        FROM (SELECT unnest(regexp_extract_all(text, '@([A-Za-z0-9_]{1,15})', 1)) AS m FROM gen_sample) GROUP BY 1
      UNION ALL SELECT 'brand_' || i, 0 FROM range(500) t(i))`);
  const [{ hn }] = (await session.all(`SELECT count(*) AS hn FROM gen_handles`)) as [{ hn: string }];
  const handles = Number(hn);
  const per = Math.ceil(options.tweets / options.files);
  const written: string[] = [];
  for (let f = 0; f < options.files; f++) {
    const start = f * per;
    const end = Math.min(options.tweets, start + per);
    if (start >= end) break;
    const file = nodePath.join(options.out, `tweets-${String(f + 1).padStart(6, '0')}.json`);
    // hash(i, seed) picks sample rows and handles deterministically; a squared draw skews popularity.
    await session.run(`COPY (
      SELECT strftime(TIMESTAMP '2015-02-16 00:00:00' + to_seconds(CAST((i - ${start}) * 86400 / ${per} AS BIGINT)) + to_days(${f}),
                      '%a %b %d %H:%M:%S PST %Y') AS date,
             'user_' || (hash(i, ${seed}, 1) % ${users}) AS "user",
             regexp_replace(s.text, '@[A-Za-z0-9_]{1,15}',
               '@' || (SELECT handle FROM gen_handles WHERE h = CAST(pow((hash(i, ${seed}, 2) % 1000) / 1000.0, 2) * ${handles} AS BIGINT))) AS text,
             s.sentiment
      FROM range(${start}, ${end}) r(i) JOIN gen_sample s ON s.k = hash(i, ${seed}) % ${sampleSize}
      ORDER BY i
    ) TO ${copyTarget(file)} (FORMAT json)`);
    written.push(file);
  }
  await session.run(`DROP TABLE IF EXISTS gen_sample; DROP TABLE IF EXISTS gen_handles`);
  return { files: written };
}
