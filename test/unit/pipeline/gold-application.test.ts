import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, literal, type JsonRow } from '../../../src/duck/session.js';
import type { Classifier, Prediction } from '../../../src/model/classifier.js';
import { mentionAggregatesSql, mergeAggregatesSql } from '../../../src/pipeline/application.js';
import {
  predictedIdSql,
  predictedSentimentSql,
  scoreBatch,
  sentimentIdSql,
} from '../../../src/pipeline/gold.js';

let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => session.close());

describe('sentimentIdSql / predictedIdSql', () => {
  it('map negative/positive/neutral to 0/1/2 on one scale, anything else to NULL', async () => {
    const given = ['negative', 'positive', 'neutral', 'NEGATIVE', 'Positive', 'mixed', '', null];
    const rows = await session.all(
      `SELECT ${sentimentIdSql('s')} AS id FROM unnest([${given.map((g) => (g === null ? 'NULL' : literal(g))).join(', ')}]) WITH ORDINALITY t(s, i) ORDER BY i`,
    );
    expect(rows.map((r) => r.id)).toEqual([0, 1, 2, 0, 1, null, null, null]);
    const labels = ['NEG', 'POS', 'NEU', 'neg', 'OTHER', null];
    const predicted = await session.all(
      `SELECT ${predictedIdSql('l')} AS id FROM unnest([${labels.map((g) => (g === null ? 'NULL' : literal(g))).join(', ')}]) WITH ORDINALITY t(l, i) ORDER BY i`,
    );
    expect(predicted.map((r) => r.id)).toEqual([0, 1, 2, null, null, null]);
  });
});

/** A deterministic stand-in for the model: the label depends on the text's length. */
class LengthClassifier implements Classifier {
  readonly labels = ['NEG', 'NEU', 'POS'] as const;
  readonly info = { name: 'length-stand-in', uri: 'test:length' };
  readonly calls: string[][] = [];
  async classify(texts: string[]): Promise<Prediction[]> {
    this.calls.push(texts);
    return texts.map((t) => ({ label: this.labels[t.length % 3]!, score: 50 + (t.length % 50) }));
  }
  async close(): Promise<void> {}
}

describe('scoreBatch', () => {
  it('scores each distinct cleaned text once, in chunks, and joins the predictions back to every row', async () => {
    const silver = `SELECT * FROM (VALUES
        (TIMESTAMPTZ '2015-02-24 19:35:52+00', '@a', 'same text', 'positive'),
        (TIMESTAMPTZ '2015-02-24 19:35:52+00', '@b', 'same text', 'positive'),
        (TIMESTAMPTZ '2015-02-25 10:00:00+00', NULL, 'four', 'negative'),
        (TIMESTAMPTZ '2015-02-25 11:00:00+00', '@c', NULL, 'neutral'),
        (TIMESTAMPTZ '2015-02-25 12:00:00+00', '@d', 'xy', 'bogus')
      ) t("timestamp", mention, cleaned_text, sentiment)`;
    const classifier = new LengthClassifier();
    const chunks: number[] = [];
    const scored = await scoreBatch(
      { sql: silver, description: 'test', dispose: async () => {} },
      session,
      classifier,
      {
        chunkSize: 2,
        onChunk: (done) => chunks.push(done),
      },
    );
    try {
      expect(scored.metrics).toMatchObject({ texts: 5, distinctTexts: 4 });
      expect(classifier.calls.flat().sort()).toEqual(['', 'four', 'same text', 'xy']); // NULL text is scored as ''
      expect(Math.max(...classifier.calls.map((c) => c.length))).toBeLessThanOrEqual(2);
      expect(chunks.at(-1)).toBe(4);
      const rows = await session.all(`SELECT * FROM (${scored.batch.sql}) ORDER BY mention NULLS FIRST`);
      expect(rows).toEqual([
        {
          timestamp: '2015-02-25 10:00:00+00',
          mention: null,
          cleaned_text: 'four',
          sentiment: 'negative',
          predicted_score: 54,
          predicted_sentiment: 'NEU',
          sentiment_id: 0,
          predicted_sentiment_id: 2,
        },
        {
          timestamp: '2015-02-24 19:35:52+00',
          mention: '@a',
          cleaned_text: 'same text',
          sentiment: 'positive',
          predicted_score: 59,
          predicted_sentiment: 'NEG',
          sentiment_id: 1,
          predicted_sentiment_id: 0,
        },
        {
          timestamp: '2015-02-24 19:35:52+00',
          mention: '@b',
          cleaned_text: 'same text',
          sentiment: 'positive',
          predicted_score: 59,
          predicted_sentiment: 'NEG',
          sentiment_id: 1,
          predicted_sentiment_id: 0,
        },
        {
          timestamp: '2015-02-25 11:00:00+00',
          mention: '@c',
          cleaned_text: null,
          sentiment: 'neutral',
          predicted_score: 50,
          predicted_sentiment: 'NEG',
          sentiment_id: 2,
          predicted_sentiment_id: 0,
        },
        {
          timestamp: '2015-02-25 12:00:00+00',
          mention: '@d',
          cleaned_text: 'xy',
          sentiment: 'bogus',
          predicted_score: 52,
          predicted_sentiment: 'POS',
          sentiment_id: null,
          predicted_sentiment_id: 1,
        },
      ]);
    } finally {
      await scored.batch.dispose();
    }
    // dispose drops the work tables
    const left = await session.all(
      `SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'tweetlake_work'`,
    );
    expect(Number(left[0]!.n)).toBe(0);
  });
});

