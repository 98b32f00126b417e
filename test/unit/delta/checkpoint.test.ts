import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../../src/duck/session.js';
import { DeltaTable, Transaction, checkpointActions, field } from '../../../src/delta/index.js';
import { buildLogSegment, readLastCheckpoint } from '../../../src/delta/log-segment.js';
import {
  copyJsonLog,
  countRows,
  idRows,
  logNames,
  readRows,
  snapshotState,
  tempDirs,
} from '../../helpers/delta.js';
import { DV_SMALL } from '../../helpers/delta.js';
import { StreamTest } from '../../helpers/engine-stream-test.js';

const dirs = tempDirs('tweetlake-checkpoint-');
afterAll(() => dirs.cleanup());

const checkpointsIn = async (dir: string) =>
  (await logNames(dir)).filter((n) => n.includes('.checkpoint.')).map((n) => Number(n.slice(0, 20)));

describe('automatic checkpoints', () => {
  it('writes a checkpoint every 10 commits and points _last_checkpoint at the newest', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    for (let i = 0; i < 10; i++) await t.write(idRows(i, 1));
    expect(await checkpointsIn(dir)).toEqual([]); // versions 0..9
    await t.write(idRows(10, 1)); // version 10
    expect(await checkpointsIn(dir)).toEqual([10]);
    let last = await readLastCheckpoint(t.store);
    expect(last).toMatchObject({ version: 10, numOfAddFiles: 11 });
    expect(last!.size).toBeGreaterThanOrEqual(13); // protocol + metaData + 11 adds
    expect(last!.sizeInBytes).toBe(
      (await fs.stat(nodePath.join(dir, '_delta_log', '00000000000000000010.checkpoint.parquet'))).size,
    );
    for (let i = 11; i < 21; i++) await t.write(idRows(i, 1));
    expect(await checkpointsIn(dir)).toEqual([10, 20]);
    last = await readLastCheckpoint(t.store);
    expect(last!.version).toBe(20);
    const seg = await buildLogSegment(t.store);
    expect(seg.checkpoint?.version).toBe(20);
    expect(seg.commits.map((c) => c.version)).toEqual([]);
    expect(await countRows(t)).toBe(21);
  });

  it('honours delta.checkpointInterval', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 1), { properties: { 'delta.checkpointInterval': '3' } });
    for (let i = 1; i < 8; i++) await t.write(idRows(i, 1));
    expect(await checkpointsIn(dir)).toEqual([3, 6]);
  });

  it('an explicit checkpoint of an older version does not move _last_checkpoint backwards', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    for (let i = 0; i < 12; i++) await t.write(idRows(i, 1));
    expect(await t.checkpoint(5)).toBe(5);
    expect(await checkpointsIn(dir)).toEqual([5, 10]);
    expect((await readLastCheckpoint(t.store))!.version).toBe(10);
    expect(await t.checkpoint()).toBe(11);
    expect((await readLastCheckpoint(t.store))!.version).toBe(11);
    // checkpointing a version twice is harmless
    expect(await t.checkpoint(11)).toBe(11);
    expect((await t.snapshot({ version: 7 })).version).toBe(7); // starts from the checkpoint at 5
    expect((await buildLogSegment(t.store, 7)).checkpoint?.version).toBe(5);
  });
});

