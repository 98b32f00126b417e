import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, literal, type JsonRow } from '../../../src/duck/session.js';
import {
  cleanedTextSql,
  mentionsSql,
  parseTwitterDateSql,
  silverRowsSql,
  ZONE_OFFSETS,
} from '../../../src/pipeline/silver.js';

let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => session.close());

async function parse(date: string | null): Promise<string | null> {
  const [row] = await session.all(
    `SELECT ${parseTwitterDateSql(date === null ? 'CAST(NULL AS VARCHAR)' : literal(date))} AS t`,
  );
  return row!.t as string | null;
}

async function mentions(text: string): Promise<string[]> {
  const [row] = await session.all(`SELECT ${mentionsSql(literal(text))} AS m`);
  return [...(row!.m as string[])].sort();
}

async function cleaned(text: string): Promise<string> {
  const [row] = await session.all(`SELECT ${cleanedTextSql(literal(text))} AS c`);
  return row!.c as string;
}

describe('parseTwitterDateSql', () => {
  it.each([
    ['Mon Apr 06 22:19:45 PDT 2009', '2009-04-07 05:19:45+00'], // PDT = UTC-7 (daylight time)
    ['Tue Feb 24 11:35:52 PST 2015', '2015-02-24 19:35:52+00'], // PST = UTC-8
    ['Wed Jul 01 08:00:00 EDT 2015', '2015-07-01 12:00:00+00'], // EDT = UTC-4
    ['Tue Jan 06 20:00:00 EST 2015', '2015-01-07 01:00:00+00'], // EST = UTC-5, across midnight
    ['Sat Dec 31 23:59:59 UTC 2016', '2016-12-31 23:59:59+00'],
    ['Sat Dec 31 23:59:59 GMT 2016', '2016-12-31 23:59:59+00'],
    ['Mon Apr 06 22:19:45 +0000 2009', '2009-04-06 22:19:45+00'], // Twitter API format
    ['Mon Apr 06 22:19:45 +0530 2009', '2009-04-06 16:49:45+00'],
    ['Mon Apr 06 22:19:45 -0700 2009', '2009-04-07 05:19:45+00'],
    ['Mon Apr 06 01:19:45 +0200 2009', '2009-04-05 23:19:45+00'], // across midnight backwards
    ['Mon Apr 06 22:19:45 NST 2009', '2009-04-07 01:49:45+00'], // half-hour zone, UTC-3:30
    ['Mon Apr 06 22:19:45 pdt 2009', '2009-04-07 05:19:45+00'], // abbreviations are case-insensitive
    ['Sun Mar 8 1:05:00 EST 2015', '2015-03-08 06:05:00+00'], // single-digit day and hour
    ['Mon Apr 6 22:19:45 PDT 2009', '2009-04-07 05:19:45+00'],
    ['Sat Feb 28 23:00:00 PST 2015', '2015-03-01 07:00:00+00'], // across a month end
    ['Wed Dec 31 20:00:00 EST 2014', '2015-01-01 01:00:00+00'], // across a year end
  ])('%s -> %s (UTC)', async (date, utc) => {
    expect(await parse(date)).toBe(utc);
  });

  it('gives the same instant whichever zone writes it', async () => {
    const same = [
      'Mon Apr 06 22:19:45 PDT 2009',
      'Mon Apr 06 21:19:45 PST 2009',
      'Tue Apr 07 01:19:45 EDT 2009',
      'Tue Apr 07 05:19:45 UTC 2009',
    ];
    const parsed = await Promise.all(same.map(parse));
    expect(new Set(parsed).size).toBe(1);
  });

  it('applies every zone of ZONE_OFFSETS with its offset', async () => {
    for (const [zone, hours] of Object.entries(ZONE_OFFSETS)) {
      const t = await parse(`Thu Jan 01 12:00:00 ${zone} 2015`);
      const expected = new Date(Date.UTC(2015, 0, 1, 12, 0, 0) - hours * 3_600_000);
      expect(t, zone).toBe(expected.toISOString().replace('T', ' ').replace('.000Z', '+00'));
    }
  });

  it.each([
    ['Mon Apr 06 22:19:45 XYZ 2009', 'unknown zone'],
    ['Mon Apr 06 22:19:45 2009', 'no zone'],
    ['Mon Apr 06 22:19:45 +05 2009', 'short numeric offset'],
    ['garbage', 'not a date'],
    ['', 'empty'],
    ['Mon Foo 06 22:19:45 PDT 2009', 'bad month'],
    ['Mon Apr 06 25:19:45 PDT 2009', 'bad hour'],
    ['2015-02-24T11:35:52Z', 'ISO-8601 (not the Twitter format)'],
  ])('%s (%s) -> NULL', async (date) => {
    expect(await parse(date)).toBeNull();
  });

  it('NULL -> NULL, and the type is TIMESTAMPTZ', async () => {
    expect(await parse(null)).toBeNull();
    const [row] = await session.all(
      `SELECT typeof(${parseTwitterDateSql(literal('Mon Apr 06 22:19:45 PDT 2009'))}) AS t`,
    );
    expect(row!.t).toBe('TIMESTAMP WITH TIME ZONE');
  });
});

