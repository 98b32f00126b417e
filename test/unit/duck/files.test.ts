/**
 * Paths given to DuckDB are literal: a corpus of odd names, each beside "decoys" (symbolic links to
 * it, named so that DuckDB's glob of the odd name would match them too), read through every reader
 * tweetlake uses, and written by COPY ... TO.
 */
import { existsSync, mkdirSync, promises as fs, readdirSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTarget, fileList, fileLiteral, readerFiles } from '../../../src/duck/files.js';
import { DuckSession, literal } from '../../../src/duck/session.js';
import { tempDirs } from '../../helpers/delta.js';
import { linkDecoys, ODD_NAMES } from '../../helpers/odd-names.js';

const dirs = tempDirs('tweetlake-files-');
let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => {
  session.close();
  dirs.cleanup();
});

describe('fileLiteral / readerFiles', () => {
  it('escapes each glob character as a one-character class, and only those', () => {
    expect(fileLiteral('/d/a*b?c[1]')).toBe(`'/d/a[*]b[?]c[[]1]'`);
    expect(fileLiteral("/d/it's")).toBe(`'/d/it''s'`);
    expect(fileLiteral('/d/{x,y} ü 😈')).toBe(`'/d/{x,y} ü 😈'`);
    expect(fileList(['/a', '/b*'])).toBe(`['/a', '/b[*]']`);
    expect(readerFiles(['/a'])).toBe(`['/a'], hive_partitioning=false`);
  });

  it('makes relative paths absolute, so a leading ~ is not $HOME', () => {
    expect(fileLiteral('~/x')).toBe(literal(nodePath.resolve('~/x')));
    expect(copyTarget('~/x')).toBe(literal(nodePath.resolve('~/x')));
  });

  it('every reader opens exactly the named file, whatever it is called and whatever lies beside it', async () => {
    for (const entry of ODD_NAMES) {
      const parent = dirs.make();
      const dir = nodePath.join(parent, entry.name);
      mkdirSync(dir);
      const json = nodePath.join(dir, `${entry.name}.json`);
      writeFileSync(json, `${JSON.stringify({ id: 1, name: entry.name })}\n`);
      const parquet = nodePath.join(dir, `${entry.name}.parquet`);
      await session.run(`COPY (SELECT 1::BIGINT AS id, 'p' AS v) TO ${copyTarget(parquet)} (FORMAT parquet)`);
      linkDecoys(parent, entry);
      const label = JSON.stringify(entry.name);

      const rows = await session.all(
        `SELECT id, name, filename FROM read_json(${readerFiles([json])}, filename=true)`,
      );
      expect(rows, label).toEqual([{ id: '1', name: entry.name, filename: json }]);
      // read_blob takes no hive_partitioning option (it adds key=value columns, which naming columns avoids)
      const blobs = await session.all(`SELECT filename FROM read_blob(${fileList([json])})`);
      expect(blobs, label).toEqual([{ filename: json }]);
      // no column 'id' taken from a folder named id=7: the file's own id (1) is read
      const pq = await session.all(`SELECT * FROM read_parquet(${readerFiles([parquet])}, filename=true)`);
      expect(pq, label).toEqual([{ id: '1', v: 'p', filename: parquet }]);
      const meta = await session.all(
        `SELECT file_name, num_rows FROM parquet_file_metadata(${fileList([parquet])})`,
      );
      expect(meta, label).toEqual([{ file_name: parquet, num_rows: '1' }]);
    }
  });

  it('a missing file is an error, not an empty read, even when a decoy would match its name', async () => {
    const parent = dirs.make();
    mkdirSync(nodePath.join(parent, 'b1'));
    writeFileSync(nodePath.join(parent, 'b1', 'x.json'), '{"id": 1}\n');
    await expect(
      session.all(`SELECT * FROM read_json(${readerFiles([nodePath.join(parent, 'b[12]', 'x.json')])})`),
    ).rejects.toThrow(/No files found/);
  });
});

describe('copyTarget', () => {
  it('COPY ... TO writes the target as named: DuckDB does not glob it', async () => {
    const parent = dirs.make();
    for (const name of ['out*.parquet', 'o[*]t.parquet', 'b[1].parquet', '{uuid}.parquet']) {
      await session.run(
        `COPY (SELECT 1 AS x) TO ${copyTarget(nodePath.join(parent, name))} (FORMAT parquet)`,
      );
    }
    expect(readdirSync(parent).sort()).toEqual(
      ['b[1].parquet', 'o[*]t.parquet', 'out*.parquet', '{uuid}.parquet'].sort(),
    );
  });

  it('a partitioned-size COPY writes into a folder whose path has glob characters', async () => {
    const parent = dirs.make();
    linkDecoys(parent, { name: 'a*b', decoys: [] });
    const target = nodePath.join(parent, 'a*b', 'stage', 'all');
    await fs.mkdir(nodePath.dirname(target), { recursive: true });
    const [res] = await session.all(
      `COPY (SELECT range AS x FROM range(10)) TO ${copyTarget(target)} ` +
        `(FORMAT parquet, FILE_SIZE_BYTES 1000000, FILENAME_PATTERN 'part-{uuid}', RETURN_FILES true)`,
    );
    const files = res!.Files as string[];
    expect(files).toHaveLength(1);
    expect(files[0]!.startsWith(`${target}/part-`)).toBe(true);
    expect(existsSync(files[0]!)).toBe(true);
  });
});