describe('reading from a checkpoint', () => {
  it('gives the same snapshot as replaying the JSON commits only', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    // partitioned, with a null partition value, properties, a streaming txn, domain metadata,
    // an overwrite (tombstones), a file with a deletion vector descriptor and a schema change
    await t.write(
      {
        sql: `SELECT i::BIGINT AS id, CASE WHEN i % 3 = 0 THEN NULL ELSE 'p' || (i % 3) END AS part FROM range(9) t(i)`,
      },
      {
        partitionBy: ['part'],
        properties: { 'delta.deletedFileRetentionDuration': 'interval 2 days', 'custom.key': 'x y' },
      },
    );
    await t.write(
      { sql: `SELECT 100::BIGINT AS id, 'p1' AS part` },
      { txn: { appId: 'stream-a', version: 7 } },
    );
    await t.write({ sql: `SELECT 200::BIGINT AS id, NULL::VARCHAR AS part` }, { mode: 'overwrite' });
    await t.write(
      { sql: `SELECT 300::BIGINT AS id, 'p2' AS part, 1.5::DOUBLE AS score` },
      { mergeSchema: true },
    );
    let s = await t.snapshot();
    await new Transaction(t, s, { operation: 'SET DOMAIN' })
      .setDomainMetadata('tweetlake.test', '{"a":1}')
      .commit();
    s = await t.snapshot();
    const withDv = {
      ...s.files[0]!,
      deletionVector: DV_SMALL,
    };
    // the DV file is not there: only the log state is compared below, nothing is scanned
    await new Transaction(t, s, { operation: 'DELETE' })
      .removeFiles([s.files[0]!], true)
      .addFiles([withDv])
      .commit();
    const version = await t.checkpoint();
    expect(version).toBe(5);

    const fromCheckpoint = await t.snapshot();
    expect((await buildLogSegment(t.store)).checkpoint?.version).toBe(5);
    const copy = dirs.make();
    await copyJsonLog(dir, copy);
    const jsonOnly = await (await DeltaTable.forPath(copy)).snapshot();
    expect((await buildLogSegment(jsonOnly.context.store)).checkpoint).toBeUndefined();

    const a = snapshotState(fromCheckpoint);
    const b = snapshotState(jsonOnly);
    expect(a).toEqual(b);
    // spot checks that the comparison covers what matters
    expect(fromCheckpoint.txnVersion('stream-a')).toBe(7);
    expect(fromCheckpoint.domainMetadata.get('tweetlake.test')?.configuration).toBe('{"a":1}');
    expect(fromCheckpoint.properties['custom.key']).toBe('x y');
    expect(fromCheckpoint.files.some((f) => f.partitionValues.part === null)).toBe(true);
    expect(fromCheckpoint.files.find((f) => f.deletionVector)?.deletionVector).toMatchObject(
      withDv.deletionVector,
    );
    expect(fromCheckpoint.tombstones.length).toBeGreaterThan(0);
    expect(fromCheckpoint.schema.fields.map((f) => f.name)).toEqual(['id', 'part', 'score']);
    expect(fromCheckpoint.files.every((f) => f.dataChange === false)).toBe(true);
  });

  it('scans the same rows from a checkpoint as from JSON, and keeps reading new commits after it', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    for (let i = 0; i < 13; i++) await t.write(idRows(i * 10, 2));
    const copy = dirs.make();
    await copyJsonLog(dir, copy);
    // the copy has the log only: compare the active file sets, then scan the original (checkpoint at 10 + 2 commits)
    expect((await buildLogSegment(t.store)).checkpoint?.version).toBe(10);
    const jsonOnly = await (await DeltaTable.forPath(copy)).snapshot();
    const cp = await t.snapshot();
    expect(cp.files.map((f) => f.path).sort()).toEqual(jsonOnly.files.map((f) => f.path).sort());
    const rows = await readRows(t, cp, 'id');
    expect(rows.map((r) => Number(r.id))).toEqual(
      Array.from({ length: 13 }, (_, i) => [i * 10, i * 10 + 1]).flat(),
    );
  });

  it('drops expired tombstones from the checkpoint and keeps recent ones, without their stats', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 2));
    await t.write(idRows(5, 2), { mode: 'overwrite' });
    const s = await t.snapshot();
    const removeTs = s.tombstones[0]!.deletionTimestamp!;
    const now = [...checkpointActions(s, removeTs + 1000)].filter((a) => 'remove' in a);
    expect(now).toHaveLength(1);
    expect(Object.keys((now[0] as { remove: object }).remove)).not.toContain('stats');
    const weekLater = [...checkpointActions(s, removeTs + 8 * 24 * 3600 * 1000)].filter((a) => 'remove' in a);
    expect(weekLater).toHaveLength(0);
  });
});

