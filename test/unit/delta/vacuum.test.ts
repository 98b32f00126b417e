import { existsSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable, RetentionTooShort, decodeActionPath } from '../../../src/delta/index.js';
import { copyConformanceTable, idRows, readRows, rejection, sleep, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-vacuum-');
afterAll(() => dirs.cleanup());

const HOUR = 3_600_000;
const ids = async (t: DeltaTable, version?: number) =>
  (await readRows(t, await t.snapshot(version === undefined ? {} : { version }), 'id')).map((r) =>
    Number(r.id),
  );
const paths = async (t: DeltaTable, version?: number) =>
  (await t.snapshot(version === undefined ? {} : { version })).files.map((f) => decodeActionPath(f.path));

/** A file in the table directory that no commit references, last modified at `mtime` (ms). */
async function orphan(dir: string, rel: string, mtime: number): Promise<void> {
  const p = nodePath.join(dir, rel);
  await fs.mkdir(nodePath.dirname(p), { recursive: true });
  await fs.writeFile(p, 'orphan');
  await fs.utimes(p, new Date(mtime), new Date(mtime));
}

describe('VACUUM', () => {
  it('refuses a retention shorter than the table default (168 h) unless the check is disabled', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 1));
    const err = await rejection(t.vacuum({ retentionHours: 1 }));
    expect(err).toBeInstanceOf(RetentionTooShort);
    expect(err.message).toMatch(/1 h is shorter than the table's 168 h/);
    expect(await rejection(t.vacuum({ retentionHours: 167.9 }))).toBeInstanceOf(RetentionTooShort);
    expect((await t.vacuum({ retentionHours: 168, dryRun: true })).files).toEqual([]);
    expect(
      (await t.vacuum({ retentionHours: 0, enforceRetentionDuration: false, dryRun: true })).dryRun,
    ).toBe(true);
    // a table whose own retention is shorter allows it
    const t2 = await DeltaTable.forPath(dirs.make());
    await t2.write(idRows(0, 1), {
      properties: { 'delta.deletedFileRetentionDuration': 'interval 1 hours' },
    });
    expect((await t2.vacuum({ retentionHours: 1, dryRun: true })).files).toEqual([]);
    expect(await rejection(t2.vacuum({ retentionHours: 0.5 }))).toBeInstanceOf(RetentionTooShort);
  });

  it('dry run lists exactly the files that would go, and changes nothing', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 2));
    const old = await paths(t);
    await t.write(idRows(10, 2), { mode: 'overwrite' });
    // VACUUM runs "two hours from now" with a retention of 1 hour: the overwrite's removal is older than that
    const now = Date.now() + 2 * HOUR;
    const longAgo = Date.now() - 10 * 24 * HOUR;
    await orphan(dir, 'part-old-orphan.parquet', longAgo);
    await orphan(dir, 'part-new-orphan.parquet', now - HOUR / 2); // an uncommitted file of a running writer
    await orphan(dir, '_tweetlake_staging/abc/all/part-x.parquet', longAgo);
    await orphan(dir, '_other_hidden/keep.bin', longAgo);
    await orphan(dir, '.hidden-file', longAgo);
    const dry = await t.vacuum({ retentionHours: 1, enforceRetentionDuration: false, dryRun: true, now });
    expect(dry.dryRun).toBe(true);
    expect(dry.files).toEqual(
      [...old, 'part-old-orphan.parquet', '_tweetlake_staging/abc/all/part-x.parquet'].sort(),
    );
    expect(dry.bytes).toBeGreaterThan(0);
    expect((await t.snapshot()).version).toBe(1);
    for (const f of dry.files) expect(existsSync(nodePath.join(dir, f))).toBe(true);

    // the real run deletes those and only those, and logs VACUUM START / VACUUM END
    const done = await t.vacuum({ retentionHours: 1, enforceRetentionDuration: false, now });
    expect(done.files).toEqual(dry.files);
    for (const f of done.files) expect(existsSync(nodePath.join(dir, f))).toBe(false);
    for (const f of [
      'part-new-orphan.parquet',
      '_other_hidden/keep.bin',
      '.hidden-file',
      ...(await paths(t)),
    ]) {
      expect(existsSync(nodePath.join(dir, f)), f).toBe(true);
    }
    const h = await t.history(2);
    expect(h.map((e) => e.operation)).toEqual(['VACUUM END', 'VACUUM START']);
    expect(h[1]!.operationMetrics).toMatchObject({ numFilesToDelete: String(done.files.length) });
    expect(h[0]!.operationMetrics).toMatchObject({ numDeletedFiles: String(done.files.length) });
    expect(await ids(t)).toEqual([10, 11]);
  });

  it('with the default retention deletes nothing that was just removed: time travel still reads', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2));
    await t.write(idRows(10, 2), { mode: 'overwrite' });
    await t.optimize();
    const r = await t.vacuum();
    expect(r.files).toEqual([]);
    expect(await ids(t, 0)).toEqual([0, 1]);
  });

  it('never deletes the files of versions within the retention period', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 2)); // v0: file A
    const a = await paths(t);
    await t.write(idRows(10, 2), { mode: 'overwrite' }); // v1: A removed, file B
    const b = await paths(t);
    await sleep(30);
    const cutoff = Date.now();
    await sleep(30);
    await t.write(idRows(20, 2), { mode: 'overwrite' }); // v2: B removed (after the cutoff), file C
    const c = await paths(t);
    // retention 1 h, "now" one hour after the cutoff: B was removed within the retention period
    const r = await t.vacuum({ retentionHours: 1, enforceRetentionDuration: false, now: cutoff + HOUR });
    expect(r.files).toEqual(a);
    for (const f of a) expect(existsSync(nodePath.join(dir, f))).toBe(false);
    for (const f of [...b, ...c]) expect(existsSync(nodePath.join(dir, f))).toBe(true);
    // versions 1 (whose file was removed within the retention period) and 2 still read after VACUUM
    expect(await ids(t, 1)).toEqual([10, 11]);
    expect(await ids(t, 2)).toEqual([20, 21]);
    expect(await ids(t)).toEqual([20, 21]);
    // version 0's file is gone: its snapshot loads from the log, but scanning it fails
    expect((await t.snapshot({ version: 0 })).numRecords).toBe(2);
    await expect(ids(t, 0)).rejects.toThrow();
  });

  it('keeps the deletion vector files of live files (table-with-dv-small)', async () => {
    const dir = await copyConformanceTable('table-with-dv-small', dirs.make('dv'));
    const t = await DeltaTable.forPath(dir);
    const dvFile = 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin';
    const r = await t.vacuum({ retentionHours: 0, enforceRetentionDuration: false });
    expect(r.files).toEqual([]);
    expect(existsSync(nodePath.join(dir, dvFile))).toBe(true);
    expect((await readRows(t)).map((x) => x.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // once OPTIMIZE has rewritten the file without its DV, both the old file and the DV go
    await t.optimize();
    const r2 = await t.vacuum({ retentionHours: 0, enforceRetentionDuration: false, now: Date.now() + 1000 });
    expect(r2.files.sort()).toEqual([
      dvFile,
      'part-00000-fae5310a-a37d-4e51-827b-c3d5516560ca-c000.snappy.parquet',
    ]);
    expect((await readRows(t)).map((x) => x.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps files of partitioned tables in their directories and removes emptied partition directories', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write({ sql: `SELECT i::BIGINT AS id, 'old' AS p FROM range(2) t(i)` }, { partitionBy: ['p'] });
    await t.write({ sql: `SELECT i::BIGINT AS id, 'new' AS p FROM range(2) t(i)` }, { mode: 'overwrite' });
    const r = await t.vacuum({ retentionHours: 0, enforceRetentionDuration: false, now: Date.now() + 1000 });
    expect(r.files).toHaveLength(1);
    expect(r.files[0]).toMatch(/^p=old\//);
    expect(existsSync(nodePath.join(dir, 'p=old'))).toBe(false);
    expect(existsSync(nodePath.join(dir, 'p=new'))).toBe(true);
    expect(await ids(t)).toEqual([0, 1]);
  });
});
