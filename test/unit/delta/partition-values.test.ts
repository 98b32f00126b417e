import { existsSync, readdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedSession } from '../../../src/duck/session.js';
import { DeltaTable, SchemaMismatch, decodeActionPath } from '../../../src/delta/index.js';
import {
  NULL_PARTITION_DIR,
  partitionDir,
  partitionValueSql,
  serializePartitionValue,
} from '../../../src/delta/partition-values.js';
import { toDuckType, type DataType } from '../../../src/delta/schema.js';
import { readRows, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-partition-');
afterAll(() => dirs.cleanup());

describe('partitionDir', () => {
  it('writes null as __HIVE_DEFAULT_PARTITION__', () => {
    expect(partitionDir('k', null)).toBe(`k=${NULL_PARTITION_DIR}`);
    expect(NULL_PARTITION_DIR).toBe('__HIVE_DEFAULT_PARTITION__');
  });

  it('escapes the characters Spark escapes, in the value and the column name', () => {
    expect(partitionDir('x', 'A/A')).toBe('x=A%2FA');
    expect(partitionDir('x', 'B B')).toBe('x=B%20B');
    expect(partitionDir('x', 'a=b:c%d#e?f\\g')).toBe('x=a%3Db%3Ac%25d%23e%3Ff%5Cg');
    expect(partitionDir('my col/x', '1')).toBe('my%20col%2Fx=1');
    expect(partitionDir('x', 'plain-value_1.5')).toBe('x=plain-value_1.5');
    expect(partitionDir('x', 'ü€')).toBe('x=ü€');
  });
});

describe('serializePartitionValue / partitionValueSql round trip', () => {
  const cases: { type: DataType; sql: string; text: string | null }[] = [
    { type: 'string', sql: `'a b/c=d'`, text: 'a b/c=d' },
    { type: 'string', sql: `'__HIVE_DEFAULT_PARTITION__x'`, text: '__HIVE_DEFAULT_PARTITION__x' },
    { type: 'long', sql: '-9007199254740993::BIGINT', text: '-9007199254740993' },
    { type: 'integer', sql: '42::INTEGER', text: '42' },
    { type: 'short', sql: '-7::SMALLINT', text: '-7' },
    { type: 'byte', sql: '5::TINYINT', text: '5' },
    { type: 'double', sql: '1.5::DOUBLE', text: '1.5' },
    { type: 'boolean', sql: 'true', text: 'true' },
    { type: 'boolean', sql: 'false', text: 'false' },
    { type: 'date', sql: `DATE '2021-12-31'`, text: '2021-12-31' },
    {
      type: 'timestamp',
      sql: `TIMESTAMPTZ '2020-01-02 03:04:05.123456+00'`,
      text: '2020-01-02 03:04:05.123456',
    },
    { type: 'timestamp', sql: `TIMESTAMPTZ '2020-01-02 03:04:05+00'`, text: '2020-01-02 03:04:05' },
    { type: 'timestamp_ntz', sql: `TIMESTAMP '2020-01-02 03:04:05.5'`, text: '2020-01-02 03:04:05.5' },
    { type: 'decimal(10,2)', sql: '12.30::DECIMAL(10,2)', text: '12.30' },
    { type: 'string', sql: 'NULL::VARCHAR', text: null },
    { type: 'long', sql: 'NULL::BIGINT', text: null },
  ];

  it('serialises each type as the protocol says and reads the text back to the same value', async () => {
    const session = await sharedSession();
    for (const c of cases) {
      const [row] = await session.all(`SELECT CAST(${c.sql} AS ${toDuckType(c.type)}) AS v`);
      const text = serializePartitionValue(row!.v, c.type, 'c');
      expect(text, `${c.sql} as ${JSON.stringify(c.type)}`).toBe(c.text);
      const [back] = await session.all(
        `SELECT ${partitionValueSql(text, c.type)} IS NOT DISTINCT FROM CAST(${c.sql} AS ${toDuckType(c.type)}) AS same`,
      );
      expect(back!.same, `${c.sql} read back from '${text}'`).toBe(true);
    }
  });

  it('reads the empty string as NULL (Spark writes empty partition strings as null)', async () => {
    const session = await sharedSession();
    const [row] = await session.all(
      `SELECT ${partitionValueSql('', 'string')} AS v, ${partitionValueSql(undefined, 'integer')} AS w`,
    );
    expect(row).toEqual({ v: null, w: null });
    expect(serializePartitionValue('', 'string', 'c')).toBeNull();
  });

  it('reads ISO-8601 timestamps with a zone, as other writers write them', async () => {
    const session = await sharedSession();
    const [row] = await session.all(
      `SELECT ${partitionValueSql('2020-01-02T03:04:05.000Z', 'timestamp')} = TIMESTAMPTZ '2020-01-02 03:04:05+00' AS same`,
    );
    expect(row!.same).toBe(true);
  });

  it('refuses a nested type as a partition column', () => {
    expect(() =>
      serializePartitionValue([1], { type: 'array', elementType: 'long', containsNull: true }, 'c'),
    ).toThrow(SchemaMismatch);
  });
});

describe('partitioned writes', () => {
  it('write partition directories (null -> __HIVE_DEFAULT_PARTITION__) and read back the same rows', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const source = `
      SELECT i::BIGINT AS id,
             CASE i % 4 WHEN 0 THEN 'a b/c' WHEN 1 THEN 'x=y%z' WHEN 2 THEN NULL ELSE 'plain' END AS s,
             (i % 2)::INTEGER AS n,
             CASE WHEN i % 3 = 0 THEN NULL ELSE DATE '2024-02-28' + (i % 3)::INTEGER END AS d,
             TIMESTAMPTZ '2023-05-06 07:08:09.25+00' AS ts
        FROM range(24) t(i)`;
    const result = await t.write({ sql: source }, { partitionBy: ['s', 'n', 'd', 'ts'] });
    expect(result.numRows).toBe(24);
    const s = await t.snapshot();
    expect(s.partitionColumns).toEqual(['s', 'n', 'd', 'ts']);
    for (const f of s.files) {
      const rel = decodeActionPath(f.path);
      const segments = rel.split('/').slice(0, -1);
      expect(segments).toEqual(
        ['s', 'n', 'd', 'ts'].map((c) => partitionDir(c, f.partitionValues[c] ?? null)),
      );
      expect(existsSync(nodePath.join(dir, rel))).toBe(true);
    }
    const values = new Set(s.files.map((f) => f.partitionValues.s));
    expect(values).toEqual(new Set(['a b/c', 'x=y%z', null, 'plain']));
    expect(s.files.every((f) => f.partitionValues.ts === '2023-05-06 07:08:09.25')).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(
      ['_delta_log', `s=${NULL_PARTITION_DIR}`, 's=a%20b%2Fc', 's=plain', 's=x%3Dy%25z'].sort(),
    );
    const expected = await t.session.all(`SELECT * FROM (${source}) ORDER BY id`);
    expect(await readRows(t, s, 'id')).toEqual(expected);
  });
});
