import { readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, literal, type JsonRow } from '../../../src/duck/session.js';
import { loadRawRecords } from '../../../src/engine/raw-records.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import {
  bronzeRowsSql,
  newKeysSql,
  quarantineRowsSql,
  rescuedDataSql,
} from '../../../src/pipeline/bronze.js';
import { SOURCE_FIELDS } from '../../../src/pipeline/schemas.js';
import { rowidParts } from '../../../src/pipeline/stages.js';
import { tempDirs } from '../../helpers/delta.js';

let session: DuckSession;
const dirs = tempDirs('tweetlake-bronze-');
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => {
  session.close();
  dirs.cleanup();
});

const COLUMNS: string[] = [...SOURCE_FIELDS];
const NOW = '2024-05-01T12:00:00Z';
let n = 0;

/** A raw-records relation (FileSource's columns) holding these JSON lines of one file, each at offset 100 × its number. */
async function raw(lines: string[], file = 'f.json'): Promise<string> {
  const name = `raw_${n++}`;
  const values = lines
    .map(
      (l, i) =>
        `(${literal(file)}, ${i + 1}::BIGINT, ${(i + 1) * 100}::BIGINT, NULL::BIGINT, ${literal(l)}, NULL::BIGINT, NULL::VARCHAR, NULL::VARCHAR)`,
    )
    .join(', ');
  await session.run(
    `CREATE TEMP TABLE ${name} AS SELECT * FROM (VALUES ${values}) t(source_file, line_number, byte_offset, segment_offset, line, line_bytes, file_error, raw_bytes)`,
  );
  return name;
}

const bronze = (rel: string, columns = COLUMNS): Promise<JsonRow[]> =>
  session.all(`SELECT * FROM (${bronzeRowsSql(rel, columns, NOW)}) ORDER BY ALL`);
const quarantine = (rel: string): Promise<JsonRow[]> =>
  session.all(`SELECT * FROM (${quarantineRowsSql(rel, 'bronze_stream', NOW)}) ORDER BY line_number`);

const tweet = { date: 'Mon Apr 06 22:19:45 PDT 2009', user: 'u', text: '@a hi', sentiment: 'positive' };

describe('bronzeRowsSql', () => {
  it('keeps the schema columns, provenance and processing time; nothing rescued when every field is known', async () => {
    const rel = await raw([JSON.stringify(tweet)]);
    expect(await bronze(rel)).toEqual([
      { ...tweet, _rescued_data: null, source_file: 'f.json', processing_time: '2024-05-01 12:00:00+00' },
    ]);
  });

  it('rescues unknown fields as JSON', async () => {
    const rel = await raw([
      JSON.stringify({ ...tweet, lang: 'en', geo: { lat: 1.5, lon: -2 }, tags: ['x'] }),
    ]);
    const [row] = await bronze(rel);
    expect(row!.text).toBe('@a hi');
    expect(JSON.parse(row!._rescued_data as string)).toEqual({
      lang: 'en',
      geo: { lat: 1.5, lon: -2 },
      tags: ['x'],
    });
  });

  it('a known field with a non-string value is rescued and NULL in its column', async () => {
    const rel = await raw([
      JSON.stringify({ ...tweet, user: 12345, sentiment: { label: 'pos' }, text: ['a'] }),
    ]);
    const [row] = await bronze(rel);
    expect(row).toMatchObject({ date: tweet.date, user: null, text: null, sentiment: null });
    expect(JSON.parse(row!._rescued_data as string)).toEqual({
      user: 12345,
      sentiment: { label: 'pos' },
      text: ['a'],
    });
  });

  it('an explicit null stays null and is not rescued; a missing field is null', async () => {
    const rel = await raw([JSON.stringify({ date: tweet.date, user: null, text: 'x' })]);
    const [row] = await bronze(rel);
    expect(row).toMatchObject({
      date: tweet.date,
      user: null,
      text: 'x',
      sentiment: null,
      _rescued_data: null,
    });
  });

  it('keeps unicode, escapes and empty strings as they are', async () => {
    const text = 'line\nbreak "quoted" 😀 \\ é';
    const rel = await raw([JSON.stringify({ ...tweet, text, user: '' })]);
    const [row] = await bronze(rel);
    expect(row).toMatchObject({ text, user: '', _rescued_data: null });
  });

  it('only JSON objects become bronze rows', async () => {
    const rel = await raw([
      JSON.stringify(tweet),
      '[1,2]',
      '42',
      '"str"',
      'not json',
      'null',
      '{"date":"x"}',
    ]);
    expect((await bronze(rel)).map((r) => r.date)).toEqual(['Mon Apr 06 22:19:45 PDT 2009', 'x']);
  });

  it('with an evolved column list a new field becomes a column instead of rescued data', async () => {
    const rel = await raw([JSON.stringify({ ...tweet, lang: 'en' })]);
    const [row] = await bronze(rel, [...COLUMNS, 'lang']);
    expect(row).toMatchObject({ lang: 'en', _rescued_data: null });
  });
});

