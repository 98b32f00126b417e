/**
 * A read that fails on the table's own files says which version, which file and why, as a typed
 * error (DataFileNotFound, DataFileUnreadable), not DuckDB's text and SQL.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqlError } from '../../../src/duck/session.js';
import {
  CorruptLog,
  DataFileNotFound,
  DataFileUnreadable,
  DeltaTable,
  decodeActionPath,
} from '../../../src/delta/index.js';
import { copyConformanceTable, countRows, idRows, rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-file-errors-');
afterAll(() => dirs.cleanup());

const paths = async (t: DeltaTable) => (await t.snapshot()).files.map((f) => decodeActionPath(f.path));

/** The error of scanning a version (the latest when none is given). */
async function scanError(t: DeltaTable, version?: number): Promise<Error> {
  return rejection(countRows(t, await t.snapshot(version === undefined ? {} : { version })));
}

function expectNoDuckDbText(err: Error): void {
  expect(err.message).not.toMatch(/IO Error|read_parquet|SELECT|No files found/);
}

describe('reading a version whose files are gone', () => {
  it('a version whose file VACUUM deleted: which version, which file, removed when, deleted by which VACUUM', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2)); // v0
    const [gone] = await paths(t);
    await t.write(idRows(10, 2)); // v1
    await t.write(idRows(20, 2), { mode: 'overwrite' }); // v2 removes both files
    await t.vacuum({ retentionHours: 0, enforceRetentionDuration: false }); // v3 START, v4 END
    const err = await scanError(t, 1);
    expect(err).toBeInstanceOf(DataFileNotFound);
    const e = err as DataFileNotFound;
    expect(e.code).toBe('DELTA_DATA_FILE_NOT_FOUND');
    expect(e.domain).toBe('user');
    expect(e.version).toBe(1);
    expect(e.location).toBe(t.location);
    expect(e.file).toBe(gone); // the first of the version's files that is gone
    expect(e.reason).toEqual({ removedIn: 2, vacuumedIn: 3 });
    expect(e.message).toContain(
      `version 1 of table ${t.location} cannot be read: its file ${e.file} is gone`,
    );
    expect(e.message).toContain('removed from the table in version 2 and deleted by the VACUUM of version 3');
    expect(e.message).toContain('time travel to versions before 2 is no longer possible');
    expectNoDuckDbText(e);
    expect(e.cause).toBeInstanceOf(SqlError);
    // the versions from the removal on still read
    expect(await countRows(t, await t.snapshot({ version: 2 }))).toBe(2);
  });

  it('a live file deleted outside Delta: the table is damaged, says so', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2));
    await t.write(idRows(2, 2));
    const [, second] = await paths(t);
    await fs.rm(nodePath.join(t.location, second!));
    const err = await scanError(t);
    expect(err).toBeInstanceOf(DataFileNotFound);
    expect((err as DataFileNotFound).file).toBe(second);
    expect((err as DataFileNotFound).reason).toEqual({});
    expect(err.message).toContain('although the table still uses it (it was deleted outside Delta)');
    expectNoDuckDbText(err);
  });

  it('a missing deletion vector file is named too', async () => {
    const dir = await copyConformanceTable('table-with-dv-small', dirs.make('dv'));
    const dvFile = 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin';
    await fs.rm(nodePath.join(dir, dvFile));
    const t = await DeltaTable.forPath(dir);
    const err = await scanError(t);
    expect(err).toBeInstanceOf(DataFileNotFound);
    expect((err as DataFileNotFound).file).toBe(dvFile);
    expectNoDuckDbText(err);
  });
});

describe('reading a version whose files are damaged', () => {
  it('a truncated Parquet file: DataFileUnreadable with its size and the size the log gives', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2));
    await t.write(idRows(2, 2));
    const s = await t.snapshot();
    const victim = s.files[1]!;
    await fs.truncate(nodePath.join(t.location, decodeActionPath(victim.path)), 100);
    const err = await scanError(t);
    expect(err).toBeInstanceOf(DataFileUnreadable);
    const e = err as DataFileUnreadable;
    expect(e.code).toBe('DELTA_DATA_FILE_UNREADABLE');
    expect(e.file).toBe(decodeActionPath(victim.path));
    expect(e.version).toBe(1);
    expect(e.why).toBe(`not a complete Parquet file: 100 bytes, the log says ${victim.size}`);
    expectNoDuckDbText(e);
  });

  it('a file that is not Parquet at all', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2));
    const [file] = await paths(t);
    await fs.writeFile(nodePath.join(t.location, file!), 'this is not a parquet file, just text');
    const err = await scanError(t);
    expect(err).toBeInstanceOf(DataFileUnreadable);
    expect((err as DataFileUnreadable).why).toMatch(
      /^not a complete Parquet file: 37 bytes, the log says \d+$/,
    );
  });
});

describe('reading a table whose checkpoint is damaged', () => {
  it('a truncated checkpoint is a CorruptLog naming the file and why, not DuckDB text', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    for (let i = 0; i < 11; i++) await t.write(idRows(i, 1)); // checkpoint at 10
    const checkpoint = '_delta_log/00000000000000000010.checkpoint.parquet';
    await fs.truncate(nodePath.join(t.location, checkpoint), 50);
    const err = await rejection(t.snapshot());
    expect(err).toBeInstanceOf(CorruptLog);
    expect(err.message).toContain(
      `checkpoint file ${checkpoint} of table ${t.location} is unreadable (not a complete Parquet file: 50 bytes)`,
    );
    expectNoDuckDbText(err);
  });
});