describe('checkpoints within the memory limit', () => {
  let small: DuckSession;
  beforeAll(async () => {
    small = await DuckSession.create({ memoryLimit: '512MB' });
  });
  afterAll(() => small.close());

  /** Runs `fn` and returns the warnings emitted meanwhile. */
  async function warningsOf(fn: () => Promise<void>): Promise<Error[]> {
    const seen: Error[] = [];
    const listener = (w: Error) => seen.push(w);
    process.on('warning', listener);
    try {
      await fn();
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', listener);
    }
    return seen;
  }

  it('the transaction writes the checkpoint of version 10 under the default 512 MB limit, without a warning', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir, small);
    const warnings = await warningsOf(async () => {
      for (let i = 0; i < 11; i++) await t.write(idRows(i, 1));
    });
    expect(warnings.map((w) => w.message)).toEqual([]);
    expect(await checkpointsIn(dir)).toEqual([10]);
    expect((await readLastCheckpoint(t.store))!.version).toBe(10);
    expect((await buildLogSegment(t.store)).checkpoint?.version).toBe(10);
    expect(await countRows(t)).toBe(11);
  });

  it('a stream of micro-batches past version 10 (DeltaSink, txn per batch) leaves a checkpoint', async () => {
    const root = dirs.make();
    const stream = new StreamTest(small, root);
    for (let i = 0; i < 12; i++) stream.addFile(`f${String(i).padStart(2, '0')}.json`, [i * 10, i * 10 + 1]);
    const warnings = await warningsOf(async () => {
      await stream.run({ limits: { maxFilesPerTrigger: 1 } });
    });
    expect(warnings.map((w) => w.message)).toEqual([]);
    expect(await stream.tableVersion()).toBe(11);
    expect(await checkpointsIn(stream.table)).toEqual([10]);
    const t = await DeltaTable.forPath(stream.table, small);
    const s = await t.snapshot();
    expect((await buildLogSegment(t.store)).checkpoint?.version).toBe(10);
    expect(s.transactions.map((x) => x.version)).toEqual([11]);
    expect(await countRows(t, s)).toBe(24);
  });

  it('a table of 100 000 files checkpoints under 512 MB and reads back from the checkpoint alone', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir, small);
    await t.create(
      { type: 'struct', fields: [field('id', 'long'), field('p', 'string')] },
      { partitionBy: ['p'] },
    );
    const n = 100_000;
    const adds = Array.from({ length: n }, (_, i) => ({
      path: `p=x${i % 100}/part-${String(i).padStart(6, '0')}-c000.snappy.parquet`,
      partitionValues: { p: `x${i % 100}` },
      size: 1000 + i,
      modificationTime: 1_700_000_000_000 + i,
      dataChange: true,
      stats: JSON.stringify({
        numRecords: 10,
        minValues: { id: i },
        maxValues: { id: i + 9 },
        nullCount: { id: 0 },
      }),
    }));
    await new Transaction(t, await t.snapshot(), { operation: 'WRITE' }).addFiles(adds).commit();
    expect(await t.checkpoint()).toBe(1);
    const last = await readLastCheckpoint(t.store);
    expect(last).toMatchObject({ version: 1, numOfAddFiles: n, size: n + 2 });
    const copy = dirs.make();
    await fs.mkdir(nodePath.join(copy, '_delta_log'));
    for (const name of ['00000000000000000001.checkpoint.parquet', '_last_checkpoint']) {
      await fs.copyFile(nodePath.join(dir, '_delta_log', name), nodePath.join(copy, '_delta_log', name));
    }
    const fromCheckpoint = await (await DeltaTable.forPath(copy, small)).snapshot();
    expect(fromCheckpoint.numFiles).toBe(n);
    expect(fromCheckpoint.numRecords).toBe(10 * n);
    const sample = fromCheckpoint.files.find((f) => f.path === adds[54_321]!.path)!;
    expect(sample).toMatchObject({
      size: adds[54_321]!.size,
      partitionValues: { p: 'x21' },
      dataChange: false,
    });
  });

  it('a checkpoint that cannot be written is a warning naming the version and the reason; the commit stands', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir, small);
    for (let i = 0; i < 10; i++) await t.write(idRows(i, 1));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = nodePath.join(dirs.make(), 'missing'); // the checkpoint's scratch folder cannot be made
    let warnings: Error[];
    try {
      warnings = await warningsOf(async () => {
        await t.write(idRows(10, 1)); // version 10
      });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain(`checkpoint of version 10 of ${t.location} failed:`);
    expect(warnings[0]!.message).toContain('ENOENT');
    expect((warnings[0] as Error & { code?: string }).code).toBe('DELTA_CHECKPOINT_FAILED');
    expect(await checkpointsIn(dir)).toEqual([]);
    expect((await t.snapshot()).version).toBe(10);
    expect(await countRows(t)).toBe(11);
  });
});