describe('predictedSentimentSql', () => {
  it('puts the labels of hub sentiment models on the NEG / NEU / POS scale and keeps any other label', async () => {
    const labels = [
      'NEG',
      'NEU',
      'POS',
      'negative',
      'Neutral',
      'POSITIVE',
      'neg',
      'pos',
      'LABEL_0',
      'joy',
      null,
    ];
    const rows = await session.all(
      `SELECT ${predictedSentimentSql('l')} AS s FROM unnest([${labels.map((g) => (g === null ? 'NULL' : literal(g))).join(', ')}]) WITH ORDINALITY t(l, i) ORDER BY i`,
    );
    expect(rows.map((r) => r.s)).toEqual([
      'NEG',
      'NEU',
      'POS',
      'NEG',
      'NEU',
      'POS',
      'NEG',
      'POS',
      'LABEL_0',
      'joy',
      null,
    ]);
  });

  it("scoreBatch writes an imported model's labels (negative/neutral/positive) on that scale, with their ids", async () => {
    const hubStyle: Classifier = {
      labels: ['negative', 'neutral', 'positive'],
      info: { name: 'cardiff-style', uri: 'test:cardiff' },
      classify: async (texts) =>
        texts.map((t) => ({ label: t.includes('bad') ? 'negative' : 'positive', score: 90 })),
      close: async () => {},
    };
    const silver = `SELECT * FROM (VALUES (TIMESTAMPTZ '2015-02-24 19:35:52+00', 'a', 'bad trip', 'negative'),
        (TIMESTAMPTZ '2015-02-24 19:35:52+00', 'b', 'nice trip', 'positive')) t("timestamp", mention, cleaned_text, sentiment)`;
    const scored = await scoreBatch(
      { sql: silver, description: 'test', dispose: async () => {} },
      session,
      hubStyle,
    );
    try {
      const rows = await session.all(
        `SELECT mention, predicted_sentiment, predicted_sentiment_id FROM (${scored.batch.sql}) ORDER BY mention`,
      );
      expect(rows).toEqual([
        { mention: 'a', predicted_sentiment: 'NEG', predicted_sentiment_id: 0 },
        { mention: 'b', predicted_sentiment: 'POS', predicted_sentiment_id: 1 },
      ]);
    } finally {
      await scored.batch.dispose();
    }
  });
});

interface GoldRow {
  ts: number; // minutes after 2015-02-16
  mention: string | null;
  label: 'NEG' | 'NEU' | 'POS';
}

function goldSql(rows: GoldRow[]): string {
  if (rows.length === 0) {
    return `SELECT CAST(NULL AS TIMESTAMPTZ) AS "timestamp", CAST(NULL AS VARCHAR) AS mention, CAST(NULL AS VARCHAR) AS predicted_sentiment WHERE false`;
  }
  const values = rows
    .map(
      (r) =>
        `(TIMESTAMPTZ '2015-02-16 00:00:00+00' + INTERVAL (${r.ts}) MINUTE, ${r.mention === null ? 'NULL' : literal(r.mention)}, '${r.label}')`,
    )
    .join(', ');
  return `SELECT * FROM (VALUES ${values}) t("timestamp", mention, predicted_sentiment)`;
}

