import { existsSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CommitConflict,
  DataFileNotFound,
  DeltaTable,
  RetentionTooShort,
  Transaction,
  decodeActionPath,
} from '../../../src/delta/index.js';
import { writeDataFiles } from '../../../src/delta/writer.js';
import {
  copyConformanceTable,
  countRows,
  idRows,
  readRows,
  rejection,
  sleep,
  tempDirs,
} from '../../helpers/delta.js';
import { HookedStore } from '../../helpers/hooked-store.js';

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
    await expect(ids(t, 0)).rejects.toThrow(DataFileNotFound);
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

describe('VACUUM with concurrent writers (retention 0, check disabled)', () => {
  const force = { retentionHours: 0, enforceRetentionDuration: false } as const;
  const logCommit = /^_delta_log\/\d{20}\.json$/;

  /** A table whose version 0 file was removed by an overwrite (version 1): VACUUM has one file to delete. */
  async function tableWithGarbage(): Promise<{ t: DeltaTable; garbage: string[] }> {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2));
    const garbage = await paths(t);
    await t.write(idRows(10, 2), { mode: 'overwrite' });
    return { t, garbage };
  }

  /** Every version from `from` to the latest reads all its rows. */
  async function everyVersionReads(t: DeltaTable, from: number): Promise<void> {
    const latest = (await t.snapshot()).version;
    for (let v = from; v <= latest; v++) {
      const s = await t.snapshot({ version: v });
      expect(await countRows(t, s), `version ${v}`).toBe(s.numRecords);
    }
  }

  it('a commit that lands after VACUUM read its snapshot keeps its files (the log is read again before deleting)', async () => {
    const { t, garbage } = await tableWithGarbage();
    // another writer's files: written before the VACUUM starts, committed while it runs
    const snap = await t.snapshot();
    const adds = await writeDataFiles(t, idRows(20, 2).sql, {
      schema: snap.schema,
      partitionColumns: [],
      dataChange: true,
    });
    await sleep(20);
    let injected = false;
    const store = new HookedStore(t.store, async (op, path) => {
      if (!injected && op === 'putIfAbsent' && logCommit.test(path)) {
        injected = true; // just before VACUUM START tries version 2, the writer takes it
        await new Transaction(t, snap, { operation: 'WRITE' }).addFiles(adds).commit();
      }
    });
    const r = await new DeltaTable(store, t.session).vacuum(force);
    expect(injected).toBe(true);
    expect((await t.history()).reverse().map((h) => h.operation)).toEqual([
      'CREATE TABLE AS SELECT',
      'WRITE',
      'WRITE',
      'VACUUM START',
      'VACUUM END',
    ]);
    expect(r.files).toEqual(garbage);
    await everyVersionReads(t, 1);
    expect(await ids(t)).toEqual([10, 11, 20, 21]);
  });

  it('a writer that wrote its files before VACUUM START and commits after it writes them again', async () => {
    const { t, garbage } = await tableWithGarbage();
    let atCommit!: () => void;
    const reachedCommit = new Promise<void>((resolve) => (atCommit = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writerStore = new HookedStore(t.store, async (op, path) => {
      if (op === 'putIfAbsent' && logCommit.test(path)) {
        atCommit();
        await gate; // held until VACUUM has committed VACUUM START and starts deleting
      }
    });
    const writing = new DeltaTable(writerStore, t.session).write(idRows(20, 2));
    void writing.then(atCommit, atCommit); // a write that never reaches its commit must not hang the test
    await reachedCommit;
    const known = [...garbage, ...(await paths(t))];
    const firstFiles = (await t.store.list('')).filter(
      (f) => f.path.endsWith('.parquet') && !known.includes(f.path),
    );
    await sleep(20);
    let released = false;
    const vacuumStore = new HookedStore(t.store, async (op, path) => {
      if (!released && op === 'delete' && !path.startsWith('_delta_log/')) {
        released = true;
        release();
        await writing; // the writer's commit happens between VACUUM START and the deletes
      }
    });
    const r = await new DeltaTable(vacuumStore, t.session).vacuum(force);
    expect(released).toBe(true);
    const written = await writing;
    expect(written).toMatchObject({ skipped: false, numRows: 2 });
    const ops = (await t.history()).reverse().map((h) => h.operation);
    expect(ops).toEqual(['CREATE TABLE AS SELECT', 'WRITE', 'VACUUM START', 'WRITE', 'VACUUM END']);
    expect(written.version).toBe(3);
    // the files written before VACUUM START were orphans when listed (and the writer discarded them);
    // the commit has new ones
    expect(firstFiles).toHaveLength(1);
    expect(r.files.sort()).toEqual([...garbage, ...firstFiles.map((f) => f.path)].sort());
    const committed = await paths(t);
    expect(committed.length).toBe(2);
    for (const f of firstFiles) expect(committed).not.toContain(f.path);
    await everyVersionReads(t, 1);
    expect(await ids(t)).toEqual([10, 11, 20, 21]);
  });

  it('a commit that adds files conflicts with a VACUUM START it did not read (ConcurrentVacuum); one without files does not', async () => {
    const { t } = await tableWithGarbage();
    const before = await t.snapshot();
    const adds = await writeDataFiles(t, idRows(30, 1).sql, {
      schema: before.schema,
      partitionColumns: [],
      dataChange: true,
    });
    await new Transaction(t, before, { operation: 'VACUUM START' }).commit();
    const err = await rejection(new Transaction(t, before, { operation: 'WRITE' }).addFiles(adds).commit());
    expect(err).toBeInstanceOf(CommitConflict);
    expect((err as CommitConflict).kind).toBe('ConcurrentVacuum');
    expect((err as CommitConflict).retryable).toBe(true);
    const domain = await new Transaction(t, before, { operation: 'SET DOMAIN' })
      .setDomainMetadata('d', '{}')
      .commit();
    expect(domain.version).toBe(3);
  });

  it('never deletes a file modified after it started, whatever the retention', async () => {
    const { t, garbage } = await tableWithGarbage();
    const late = 'part-late-writer.parquet';
    const store = new HookedStore(t.store, async (op, path) => {
      if (op === 'list' && path === '') await fs.writeFile(nodePath.join(t.location, late), 'uncommitted');
    });
    // "now" a minute ahead: only the start time protects the late file
    const r = await new DeltaTable(store, t.session).vacuum({ ...force, now: Date.now() + 60_000 });
    expect(r.files).toEqual(garbage);
    expect(existsSync(nodePath.join(t.location, late))).toBe(true);
  });

  it('keeps staging files of running writes (younger than a day) whatever the retention', async () => {
    const { t, garbage } = await tableWithGarbage();
    const fresh = '_tweetlake_staging/running/all/part-1.parquet';
    await orphan(t.location, fresh, Date.now() - HOUR);
    await orphan(t.location, '_tweetlake_staging/killed/all/part-1.parquet', Date.now() - 25 * HOUR);
    const r = await t.vacuum({ ...force, now: Date.now() + 1000 });
    expect(r.files.sort()).toEqual([...garbage, '_tweetlake_staging/killed/all/part-1.parquet'].sort());
    expect(existsSync(nodePath.join(t.location, fresh))).toBe(true);
  });
});