describe('mentionsSql and cleanedTextSql', () => {
  it.each([
    ['@united: thanks', ['@united'], ': thanks'],
    ["@JetBlue's new CEO", ['@jetblue'], "'s new CEO"],
    ['hello @VirginAmerica', ['@virginamerica'], 'hello'],
    ['@a @b @c', ['@a', '@b', '@c'], ''],
    ['@United and @UNITED and @united', ['@united'], 'and and'],
    ['mail me at me@example.com', [], 'mail me at me@example.com'],
    ['x.@handle', [], 'x.@handle'],
    ['@abcdefghijklmno fifteen', ['@abcdefghijklmno'], 'fifteen'],
    ['@abcdefghijklmnop sixteen', [], '@abcdefghijklmnop sixteen'],
    ['@a@b', [], '@a@b'], // a handle followed by '@' is not a mention (as on Twitter), and then neither is @b
    ['@under_score9!', ['@under_score9'], '!'],
    ['😡@emoji😡 done', ['@emoji'], '😡😡 done'],
    ['héllo @wörld', [], 'héllo @wörld'], // a word with a non-ASCII letter is not a handle (docs/pipeline.md)
    ['déjà vu @Zoë @ok', ['@ok'], 'déjà vu @Zoë'],
    ['é@user', ['@user'], 'é'], // only ASCII letters before '@' make an e-mail address
    ['#@tag (@paren) -@dash', ['@dash', '@paren', '@tag'], '# () -'],
    ['_@nope', [], '_@nope'],
    ['@ alone', [], '@ alone'],
    ['no mention here', [], 'no mention here'],
    ['  @x \t spaced\n\nout  ', ['@x'], 'spaced out'],
    ['RT @a: @b', ['@a', '@b'], 'RT :'],
  ])('%j -> mentions %j, cleaned %j', async (text, expectedMentions, expectedClean) => {
    expect(await mentions(text)).toEqual(expectedMentions);
    expect(await cleaned(text)).toBe(expectedClean);
  });

  it('NULL text gives NULL mentions and NULL cleaned text', async () => {
    const [row] = await session.all(
      `SELECT ${mentionsSql('CAST(NULL AS VARCHAR)')} AS m, ${cleanedTextSql('CAST(NULL AS VARCHAR)')} AS c`,
    );
    expect(row).toEqual({ m: null, c: null });
  });
});

describe('silverRowsSql', () => {
  const bronze = `SELECT * FROM (VALUES
      ('Mon Apr 06 22:19:45 PDT 2009', 'u1', '@Alice and @bob say hi @ALICE', 'positive'),
      ('Tue Feb 24 11:35:52 PST 2015', 'u2', 'nobody mentioned', 'neutral'),
      ('bad date', 'u3', '@carol', 'negative'),
      ('Tue Feb 24 11:35:52 PST 2015', 'u4', NULL, 'negative')
    ) t(date, "user", text, sentiment)`;

  async function rows(dropWithoutMentions?: boolean): Promise<JsonRow[]> {
    return session.all(`SELECT * FROM (${silverRowsSql(bronze, { dropWithoutMentions })}) ORDER BY ALL`);
  }

  it('one row per distinct mention; tweets without one keep a NULL mention (explode_outer)', async () => {
    const out = await rows();
    expect(out).toEqual([
      {
        timestamp: '2009-04-07 05:19:45+00',
        mention: '@alice',
        cleaned_text: 'and say hi',
        sentiment: 'positive',
      },
      {
        timestamp: '2009-04-07 05:19:45+00',
        mention: '@bob',
        cleaned_text: 'and say hi',
        sentiment: 'positive',
      },
      {
        timestamp: '2015-02-24 19:35:52+00',
        mention: null,
        cleaned_text: 'nobody mentioned',
        sentiment: 'neutral',
      },
      { timestamp: '2015-02-24 19:35:52+00', mention: null, cleaned_text: null, sentiment: 'negative' },
      { timestamp: null, mention: '@carol', cleaned_text: '', sentiment: 'negative' },
    ]);
    const [described] = [await session.describe(silverRowsSql(bronze))];
    expect(described.map((c) => c.name)).toEqual(['timestamp', 'mention', 'cleaned_text', 'sentiment']);
  });

  it('dropWithoutMentions drops the tweets without a mention', async () => {
    const out = await rows(true);
    expect(out.map((r) => r.mention)).toEqual(['@alice', '@bob', '@carol']);
  });
});