describe('rescuedDataSql', () => {
  it('is NULL for an object of known string fields, and the JSON of the rest otherwise', async () => {
    const rel = await raw(['{"date":"d","user":"u"}', '{"date":"d","zz":true}', '{}']);
    const rows = await session.all(
      `SELECT line_number, ${rescuedDataSql(COLUMNS)} AS r FROM ${rel} ORDER BY line_number`,
    );
    expect(rows.map((r) => r.r)).toEqual([null, '{"zz":true}', null]);
  });
});

describe('quarantineRowsSql', () => {
  it('quarantines non-objects and invalid JSON with their line and an error saying what they are', async () => {
    const rel = await raw([
      JSON.stringify(tweet),
      '[1,2]',
      '42',
      '"str"',
      'not json',
      '{"unterminated": ',
      'true',
      'null',
      '-1.5e3',
    ]);
    const rows = await quarantine(rel);
    expect(rows.map((r) => [r.line_number, r.raw_text, r.error])).toEqual([
      ['2', '[1,2]', 'a JSON array, not an object'],
      ['3', '42', 'a JSON number, not an object'],
      ['4', '"str"', 'a JSON string, not an object'],
      ['5', 'not json', 'not valid JSON'],
      ['6', '{"unterminated": ', 'not valid JSON'],
      ['7', 'true', 'a JSON boolean, not an object'],
      ['8', 'null', 'a JSON null, not an object'],
      ['9', '-1.5e3', 'a JSON number, not an object'],
    ]);
    expect(rows[0]).toMatchObject({
      source_file: 'f.json',
      stream: 'bronze_stream',
      quarantined_at: '2024-05-01 12:00:00+00',
    });
  });

  it('bronze rows + quarantine rows = input records', async () => {
    const lines = [JSON.stringify(tweet), '[1]', 'x', '{}', '7', JSON.stringify({ ...tweet, extra: 1 })];
    const rel = await raw(lines);
    expect((await bronze(rel)).length + (await quarantine(rel)).length).toBe(lines.length);
  });
});

describe('newKeysSql', () => {
  it('lists the keys of object records that are not columns, sorted and distinct', async () => {
    const rel = await raw([
      JSON.stringify({ ...tweet, zeta: 1, alpha: 'a' }),
      JSON.stringify({ alpha: 2 }),
      '[{"not":"an object"}]',
      'bad',
    ]);
    const rows = await session.all(newKeysSql(rel, COLUMNS));
    expect(rows.map((r) => r.k)).toEqual(['alpha', 'zeta']);
  });
});

