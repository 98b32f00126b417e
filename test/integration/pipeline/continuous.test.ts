import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../../src/duck/session.js';
import { DeltaTable } from '../../../src/delta/table.js';
import type { Classifier } from '../../../src/model/classifier.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';

const SAMPLE = nodePath.resolve('data/sample');

/** A deterministic stand-in labeller (the model is not under test here). */
const labeller: Classifier = {
  labels: ['NEG', 'NEU', 'POS'],
  info: { name: 'stand-in', uri: 'test' },
  classify: async (texts) => texts.map((t) => ({ label: ['NEG', 'NEU', 'POS'][t.length % 3]!, score: 50 })),
  close: async () => {},
};

describe('a continuous run follows files as they arrive', () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-continuous-'));
  const source = nodePath.join(dir, 'source');
  const root = nodePath.join(dir, 'lakehouse');
  let session: DuckSession;
  let pipeline: Pipeline;
  let running: Promise<unknown>;

  const count = async (table: string, where = 'true') => {
    const t = await DeltaTable.forPath(nodePath.join(root, table), session);
    if (!(await t.exists())) return 0;
    const plan = await t.scan();
    const [r] = await session.all(`SELECT count(*) AS n FROM (${plan.sql}) WHERE ${where}`);
    await plan.dispose();
    return Number(r!.n);
  };
  const waitFor = async (what: () => Promise<boolean>, label: string) => {
    const deadline = Date.now() + 60_000;
    while (!(await what())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    mkdirSync(source);
    cpSync(nodePath.join(SAMPLE, readdirSync(SAMPLE).sort()[0]!), nodePath.join(source, 'a.json'));
    session = await DuckSession.create();
    pipeline = new Pipeline({
      root,
      source,
      session,
      trigger: 'continuous',
      pollIntervalMs: 100,
      classifier: async () => labeller,
    });
    running = pipeline.run();
  });

  afterAll(async () => {
    await pipeline.state.requestStop();
    await running.catch(() => undefined);
    session.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('new files reach the application table; a malformed file is quarantined and the stream goes on', async () => {
    await waitFor(async () => (await count('gold')) > 0 && (await count('bronze')) === 488, 'the first file');
    const app = async (mention: string) => count('application', `mention = '${mention}'`);
    expect(await app('fresh_handle')).toBe(0);

    // A good file mentioning a new handle.
    writeFileSync(
      nodePath.join(source, 'b.json'),
      [1, 2, 3]
        .map((i) =>
          JSON.stringify({
            date: 'Tue Feb 24 11:35:00 PST 2015',
            user: `u${i}`,
            text: `@fresh_handle flight ${i}`,
            sentiment: 'neutral',
          }),
        )
        .join('\n') + '\n',
    );
    await waitFor(async () => (await app('@fresh_handle')) === 1, 'the new mention in application');

    // A malformed file (bad lines among good ones) and an unreadable one, then another good file.
    writeFileSync(
      nodePath.join(source, 'c.json'),
      [
        '{"date":"Tue Feb 24 11:36:00 PST 2015","user":"x","text":"@after_bad ok","sentiment":"positive"}',
        'this is not json',
        '[1,2,3]',
        '{"broken": ',
      ].join('\n') + '\n',
    );
    writeFileSync(nodePath.join(source, 'd.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]));
    await waitFor(async () => (await count('quarantine')) === 4, 'four quarantined records');
    writeFileSync(
      nodePath.join(source, 'e.json'),
      JSON.stringify({
        date: 'Tue Feb 24 11:37:00 PST 2015',
        user: 'y',
        text: '@after_bad still flowing',
        sentiment: 'positive',
      }) + '\n',
    );
    await waitFor(
      async () => (await app('@after_bad')) === 1 && (await count('gold', `mention = '@after_bad'`)) === 2,
      'the stream after the bad files',
    );

    const bronze = await count('bronze');
    const quarantine = await count('quarantine');
    expect(bronze + quarantine).toBe(488 + 3 + 4 + 1 + 1); // a, b, c (4 records), d (a whole file), e: each in one table
    // d.json's one line is not UTF-8: quarantined alone, its bytes kept in base64.
    const dBytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64');
    expect(
      await count('quarantine', `error = 'not UTF-8 text' AND raw_bytes = '${dBytes}' AND byte_offset = 0`),
    ).toBe(1);
    expect(await count('quarantine', `error = 'not valid JSON'`)).toBe(2);
    expect(await count('quarantine', `error LIKE '%array%'`)).toBe(1);
    const states = await pipeline.state.streams();
    expect(
      states
        .filter((s) => s.active)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['application_stream', 'bronze_stream', 'gold_stream', 'silver_stream']);
  }, 120_000);
});

describe('schema evolution on request', () => {
  it('adds a new source field to bronze as a column instead of rescuing it', async () => {
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-evolve-'));
    const source = nodePath.join(dir, 'source');
    mkdirSync(source);
    const tweet = (i: number, extra: object = {}) =>
      JSON.stringify({
        date: 'Tue Feb 24 11:35:00 PST 2015',
        user: `u${i}`,
        text: `@jetblue flight ${i}`,
        sentiment: 'neutral',
        ...extra,
      });
    writeFileSync(nodePath.join(source, 'a.json'), `${tweet(1)}\n${tweet(2)}\n`);
    const session = await DuckSession.create();
    try {
      const run = (schemaEvolution: boolean) =>
        new Pipeline({
          root: nodePath.join(dir, 'lakehouse'),
          source,
          session,
          schemaEvolution,
          classifier: async () => labeller,
        }).run();
      await run(true);
      writeFileSync(nodePath.join(source, 'b.json'), `${tweet(3, { lang: 'en', retweets: 4 })}\n`);
      await run(true);
      const bronze = await DeltaTable.forPath(nodePath.join(dir, 'lakehouse', 'bronze'), session);
      const snap = await bronze.snapshot();
      expect(snap.schema.fields.map((f) => f.name)).toEqual(
        expect.arrayContaining(['date', 'user', 'text', 'sentiment', 'lang', 'retweets', '_rescued_data']),
      );
      const plan = await bronze.scan(snap);
      const rows = await session.all(
        `SELECT "user", lang, retweets, _rescued_data FROM (${plan.sql}) ORDER BY "user"`,
      );
      await plan.dispose();
      expect(rows).toEqual([
        { user: 'u1', lang: null, retweets: null, _rescued_data: null },
        { user: 'u2', lang: null, retweets: null, _rescued_data: null },
        { user: 'u3', lang: 'en', retweets: null, _rescued_data: '{"retweets":4}' }, // a number in a string column is rescued
      ]);
      expect((await bronze.history(1))[0]!.operation).toBe('STREAMING UPDATE');
    } finally {
      session.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
