import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable, Transaction, VersionNotFound, commitTimestamps } from '../../../src/delta/index.js';
import { field, type StructType } from '../../../src/delta/schema.js';
import { newMetadata } from '../../../src/delta/write.js';
import { commitActions, idRows, readRows, rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-timetravel-');
afterAll(() => dirs.cleanup());

const ids = async (t: DeltaTable, spec: { version?: number; timestamp?: number | Date }) =>
  (await readRows(t, await t.snapshot(spec), 'id')).map((r) => Number(r.id));

async function setCommitTime(dir: string, version: number, ms: number): Promise<void> {
  const p = nodePath.join(dir, '_delta_log', `${String(version).padStart(20, '0')}.json`);
  await fs.utimes(p, new Date(ms), new Date(ms));
}

describe('time travel', () => {
  it('reads each version as it was committed', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2)); // v0
    await t.write(idRows(2, 1)); // v1
    await t.write(idRows(10, 1), { mode: 'overwrite' }); // v2
    await t.write({ sql: `SELECT 11::BIGINT AS id, 'x' AS v, true AS flag` }, { mergeSchema: true }); // v3
    expect(await ids(t, { version: 0 })).toEqual([0, 1]);
    expect(await ids(t, { version: 1 })).toEqual([0, 1, 2]);
    expect(await ids(t, { version: 2 })).toEqual([10]);
    expect(await ids(t, { version: 3 })).toEqual([10, 11]);
    expect((await t.snapshot({ version: 2 })).schema.fields.map((f) => f.name)).toEqual(['id', 'v']);
    const err = await rejection(t.snapshot({ version: 4 }));
    expect(err).toBeInstanceOf(VersionNotFound);
  });

  it('finds the newest version committed at or before a timestamp (commit file times)', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    for (let i = 0; i < 3; i++) await t.write(idRows(i * 10, 1));
    const T = Date.UTC(2024, 0, 1, 12);
    for (let v = 0; v < 3; v++) await setCommitTime(dir, v, T + v * 60_000);
    expect(await t.versionAsOf(T)).toBe(0);
    expect(await t.versionAsOf(T + 59_999)).toBe(0);
    expect(await t.versionAsOf(T + 60_000)).toBe(1);
    expect(await t.versionAsOf(new Date(T + 90_000))).toBe(1);
    expect(await t.versionAsOf(Date.now())).toBe(2);
    expect(await ids(t, { timestamp: T + 90_000 })).toEqual([0, 10]);
    expect(await ids(t, { timestamp: new Date(T + 120_000) })).toEqual([0, 10, 20]);
    const err = await rejection(t.versionAsOf(T - 1));
    expect(err).toBeInstanceOf(VersionNotFound);
    expect(err.message).toMatch(/oldest commit is version 0 at 2024-01-01T12:00:00.000Z/);
  });

  it('makes equal or decreasing commit times strictly increasing, as Spark does', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    for (let i = 0; i < 3; i++) await t.write(idRows(i, 1));
    const T = Date.UTC(2024, 5, 1);
    await setCommitTime(dir, 0, T);
    await setCommitTime(dir, 1, T);
    await setCommitTime(dir, 2, T - 5000);
    expect(await commitTimestamps(t)).toEqual([
      { version: 0, timestamp: T },
      { version: 1, timestamp: T + 1 },
      { version: 2, timestamp: T + 2 },
    ]);
    expect(await t.versionAsOf(T)).toBe(0);
    expect(await t.versionAsOf(T + 1)).toBe(1);
  });

  it('uses in-commit timestamps when the table has them, whatever the file times say', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const schema: StructType = { type: 'struct', fields: [field('id', 'long'), field('v', 'string')] };
    await new Transaction(t, undefined, { operation: 'CREATE TABLE' })
      .updateProtocol({ minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['inCommitTimestamp'] })
      .updateMetadata(newMetadata(schema, [], { 'delta.enableInCommitTimestamps': 'true' }))
      .commit();
    await t.write(idRows(0, 1));
    await t.write(idRows(1, 1));
    const icts: number[] = [];
    for (let v = 0; v < 3; v++) {
      const info = (await commitActions(dir, v))[0]!.commitInfo as { inCommitTimestamp?: number };
      expect(typeof info.inCommitTimestamp).toBe('number');
      icts.push(info.inCommitTimestamp!);
    }
    expect(icts[1]!).toBeGreaterThan(icts[0]!);
    expect(icts[2]!).toBeGreaterThan(icts[1]!);
    // file times that would say otherwise are ignored
    for (let v = 0; v < 3; v++) await setCommitTime(dir, v, Date.UTC(2001, 0, 1));
    expect((await commitTimestamps(t)).map((c) => c.timestamp)).toEqual(icts);
    expect(await t.versionAsOf(icts[1]!)).toBe(1);
    expect((await t.snapshot()).timestamp).toBe(icts[2]);
    expect(await rejection(t.versionAsOf(Date.UTC(2001, 0, 2)))).toBeInstanceOf(VersionNotFound);

    // a commit with a long commitInfo (large operation parameters) still has its in-commit timestamp found
    await t.write(idRows(2, 1), { operationParameters: { note: 'x'.repeat(6000) } });
    await setCommitTime(dir, 3, Date.UTC(2001, 0, 1));
    const ts = await commitTimestamps(t);
    const ict3 = ((await commitActions(dir, 3))[0]!.commitInfo as { inCommitTimestamp: number })
      .inCommitTimestamp;
    expect(ts[3]).toEqual({ version: 3, timestamp: ict3 });
  });
});