/** The application rows computed in TypeScript. */
function expectedAggregates(rows: GoldRow[]): JsonRow[] {
  const by = new Map<string, { min: number; max: number; NEG: number; NEU: number; POS: number }>();
  for (const r of rows) {
    if (r.mention === null) continue;
    const a = by.get(r.mention) ?? { min: Infinity, max: -Infinity, NEG: 0, NEU: 0, POS: 0 };
    a.min = Math.min(a.min, r.ts);
    a.max = Math.max(a.max, r.ts);
    a[r.label]++;
    by.set(r.mention, a);
  }
  const ts = (m: number) =>
    new Date(Date.UTC(2015, 1, 16) + m * 60_000).toISOString().replace('T', ' ').replace('.000Z', '+00');
  return [...by.entries()]
    .map(([mention, a]) => ({
      mention,
      min_timestamp: ts(a.min),
      max_timestamp: ts(a.max),
      negative: String(a.NEG),
      neutral: String(a.NEU),
      positive: String(a.POS),
      total: String(a.NEG + a.NEU + a.POS),
    }))
    .sort((x, y) => (x.mention < y.mention ? -1 : 1));
}

const sortRows = (rows: JsonRow[]) =>
  [...rows].sort((x, y) => (String(x.mention) < String(y.mention) ? -1 : 1));

describe('mentionAggregatesSql / mergeAggregatesSql', () => {
  it('counts predicted sentiment per mention with its oldest and newest tweet; rows without a mention do not count', async () => {
    const rows: GoldRow[] = [
      { ts: 10, mention: '@united', label: 'NEG' },
      { ts: 5, mention: '@united', label: 'NEG' },
      { ts: 20, mention: '@united', label: 'POS' },
      { ts: 1, mention: '@jetblue', label: 'NEU' },
      { ts: 2, mention: null, label: 'POS' },
    ];
    const merged = await session.all(
      mergeAggregatesSql(mentionAggregatesSql(goldSql([])), mentionAggregatesSql(goldSql(rows))),
    );
    expect(merged).toEqual([
      {
        mention: '@united',
        min_timestamp: '2015-02-16 00:05:00+00',
        max_timestamp: '2015-02-16 00:20:00+00',
        negative: '2',
        neutral: '0',
        positive: '1',
        total: '3',
      },
      {
        mention: '@jetblue',
        min_timestamp: '2015-02-16 00:01:00+00',
        max_timestamp: '2015-02-16 00:01:00+00',
        negative: '0',
        neutral: '1',
        positive: '0',
        total: '1',
      },
    ]); // sorted by total, descending
  });

  it('property: merging the aggregates of batches equals aggregating their union', async () => {
    const row = fc.record({
      ts: fc.integer({ min: 0, max: 100_000 }),
      mention: fc.option(fc.constantFrom('@united', '@jetblue', '@delta', '@aa', "@o'hare"), { nil: null }),
      label: fc.constantFrom('NEG' as const, 'NEU' as const, 'POS' as const),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { maxLength: 30 }),
        fc.array(row, { maxLength: 30 }),
        fc.array(row, { maxLength: 10 }),
        async (a, b, c) => {
          const ab = mergeAggregatesSql(mentionAggregatesSql(goldSql(a)), mentionAggregatesSql(goldSql(b)));
          const abc = mergeAggregatesSql(ab, mentionAggregatesSql(goldSql(c)));
          const union = await session.all(mentionAggregatesSql(goldSql([...a, ...b, ...c])));
          const merged = await session.all(abc);
          const expected = expectedAggregates([...a, ...b, ...c]);
          expect(sortRows(merged)).toEqual(expected);
          expect(
            sortRows(union).map((r) => ({
              ...r,
              negative: String(r.negative),
              neutral: String(r.neutral),
              positive: String(r.positive),
              total: String(r.total),
            })),
          ).toEqual(expected);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });
});
