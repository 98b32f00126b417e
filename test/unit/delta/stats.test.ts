import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { literal, sharedSession } from '../../../src/duck/session.js';
import { DeltaTable, fileStats, type FileStats } from '../../../src/delta/index.js';
import { field, type StructType } from '../../../src/delta/schema.js';
import { STRING_STATS_PREFIX, collectFileStats } from '../../../src/delta/stats.js';
import { tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-stats-');
afterAll(() => dirs.cleanup());

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function statsOf(
  sql: string,
  schema: StructType,
  copyOptions = '',
): Promise<FileStats & { numRecords: number }> {
  const session = await sharedSession();
  const file = nodePath.join(dirs.make(), 'f.parquet');
  await session.run(`COPY (${sql}) TO ${literal(file)} (FORMAT parquet${copyOptions})`);
  const all = await collectFileStats(session, [file], schema);
  const entry = all.get(file);
  expect(entry).toBeDefined();
  const parsed = JSON.parse(entry!.stats) as FileStats & { numRecords: number };
  expect(parsed.numRecords).toBe(entry!.numRecords);
  return parsed;
}

describe('collectFileStats on real Parquet files', () => {
  const schema: StructType = {
    type: 'struct',
    fields: [
      field('id', 'long'),
      field('half', 'string'),
      field('nothing', 'string'),
      field('long_text', 'string'),
      field('ts', 'timestamp'),
      field('d', 'date'),
      field('x', 'double'),
      field('amount', 'decimal(10,2)'),
      field('flag', 'boolean'),
      field('user', { type: 'struct', fields: [field('n', 'long'), field('name', 'string')] }),
    ],
  };
  const sql = `
    SELECT (i - 3)::BIGINT AS id,
           CASE WHEN i % 2 = 0 THEN 'v' || i END AS half,
           NULL::VARCHAR AS nothing,
           repeat('x', 40) || i AS long_text,
           TIMESTAMPTZ '2021-03-04 05:06:07.123456+00' + to_seconds(i) AS ts,
           DATE '2020-02-28' + i::INT AS d,
           i * 0.5 AS x,
           (i * 1.25)::DECIMAL(10,2) AS amount,
           i % 3 = 0 AS flag,
           {'n': i * 10, 'name': 'u' || i} AS "user"
      FROM range(10) t(i)`;

  it('records numRecords, min, max and null counts per column', async () => {
    const s = await statsOf(sql, schema);
    expect(s.numRecords).toBe(10);
    expect(s.minValues).toMatchObject({
      id: -3,
      half: 'v0',
      d: '2020-02-28',
      x: 0,
      amount: 0,
      user: { n: 0, name: 'u0' },
    });
    expect(s.maxValues).toMatchObject({
      id: 6,
      half: 'v8',
      d: '2020-03-08',
      x: 4.5,
      amount: 11.25,
      user: { n: 90, name: 'u9' },
    });
    expect(s.nullCount).toEqual({
      id: 0,
      half: 5,
      nothing: 10,
      long_text: 0,
      ts: 0,
      d: 0,
      x: 0,
      amount: 0,
      flag: 0,
      user: { n: 0, name: 0 },
    });
    // booleans get a null count only
    expect(s.minValues).not.toHaveProperty('flag');
  });

  it('an all-null column has its null count and no min or max', async () => {
    const s = await statsOf(sql, schema);
    expect(s.nullCount!.nothing).toBe(10);
    expect(s.minValues).not.toHaveProperty('nothing');
    expect(s.maxValues).not.toHaveProperty('nothing');
  });

  it('truncates timestamps to milliseconds as ISO YYYY-MM-DDTHH:MM:SS.mmmZ', async () => {
    const s = await statsOf(sql, schema);
    expect(s.minValues!.ts).toBe('2021-03-04T05:06:07.123Z');
    expect(s.maxValues!.ts).toBe('2021-03-04T05:06:16.123Z');
    expect(s.minValues!.ts).toMatch(ISO_MS);
    const whole = await statsOf(
      `SELECT TIMESTAMPTZ '1999-12-31 23:59:59+00' AS ts UNION ALL SELECT TIMESTAMPTZ '2000-01-01 00:00:00.9999+00'`,
      { type: 'struct', fields: [field('ts', 'timestamp')] },
    );
    expect(whole.minValues!.ts).toBe('1999-12-31T23:59:59.000Z');
    expect(whole.maxValues!.ts).toBe('2000-01-01T00:00:00.999Z');
  });

  it(`keeps a ${STRING_STATS_PREFIX}-character prefix of long strings as the minimum and no maximum`, async () => {
    const s = await statsOf(sql, schema);
    expect(s.minValues!.long_text).toBe('x'.repeat(STRING_STATS_PREFIX));
    expect(s.maxValues).not.toHaveProperty('long_text');
    // a prefix of the true minimum is still a lower bound
    expect('x'.repeat(40) + '0' >= String(s.minValues!.long_text)).toBe(true);
  });

  it('adds null counts over all row groups and takes min/max over them', async () => {
    const rgSchema: StructType = {
      type: 'struct',
      fields: [field('id', 'long'), field('s', 'string'), field('big', 'string')],
    };
    const s = await statsOf(
      `SELECT i::BIGINT AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE 's' || lpad(i::VARCHAR, 5, '0') END AS s,
              CASE WHEN i % 5 = 0 THEN NULL ELSE repeat('y', 50) END AS big
         FROM range(10000) t(i)`,
      rgSchema,
      ', ROW_GROUP_SIZE 2048',
    );
    expect(s.numRecords).toBe(10000);
    expect(s.minValues).toMatchObject({ id: 0, s: 's00001' });
    expect(s.maxValues).toMatchObject({ id: 9999, s: 's09999' });
    expect(s.nullCount).toEqual({ id: 0, s: Math.ceil(10000 / 7), big: 10000 / 5 });
    expect(s.maxValues).not.toHaveProperty('big');
  });

  it('the stats of files tweetlake writes are what the snapshot reports', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write({
      sql: 'SELECT i::BIGINT AS id, CASE WHEN i < 3 THEN NULL ELSE i END AS v FROM range(25) t(i)',
    });
    const s = await t.snapshot();
    expect(s.numRecords).toBe(25);
    const stats = fileStats(s.files[0]!)!;
    expect(stats).toMatchObject({
      numRecords: 25,
      minValues: { id: 0, v: 3 },
      maxValues: { id: 24, v: 24 },
      nullCount: { id: 0, v: 3 },
    });
  });
});