describe('raw records of files (loadRawRecords), through bronze and quarantine', () => {
  const file = (name: string, content: string | Buffer): { dir: string; name: string; path: string } => {
    const dir = dirs.make();
    writeFileSync(nodePath.join(dir, name), content);
    return { dir, name, path: nodePath.join(dir, name) };
  };
  /** The records of files that share a folder. */
  const recordsOf = async (dir: string, names: string[]) => {
    const table = await loadRawRecords(session, new LocalObjectStore(dir), names);
    const name = `loaded_${n++}`;
    await session.run(`CREATE TEMP TABLE ${name} AS ${table.sql}`);
    await table.dispose();
    return name;
  };
  const records = async (dir: string, names: string[]) =>
    session.all(
      `SELECT source_file, line_number, line, file_error FROM ${await recordsOf(dir, names)} ORDER BY source_file, line_number`,
    );

  it('JSON Lines: one record per non-blank line, numbered by line; CRLF and blank lines handled', async () => {
    const f = file('a.json', '{"a":1}\r\n\r\n   \n{"a":2}\r\n\n{"a":3}');
    expect((await records(f.dir, [f.name])).map((r) => [r.line_number, r.line, r.file_error])).toEqual([
      ['1', '{"a":1}', null],
      ['4', '{"a":2}', null],
      ['6', '{"a":3}', null],
    ]);
  });

  it('a JSON array file: one record per element, numbered from 1', async () => {
    const f = file('arr.json', '  \n[{"a":1},\n {"b":[1,2]}, 3, "s"]\n');
    const rows = await records(f.dir, [f.name]);
    expect(rows.map((r) => [r.line_number, JSON.parse(r.line as string)])).toEqual([
      ['1', { a: 1 }],
      ['2', { b: [1, 2] }],
      ['3', 3],
      ['4', 's'],
    ]);
    expect(rows.every((r) => r.source_file === f.path && r.file_error === null)).toBe(true);
  });

  it('an empty array and an empty file give no records', async () => {
    const dir = dirs.make();
    writeFileSync(nodePath.join(dir, 'e.json'), '[]');
    writeFileSync(nodePath.join(dir, 'z.json'), '');
    expect(await records(dir, ['e.json', 'z.json'])).toEqual([]);
  });

  it('a line that is not UTF-8 is one record with its bytes; the other lines of the file are read', async () => {
    const latin1 = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]); // {"a":"é"} in Latin-1
    const f = file(
      'latin1.json',
      Buffer.concat([Buffer.from('{"a":"x"}\n'), latin1, Buffer.from('\n{"a":"y"}\n')]),
    );
    const rel = await recordsOf(f.dir, [f.name]);
    const q = await session.all(quarantineRowsSql(rel, 's', NOW));
    expect(q.map((r) => [r.line_number, r.raw_text, r.error, r.byte_offset, r.raw_bytes])).toEqual([
      ['2', null, 'not UTF-8 text', '10', latin1.toString('base64')],
    ]);
    expect((await session.all(bronzeRowsSql(rel, COLUMNS, NOW))).length).toBe(2);
  });

  it('an array file that ends inside an element keeps the elements before it and quarantines the rest', async () => {
    const f = file('broken.json', '[{"a":1}, {"b":');
    const rel = await recordsOf(f.dir, [f.name]);
    expect((await session.all(bronzeRowsSql(rel, ['a'], NOW))).map((r) => r.a)).toEqual([null]);
    const q = await session.all(quarantineRowsSql(rel, 's', NOW));
    expect(q.map((r) => [r.line_number, r.raw_text, r.error, r.byte_offset])).toEqual([
      ['2', '{"b":', 'the file ends inside this element: the JSON array is not closed', '10'],
    ]);
  });

  it('skips a UTF-8 byte-order mark', async () => {
    const f = file(
      'bom.json',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n{"a":2}\n')]),
    );
    expect((await records(f.dir, [f.name])).map((r) => r.line)).toEqual(['{"a":1}', '{"a":2}']);
  });

  it('several files in one relation keep their own paths', async () => {
    const dir = dirs.make();
    writeFileSync(nodePath.join(dir, 'a.json'), '{"x":1}\n');
    writeFileSync(nodePath.join(dir, 'b.json'), '[{"x":2}]');
    const rows = await records(dir, ['a.json', 'b.json']);
    expect(rows.map((r) => [nodePath.basename(String(r.source_file)), r.line]).sort()).toEqual([
      ['a.json', '{"x":1}'],
      ['b.json', '{"x":2}'],
    ]);
  });

  it('quarantine rows carry the byte offset of their record, inside a block of lines too', async () => {
    const lines = ['{"a":1}', 'not json', '{"a":2}', '', '[1]', '{"a":3}\r', '42'];
    const f = file('offsets.json', lines.join('\n') + '\n');
    const rel = await recordsOf(f.dir, [f.name]);
    const q = await session.all(`SELECT * FROM (${quarantineRowsSql(rel, 's', NOW)}) ORDER BY line_number`);
    const text = readFileSync(f.path, 'utf8');
    expect(q.map((r) => [r.line_number, r.raw_text, r.byte_offset])).toEqual([
      ['2', 'not json', String(text.indexOf('not json'))],
      ['5', '[1]', String(text.indexOf('[1]'))],
      ['7', '42', String(text.indexOf('42'))],
    ]);
  });
});

describe('rowidParts', () => {
  it('splits a table into at most `threads` parts of 20,000 rows or more that hold every row once, gaps in rowid too', async () => {
    await session.run(`CREATE TABLE parts_t AS SELECT i FROM range(100000) t(i)`);
    await session.run(`DELETE FROM parts_t WHERE i % 3 = 0 OR i BETWEEN 40000 AND 60000`); // rowids keep their gaps
    const [{ n }] = (await session.all(`SELECT count(*) AS n FROM parts_t`)) as [{ n: string }];
    const rows = Number(n);
    expect(rowidParts('parts_t', rows, 1)).toEqual(['parts_t']);
    expect(rowidParts('parts_t', 39_999, 8)).toHaveLength(1);
    for (const threads of [2, 3]) {
      const parts = rowidParts('parts_t', rows, threads);
      expect(parts).toHaveLength(Math.min(threads, Math.floor(rows / 20_000))); // 53,333 rows: 2 parts at most
      const [all] = await session.all(
        `SELECT count(*) AS n, count(DISTINCT i) AS d FROM (${parts.map((p) => `SELECT i FROM ${p}`).join(' UNION ALL ')})`,
      );
      expect(all).toEqual({ n: String(rows), d: String(rows) });
    }
  });
});
