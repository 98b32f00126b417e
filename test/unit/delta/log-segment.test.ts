import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTarget, readerFiles } from '../../../src/duck/files.js';
import {
  CorruptLog,
  DeltaTable,
  TableNotFound,
  VersionNotFound,
  checkpointActions,
  serializeActions,
  type Action,
} from '../../../src/delta/index.js';
import { classicCheckpointPath, commitPath, parseLogFileName, pad20 } from '../../../src/delta/log-files.js';
import { buildLogSegment, readLastCheckpoint } from '../../../src/delta/log-segment.js';
import { LocalObjectStore } from '../../../src/storage/index.js';
import { copyJsonLog, idRows, rejection, snapshotState, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-logseg-');
afterAll(() => dirs.cleanup());

const LOG = '_delta_log';
const logPath = (dir: string, name: string) => nodePath.join(dir, LOG, name);

/** A log of commits 0..last written by hand (no data files: only the log matters here). */
async function handLog(dir: string, last: number): Promise<void> {
  await fs.mkdir(nodePath.join(dir, LOG), { recursive: true });
  for (let v = 0; v <= last; v++) {
    const actions: Action[] = [{ commitInfo: { timestamp: 1000 + v, operation: 'WRITE' } }];
    if (v === 0) {
      actions.push(
        { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
        {
          metaData: {
            id: 'm',
            format: { provider: 'parquet', options: {} },
            schemaString:
              '{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}',
            partitionColumns: [],
            configuration: {},
          },
        },
      );
    }
    actions.push({
      add: {
        path: `f${v}.parquet`,
        partitionValues: {},
        size: 100 + v,
        modificationTime: v,
        dataChange: true,
        stats: '{"numRecords":1}',
      },
    });
    await fs.writeFile(nodePath.join(dir, commitPath(v)), serializeActions(actions));
  }
}

describe('parseLogFileName', () => {
  it('classifies commits and every checkpoint naming scheme', () => {
    expect(parseLogFileName('00000000000000000007.json')).toEqual({ kind: 'commit', version: 7 });
    expect(parseLogFileName('00000000000000000010.checkpoint.parquet')).toEqual({
      kind: 'checkpoint',
      version: 10,
      format: 'classic',
    });
    expect(parseLogFileName('00000000000000000010.checkpoint.0000000002.0000000003.parquet')).toEqual({
      kind: 'checkpoint',
      version: 10,
      format: 'multipart',
      part: 2,
      parts: 3,
    });
    expect(
      parseLogFileName('00000000000000000008.checkpoint.e5ac4dc4-be27-4106-8a55-609707487f83.json'),
    ).toEqual({
      kind: 'checkpoint',
      version: 8,
      format: 'uuid',
      uuid: 'e5ac4dc4-be27-4106-8a55-609707487f83',
      ext: 'json',
    });
    for (const other of [
      '_last_checkpoint',
      '00000000000000000001.crc',
      '00000000000000000001.00000000000000000003.compacted.json',
      '.00000000000000000001.json.5f2c.tmp',
      '0000000000000000001.json',
      '00000000000000000001.json.bak',
    ]) {
      expect(parseLogFileName(other)).toEqual({ kind: 'other' });
    }
    expect(pad20(42)).toBe('00000000000000000042');
  });
});

describe('buildLogSegment', () => {
  it('throws TableNotFound when there is no log, or a log without commits', async () => {
    const dir = dirs.make();
    await expect(buildLogSegment(new LocalObjectStore(dir))).rejects.toBeInstanceOf(TableNotFound);
    await fs.mkdir(nodePath.join(dir, LOG));
    await fs.writeFile(logPath(dir, '00000000000000000000.crc'), '{}');
    await expect(buildLogSegment(new LocalObjectStore(dir))).rejects.toBeInstanceOf(TableNotFound);
  });

  it('replays every commit when there is no checkpoint, up to the requested version', async () => {
    const dir = dirs.make();
    await handLog(dir, 4);
    const store = new LocalObjectStore(dir);
    const seg = await buildLogSegment(store);
    expect(seg.version).toBe(4);
    expect(seg.checkpoint).toBeUndefined();
    expect(seg.commits.map((c) => c.version)).toEqual([0, 1, 2, 3, 4]);
    const seg2 = await buildLogSegment(store, 2);
    expect(seg2.commits.map((c) => c.version)).toEqual([0, 1, 2]);
    const err = await rejection(buildLogSegment(store, 5));
    expect(err).toBeInstanceOf(VersionNotFound);
    expect(err.message).toMatch(/latest is 4/);
  });

  it('throws CorruptLog for a gap in the commits it needs, but not for a gap a checkpoint covers', async () => {
    const dir = dirs.make();
    await handLog(dir, 6);
    await fs.rm(logPath(dir, '00000000000000000003.json'));
    const store = new LocalObjectStore(dir);
    const err = await rejection(buildLogSegment(store));
    expect(err).toBeInstanceOf(CorruptLog);
    expect(err.message).toMatch(/missing commit 3/);
    expect((await buildLogSegment(store, 2)).version).toBe(2); // versions before the gap still load

    // a table whose checkpoint at 10 covers a gap at 5
    const tdir = dirs.make();
    const t = await DeltaTable.forPath(tdir);
    for (let i = 0; i < 12; i++) await t.write(idRows(i, 1));
    await fs.rm(logPath(tdir, '00000000000000000005.json'));
    const s = await t.snapshot();
    expect(s.version).toBe(11);
    expect(s.numRecords).toBe(12);
    await expect(t.snapshot({ version: 7 })).rejects.toBeInstanceOf(CorruptLog);
  });
});

describe('checkpoints in the log segment', () => {
  let table: DeltaTable;
  let dir: string;
  let jsonOnly: Record<string, unknown>;

  // 12 commits: tweetlake writes a classic checkpoint at version 10 by itself.
  beforeAll(async () => {
    dir = dirs.make();
    table = await DeltaTable.forPath(dir);
    for (let i = 0; i < 12; i++) await table.write(idRows(i * 10, 3), i === 6 ? { mode: 'overwrite' } : {});
    const copy = dirs.make();
    await copyJsonLog(dir, copy);
    const plain = await DeltaTable.forPath(copy);
    const s = await plain.snapshot();
    expect((await buildLogSegment(plain.store)).checkpoint).toBeUndefined();
    jsonOnly = snapshotState(s);
  });

  /** Restores the log to: commits 0..11, classic checkpoint at 10, `_last_checkpoint` -> 10, nothing else. */
  async function resetLog(): Promise<void> {
    for (const name of await fs.readdir(nodePath.join(dir, LOG))) {
      if (!/^\d{20}\.json$/.test(name) && name !== '00000000000000000010.checkpoint.parquet') {
        await fs.rm(logPath(dir, name), { recursive: true, force: true });
      }
    }
    await table.checkpoint(10); // rewrites _last_checkpoint (the checkpoint file exists already)
  }

  it('starts from the classic checkpoint that tweetlake wrote at version 10', async () => {
    await resetLog();
    const seg = await buildLogSegment(table.store);
    expect(seg.checkpoint).toEqual({ version: 10, format: 'classic', paths: [classicCheckpointPath(10)] });
    expect(seg.commits.map((c) => c.version)).toEqual([11]);
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);
    // a version before the checkpoint replays JSON from the start
    const seg9 = await buildLogSegment(table.store, 9);
    expect(seg9.checkpoint).toBeUndefined();
    expect(seg9.commits).toHaveLength(10);
  });

  it('uses a complete multi-part checkpoint and ignores one with a missing part', async () => {
    await resetLog();
    const classic = logPath(dir, '00000000000000000010.checkpoint.parquet');
    const part = (i: number, n: number) =>
      logPath(dir, `00000000000000000010.checkpoint.${pad20(i).slice(10)}.${pad20(n).slice(10)}.parquet`);
    // split the classic checkpoint into 2 parts: non-file actions, then the adds/removes
    await table.session.run(
      `COPY (SELECT * FROM read_parquet(${readerFiles([classic])}) WHERE "add" IS NULL AND "remove" IS NULL) TO ${copyTarget(part(1, 2))} (FORMAT parquet)`,
    );
    await table.session.run(
      `COPY (SELECT * FROM read_parquet(${readerFiles([classic])}) WHERE "add" IS NOT NULL OR "remove" IS NOT NULL) TO ${copyTarget(part(2, 2))} (FORMAT parquet)`,
    );
    // an incomplete 3-part checkpoint of garbage at the same version must never be read
    await fs.writeFile(part(1, 3), 'not parquet');
    await fs.rm(classic);
    let seg = await buildLogSegment(table.store);
    expect(seg.checkpoint?.format).toBe('multipart');
    expect(seg.checkpoint?.paths.map((p) => p.split('/').at(-1))).toEqual([
      '00000000000000000010.checkpoint.0000000001.0000000002.parquet',
      '00000000000000000010.checkpoint.0000000002.0000000002.parquet',
    ]);
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);

    // lose part 2 of 2: the checkpoint is incomplete and must be ignored (replay from JSON)
    await fs.rm(part(2, 2));
    seg = await buildLogSegment(table.store);
    expect(seg.checkpoint).toBeUndefined();
    expect(seg.commits.map((c) => c.version)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);
    await table.checkpoint(10); // put the classic one back for the other tests
  });

  it('reads a UUID-named (v2) JSON checkpoint with a Parquet sidecar, preferred over a classic one', async () => {
    await resetLog();
    const snapshot = await table.snapshot({ version: 10 });
    const classic = logPath(dir, '00000000000000000010.checkpoint.parquet');
    await fs.mkdir(logPath(dir, '_sidecars'), { recursive: true });
    const sidecarName =
      '00000000000000000010.checkpoint.0000000001.0000000001.3f8a9c1e-0000-4000-8000-000000000001.parquet';
    await table.session.run(
      `COPY (SELECT "add", "remove" FROM read_parquet(${readerFiles([classic])}) WHERE "add" IS NOT NULL OR "remove" IS NOT NULL) ` +
        `TO ${copyTarget(logPath(dir, `_sidecars/${sidecarName}`))} (FORMAT parquet)`,
    );
    const st = await fs.stat(logPath(dir, `_sidecars/${sidecarName}`));
    const nonFile = [...checkpointActions(snapshot)].filter((a) => !('add' in a) && !('remove' in a));
    const v2: Action[] = [
      { checkpointMetadata: { version: 10 } },
      ...nonFile,
      { sidecar: { path: sidecarName, sizeInBytes: st.size, modificationTime: Math.floor(st.mtimeMs) } },
    ];
    const v2Name = '00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json';
    await fs.writeFile(logPath(dir, v2Name), serializeActions(v2));
    // make the classic checkpoint unusable: if it were read, loading would fail
    await fs.writeFile(classic, 'garbage');
    const seg = await buildLogSegment(table.store);
    expect(seg.checkpoint).toEqual({ version: 10, format: 'uuid', paths: [`${LOG}/${v2Name}`] });
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);
    await fs.rm(classic);
    await table.checkpoint(10);
  });

  it('falls back to listing when _last_checkpoint names a missing checkpoint or is unreadable', async () => {
    await resetLog();
    const last = logPath(dir, '_last_checkpoint');
    // points at version 8, which has no checkpoint
    await fs.writeFile(last, JSON.stringify({ version: 8, size: 5 }));
    expect((await readLastCheckpoint(table.store))?.version).toBe(8);
    let seg = await buildLogSegment(table.store);
    expect(seg.checkpoint?.version).toBe(10);
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);

    // points past the end of the log
    await fs.writeFile(last, JSON.stringify({ version: 99 }));
    seg = await buildLogSegment(table.store);
    expect(seg.version).toBe(11);
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);

    // the checkpoint it names is gone: replay everything from JSON
    await fs.writeFile(last, JSON.stringify({ version: 10 }));
    await fs.rm(logPath(dir, '00000000000000000010.checkpoint.parquet'));
    seg = await buildLogSegment(table.store);
    expect(seg.checkpoint).toBeUndefined();
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);

    // not JSON at all: no hint
    await fs.writeFile(last, '{"version": 1');
    expect(await readLastCheckpoint(table.store)).toBeUndefined();
    expect(snapshotState(await table.snapshot())).toEqual(jsonOnly);
    await table.checkpoint(10);
  });

  it('throws VersionNotFound for time travel before the first commit still in the log', async () => {
    await resetLog();
    const copy = dirs.make();
    await fs.cp(nodePath.join(dir, LOG), nodePath.join(copy, LOG), { recursive: true });
    // log clean-up removed commits 0..9; the checkpoint at 10 is the oldest reconstructible state
    for (let v = 0; v < 10; v++) await fs.rm(logPath(copy, `${pad20(v)}.json`));
    const t = await DeltaTable.forPath(copy);
    expect((await t.snapshot()).version).toBe(11);
    expect((await t.snapshot({ version: 10 })).version).toBe(10);
    for (const v of [0, 5, 9]) {
      const err = await rejection(t.snapshot({ version: v }));
      expect(err).toBeInstanceOf(VersionNotFound);
      expect(err.message).toMatch(/no longer available/);
    }
    await expect(t.snapshot({ version: 12 })).rejects.toBeInstanceOf(VersionNotFound);
  });
});
