import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyTarget } from '../../../src/duck/files.js';
import { sharedSession } from '../../../src/duck/session.js';
import {
  DeltaTable,
  SchemaMismatch,
  Transaction,
  decodeActionPath,
  field,
  type StructType,
} from '../../../src/delta/index.js';
import {
  NULL_PARTITION_DIR,
  partitionDir,
  partitionTextSql,
  partitionValueSql,
  serializePartitionValue,
} from '../../../src/delta/partition-values.js';
import { toDuckType, type DataType } from '../../../src/delta/schema.js';
import { readRows, rejection, tempDirs } from '../../helpers/delta.js';
import { EVERY_TYPE, EVERY_TYPE_ROWS, PARTITIONS } from '../../helpers/partition-types.js';

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
    { type: 'float', sql: '1.1::FLOAT', text: '1.1' },
    { type: 'double', sql: `'NaN'::DOUBLE`, text: 'NaN' },
    { type: 'double', sql: `'-Infinity'::DOUBLE`, text: '-Infinity' },
    { type: 'double', sql: '-0.0::DOUBLE', text: '-0.0' },
    { type: 'binary', sql: `encode('😈')`, text: '😈' },
    { type: 'binary', sql: `'\\x01\\x02'::BLOB`, text: '\u0001\u0002' },
    { type: 'string', sql: 'NULL::VARCHAR', text: null },
    { type: 'long', sql: 'NULL::BIGINT', text: null },
  ];

  it('serialises each type as the protocol says and reads the text back to the same value', async () => {
    const session = await sharedSession();
    for (const c of cases) {
      const value = `CAST(${c.sql} AS ${toDuckType(c.type)})`;
      const [row] = await session.all(`SELECT ${partitionTextSql(value, c.type, 'c')} AS v`);
      const text = serializePartitionValue(row!.v === null ? null : String(row!.v), c.type, 'c');
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
    expect(serializePartitionValue('', 'binary', 'c')).toBeNull(); // an empty binary, as Spark writes it
  });

  it('reads ISO-8601 timestamps with a zone, as other writers write them', async () => {
    const session = await sharedSession();
    const [row] = await session.all(
      `SELECT ${partitionValueSql('2020-01-02T03:04:05.000Z', 'timestamp')} = TIMESTAMPTZ '2020-01-02 03:04:05+00' AS same`,
    );
    expect(row!.same).toBe(true);
  });

  it('refuses a nested type as a partition column', () => {
    const array: DataType = { type: 'array', elementType: 'long', containsNull: true };
    expect(() => partitionTextSql('x', array, 'c')).toThrow(SchemaMismatch);
    expect(() => serializePartitionValue('1', array, 'c')).toThrow(SchemaMismatch);
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

describe('partition values of every type', () => {
  it('are written as the protocol serialises them and read back as written', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.create(EVERY_TYPE, { partitionBy: PARTITIONS });
    await t.write({ sql: EVERY_TYPE_ROWS });
    const s = await t.snapshot();
    expect(s.numFiles).toBe(5);
    // a timestamp_ntz column needs the timestampNtz table feature
    expect(s.protocol).toEqual({
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz'],
      writerFeatures: ['timestampNtz'],
    });
    const byId = new Map(
      (await t.session.all(`SELECT id, hex(b) AS b FROM (${EVERY_TYPE_ROWS})`)).map((r) => [Number(r.id), r]),
    );
    expect(byId.size).toBe(5);
    const values = s.files
      .map((f) => f.partitionValues)
      .sort((a, b) => (String(a.i64) < String(b.i64) ? -1 : 1));
    const first = s.files.find((f) => f.partitionValues.i8 === '-128')!.partitionValues;
    expect(first).toEqual({
      s: 'a',
      b: '😈',
      i8: '-128',
      i16: '-32768',
      i32: '-2147483648',
      i64: '-9223372036854775808',
      f: '1.1',
      d: '1e+20',
      dec: '12.30',
      bool: 'true',
      day: '2024-02-29',
      ts: '2024-01-01 10:00:00.123456',
      ntz: '2024-01-01 10:00:00.5',
    });
    const second = s.files.find((f) => f.partitionValues.i8 === '127')!.partitionValues;
    expect(second).toMatchObject({
      b: '\u0001\u0002',
      f: 'NaN',
      d: 'Infinity',
      bool: 'false',
      ts: '1970-01-01 00:00:00',
    });
    const third = s.files.find((f) => f.partitionValues.i8 === '0')!.partitionValues;
    // the empty string and the empty binary are null, as Spark writes them
    expect(third).toMatchObject({ s: null, b: null, f: '-Infinity', d: '0.0', dec: '0.00', bool: null });
    const fifth = s.files.find((f) => f.partitionValues.i8 === '1')!.partitionValues;
    expect(fifth).toMatchObject({
      s: '%',
      f: '0.5',
      d: '1.5e-07',
      dec: '99999999.99',
      ntz: '1900-01-01 00:00:00.000001',
    });
    expect(values.filter((v) => Object.values(v).every((x) => x === null))).toHaveLength(1);
    // every value reads back (empty string / binary as NULL), compared by DuckDB itself
    const plan = await t.scan(s);
    try {
      const cols = EVERY_TYPE.fields.map((f) => f.name);
      const diff = await t.session.all(
        `SELECT count(*) AS n FROM ((SELECT ${cols.join(', ')} FROM (${plan.sql})) EXCEPT ALL
           (SELECT id::BIGINT, nullif(s, ''), CASE WHEN octet_length(b) = 0 THEN NULL ELSE b END, i8::TINYINT, i16::SMALLINT,
                   i32::INTEGER, i64::BIGINT, f::FLOAT, d::DOUBLE, dec::DECIMAL(10,2), bool, day, ts, ntz FROM (${EVERY_TYPE_ROWS})))`,
      );
      expect(diff[0]!.n).toBe('0');
      const [row] = await t.session.all(
        `SELECT hex(b) AS b, CAST(d AS VARCHAR) AS d, CAST(ts AS VARCHAR) AS ts FROM (${plan.sql}) WHERE id = 0`,
      );
      expect(row).toEqual({ b: byId.get(0)!.b, d: '1e+20', ts: '2024-01-01 10:00:00.123456+00' });
    } finally {
      await plan.dispose();
    }
  });

  it('refuses a binary partition value that is not UTF-8 (it has no faithful text), committing nothing', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.create(
      { type: 'struct', fields: [field('id', 'long'), field('b', 'binary')] },
      { partitionBy: ['b'] },
    );
    const err = await rejection(t.write({ sql: `SELECT 1::BIGINT AS id, '\\xFF\\xFE'::BLOB AS b` }));
    expect(err).toBeInstanceOf(SchemaMismatch);
    expect(err.message).toContain(
      `binary partition column 'b' has a value that is not valid UTF-8 (hex FFFE)`,
    );
    expect((await t.snapshot()).version).toBe(0);
  });

  it('reads the values other writers write: Spark binary text, ISO timestamps, Infinity, empty and null', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const schema: StructType = {
      type: 'struct',
      fields: [
        field('id', 'long'),
        field('b', 'binary'),
        field('ts', 'timestamp'),
        field('ntz', 'timestamp_ntz'),
        field('d', 'double'),
      ],
    };
    await t.create(schema, { partitionBy: ['b', 'ts', 'ntz', 'd'] });
    const written: { partitionValues: Record<string, string | null>; path: string }[] = [
      {
        path: 'b=😈/part-0.parquet',
        partitionValues: {
          b: '😈',
          ts: '2024-01-01T10:00:00.123456Z',
          ntz: '2024-01-01T10:00:00',
          d: 'Infinity',
        },
      },
      {
        path: 'b=%2501%2502/part-1.parquet',
        partitionValues: {
          b: '\u0001\u0002',
          ts: '2024-01-01 10:00:00',
          ntz: '2024-01-01 10:00:00.5',
          d: '-0.0',
        },
      },
      {
        path: 'b=__HIVE_DEFAULT_PARTITION__/part-2.parquet',
        partitionValues: { b: null, ts: null, ntz: null, d: 'NaN' },
      },
      { path: 'b=x/part-3.parquet', partitionValues: { b: '', ts: '', ntz: '', d: '1.0E20' } },
    ];
    const adds = [];
    for (const [i, w] of written.entries()) {
      const file = nodePath.join(dir, decodeActionPath(w.path));
      await fs.mkdir(nodePath.dirname(file), { recursive: true });
      await t.session.run(`COPY (SELECT ${i}::BIGINT AS id) TO ${copyTarget(file)} (FORMAT parquet)`);
      adds.push({
        path: w.path,
        partitionValues: w.partitionValues,
        size: (await fs.stat(file)).size,
        modificationTime: 0,
        dataChange: true,
      });
    }
    await new Transaction(t, await t.snapshot(), { operation: 'WRITE' }).addFiles(adds).commit();
    const plan = await t.scan();
    const rows = await t.session.all(
      `SELECT id, hex(b) AS b, CAST(ts AS VARCHAR) AS ts, CAST(ntz AS VARCHAR) AS ntz, CAST(d AS VARCHAR) AS d
         FROM (${plan.sql}) ORDER BY id`,
    );
    await plan.dispose();
    expect(rows).toEqual([
      { id: '0', b: 'F09F9888', ts: '2024-01-01 10:00:00.123456+00', ntz: '2024-01-01 10:00:00', d: 'inf' },
      { id: '1', b: '0102', ts: '2024-01-01 10:00:00+00', ntz: '2024-01-01 10:00:00.5', d: '-0.0' },
      { id: '2', b: null, ts: null, ntz: null, d: 'nan' },
      { id: '3', b: null, ts: null, ntz: null, d: '1e+20' },
    ]);
  });
});
