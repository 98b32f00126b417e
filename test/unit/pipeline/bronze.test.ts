import { writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, literal, type JsonRow } from '../../../src/duck/session.js';
import { rawRecordsSql } from '../../../src/engine/file-source.js';
import {
  bronzeRowsSql,
  newKeysSql,
  quarantineRowsSql,
  rescuedDataSql,
} from '../../../src/pipeline/bronze.js';
import { SOURCE_FIELDS } from '../../../src/pipeline/schemas.js';
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

/** A raw-records relation (FileSource's columns) holding these JSON lines of one file. */
async function raw(lines: string[], file = 'f.json'): Promise<string> {
  const name = `raw_${n++}`;
  const values = lines
    .map((l, i) => `(${literal(file)}, ${i + 1}::BIGINT, ${literal(l)}, NULL::VARCHAR)`)
    .join(', ');
  await session.run(
    `CREATE TEMP TABLE ${name} AS SELECT * FROM (VALUES ${values}) t(source_file, line_number, line, file_error)`,
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

describe('rawRecordsSql', () => {
  const file = (name: string, content: string | Buffer): string => {
    const path = nodePath.join(dirs.make(), name);
    writeFileSync(path, content);
    return path;
  };
  const records = (files: string[]) =>
    session.all(
      `SELECT source_file, line_number, line, file_error FROM (${rawRecordsSql(files)}) ORDER BY source_file, line_number`,
    );

  it('JSON Lines: one record per non-blank line, numbered by line; CRLF and blank lines handled', async () => {
    const f = file('a.json', '{"a":1}\r\n\r\n   \n{"a":2}\r\n\n{"a":3}');
    expect((await records([f])).map((r) => [r.line_number, r.line, r.file_error])).toEqual([
      ['1', '{"a":1}', null],
      ['4', '{"a":2}', null],
      ['6', '{"a":3}', null],
    ]);
  });

  it('a JSON array file: one record per element, numbered from 1', async () => {
    const f = file('arr.json', '  \n[{"a":1},\n {"b":[1,2]}, 3, "s"]\n');
    const rows = await records([f]);
    expect(rows.map((r) => [r.line_number, JSON.parse(r.line as string)])).toEqual([
      ['1', { a: 1 }],
      ['2', { b: [1, 2] }],
      ['3', 3],
      ['4', 's'],
    ]);
    expect(rows.every((r) => r.source_file === f && r.file_error === null)).toBe(true);
  });

  it('an empty array and an empty file give no records', async () => {
    expect(await records([file('e.json', '[]'), file('z.json', '')])).toEqual([]);
  });

  it('a file that is not UTF-8 is one record with file_error, and it is quarantined', async () => {
    const f = file('latin1.json', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d, 0x0a])); // {"a":"é"} in Latin-1
    const rows = await records([f]);
    expect(rows).toEqual([
      { source_file: f, line_number: null, line: null, file_error: 'the file is not UTF-8 text' },
    ]);
    const q = await session.all(quarantineRowsSql(`(${rawRecordsSql([f])})`, 's', NOW));
    expect(q.map((r) => r.error)).toEqual(['the file is not UTF-8 text']);
    expect(await session.all(bronzeRowsSql(`(${rawRecordsSql([f])})`, COLUMNS, NOW))).toEqual([]);
  });

  it('an array file that is not valid JSON is one record with file_error', async () => {
    const f = file('broken.json', '[{"a":1}, {"b":');
    const rows = await records([f]);
    expect(rows).toEqual([
      {
        source_file: f,
        line_number: null,
        line: '[{"a":1}, {"b":',
        file_error: 'the file starts with [ but is not a valid JSON array',
      },
    ]);
  });

  it('skips a UTF-8 byte-order mark', async () => {
    const f = file(
      'bom.json',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n{"a":2}\n')]),
    );
    expect((await records([f])).map((r) => r.line)).toEqual(['{"a":1}', '{"a":2}']);
  });

  it('several files in one relation keep their own paths; no files gives an empty relation', async () => {
    const a = file('a.json', '{"x":1}\n');
    const b = file('b.json', '[{"x":2}]');
    const rows = await records([a, b]);
    expect(rows.map((r) => [nodePath.basename(String(r.source_file)), r.line]).sort()).toEqual([
      ['a.json', '{"x":1}'],
      ['b.json', '{"x":2}'],
    ]);
    expect(await records([])).toEqual([]);
  });
});
