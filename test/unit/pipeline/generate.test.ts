import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, literal } from '../../../src/duck/session.js';
import { bundledSampleDir } from '../../../src/pipeline/config.js';
import { generateSource } from '../../../src/pipeline/generate.js';
import { parseTwitterDateSql } from '../../../src/pipeline/silver.js';
import { tempDirs } from '../../helpers/delta.js';

let session: DuckSession;
const dirs = tempDirs('tweetlake-generate-');
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => {
  session.close();
  dirs.cleanup();
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('generateSource', () => {
  it('writes N tweets in F JSON Lines files of the source format, the same bytes for the same seed', async () => {
    const out1 = dirs.make('gen');
    const out2 = dirs.make('gen');
    const out3 = dirs.make('gen');
    const r1 = await generateSource(session, {
      sample: bundledSampleDir(),
      out: out1,
      tweets: 1000,
      files: 3,
      seed: 11,
    });
    const r2 = await generateSource(session, {
      sample: bundledSampleDir(),
      out: out2,
      tweets: 1000,
      files: 3,
      seed: 11,
    });
    const r3 = await generateSource(session, {
      sample: bundledSampleDir(),
      out: out3,
      tweets: 1000,
      files: 3,
      seed: 12,
    });

    expect(r1.files.map((f) => nodePath.basename(f))).toEqual([
      'tweets-000001.json',
      'tweets-000002.json',
      'tweets-000003.json',
    ]);
    expect(readdirSync(out1).sort()).toEqual(r1.files.map((f) => nodePath.basename(f)));
    const perFile = r1.files.map((f) => lines(f).length);
    expect(perFile).toEqual([334, 334, 332]);

    const text1 = r1.files.map((f) => readFileSync(f, 'utf8'));
    expect(r2.files.map((f) => readFileSync(f, 'utf8'))).toEqual(text1);
    expect(r3.files.map((f) => readFileSync(f, 'utf8'))).not.toEqual(text1);

    const records = r1.files.flatMap(lines).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(Object.keys(r).sort()).toEqual(['date', 'sentiment', 'text', 'user']);
      for (const v of Object.values(r)) expect(typeof v).toBe('string');
      expect(['positive', 'negative', 'neutral']).toContain(r.sentiment);
    }
    // Every date parses with the silver rule; each file covers its own day, in order.
    const dates = records.map((r) => literal(String(r.date))).join(', ');
    const [parsed] = await session.all(
      `SELECT count(*) FILTER (WHERE t IS NULL) AS bad, min(t) AS lo, max(t) AS hi FROM (SELECT ${parseTwitterDateSql('d')} AS t FROM unnest([${dates}]) u(d))`,
    );
    expect(parsed).toEqual({
      bad: '0',
      lo: '2015-02-16 08:00:00+00',
      hi: expect.stringMatching(/^2015-02-19 0[0-7]:/),
    });
    const firstDates = r1.files.map((f) => (JSON.parse(lines(f)[0]!) as { date: string }).date);
    expect(firstDates).toEqual([
      'Mon Feb 16 00:00:00 PST 2015',
      'Tue Feb 17 00:00:00 PST 2015',
      'Wed Feb 18 00:00:00 PST 2015',
    ]);
    // Mentions were re-drawn from the pool of handles: more than one distinct first mention.
    const handles = new Set(records.map((r) => /@(\w+)/.exec(String(r.text))?.[1]).filter(Boolean));
    expect(handles.size).toBeGreaterThan(5);
  });

  it('uneven splits: the last file holds the remainder, and no empty files are written', async () => {
    const out = dirs.make('gen');
    const r = await generateSource(session, {
      sample: bundledSampleDir(),
      out,
      tweets: 10,
      files: 4,
      seed: 1,
    });
    expect(r.files.map((f) => lines(f).length)).toEqual([3, 3, 3, 1]);
    const r2 = await generateSource(session, {
      sample: bundledSampleDir(),
      out: dirs.make('gen'),
      tweets: 3,
      files: 5,
      seed: 1,
    });
    expect(r2.files.map((f) => lines(f).length)).toEqual([1, 1, 1]);
  });
});
