import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CommitConflict, DeltaTable, ProtocolViolation, SchemaMismatch } from '../../../src/delta/index.js';
import { field, type StructType } from '../../../src/delta/schema.js';
import { DeltaSink } from '../../../src/engine/sink.js';
import {
  commitActions,
  countRows,
  idRows,
  logNames,
  readRows,
  rejection,
  snapshotState,
  tempDirs,
} from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-write-');
afterAll(() => dirs.cleanup());

describe('idempotent writes (txn action)', () => {
  it('a batch written twice with the same appId and version is skipped the second time; rows appear once', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const first = await t.write(idRows(0, 3), { txn: { appId: 'stream-1', version: 0 } });
    expect(first).toMatchObject({ version: 0, skipped: false, numRows: 3 });
    const again = await t.write(idRows(0, 3), { txn: { appId: 'stream-1', version: 0 } });
    expect(again).toEqual({ version: 0, skipped: true, numFiles: 0, numRows: 0 });
    expect(await countRows(t)).toBe(3);
    expect((await logNames(dir)).filter((n) => n.endsWith('.json'))).toHaveLength(1);

    // the next batch goes through; an older one (replayed after a restart) is skipped
    expect((await t.write(idRows(3, 2), { txn: { appId: 'stream-1', version: 1 } })).skipped).toBe(false);
    expect((await t.write(idRows(0, 3), { txn: { appId: 'stream-1', version: 0 } })).skipped).toBe(true);
    // another application has its own sequence
    expect((await t.write(idRows(100, 1), { txn: { appId: 'stream-2', version: 0 } })).skipped).toBe(false);
    const s = await t.snapshot();
    expect(s.txnVersion('stream-1')).toBe(1);
    expect(s.txnVersion('stream-2')).toBe(0);
    expect(s.txnVersion('nobody')).toBeUndefined();
    expect((await readRows(t, s, 'id')).map((r) => Number(r.id))).toEqual([0, 1, 2, 3, 4, 100]);
    const txn = (await commitActions(dir, 1)).find((a) => 'txn' in a)!.txn as Record<string, unknown>;
    expect(txn).toMatchObject({ appId: 'stream-1', version: 1 });
    expect(typeof txn.lastUpdated).toBe('number');
  });

  it('a batch with no rows still records its txn in a commit of its own; without a txn an empty append commits nothing', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 2), { txn: { appId: 'q', version: 0 } }); // v0
    const empty = await t.write(idRows(2, 0), { txn: { appId: 'q', version: 1 } });
    expect(empty).toEqual({ version: 1, skipped: false, numFiles: 0, numRows: 0 });
    expect((await t.snapshot()).txnVersion('q')).toBe(1);
    const actions = await commitActions(dir, 1);
    expect(actions.map((a) => Object.keys(a)[0])).toEqual(['commitInfo', 'txn']);
    expect(actions[1]!.txn).toMatchObject({ appId: 'q', version: 1 });
    // the batch replayed: skipped, no commit
    expect(await t.write(idRows(2, 0), { txn: { appId: 'q', version: 1 } })).toMatchObject({
      version: 1,
      skipped: true,
    });
    // no txn: nothing to record, no commit
    expect(await t.write(idRows(2, 0))).toEqual({ version: 1, skipped: false, numFiles: 0, numRows: 0 });
    expect((await logNames(dir)).filter((n) => n.endsWith('.json'))).toHaveLength(2);
    expect(await countRows(t)).toBe(2);
  });

  it('a streaming sink that gets an empty batch records its batch id in the table', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const sink = new DeltaSink(dir);
    const batch = (sql: string) => ({ sql, description: 'test', dispose: async () => {} });
    const ctx = (batchId: number) => ({ batchId, queryId: 'query-1', queryName: 'q', session: t.session });
    await sink.addBatch(batch(idRows(0, 3).sql), ctx(0));
    await sink.addBatch(batch(idRows(3, 0).sql), ctx(1));
    await sink.addBatch(batch(idRows(3, 0).sql), ctx(2));
    const s = await t.snapshot();
    expect(s.txnVersion('query-1')).toBe(2);
    expect(s.version).toBe(2);
    expect(await countRows(t, s)).toBe(3);
  });

  it('the txn version survives a checkpoint (a replay after 10+ commits is still skipped)', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    for (let b = 0; b < 12; b++) await t.write(idRows(b, 1), { txn: { appId: 'app', version: b } });
    expect((await t.snapshot()).txnVersion('app')).toBe(11);
    expect((await t.write(idRows(5, 1), { txn: { appId: 'app', version: 5 } })).skipped).toBe(true);
    expect(await countRows(t)).toBe(12);
  });
});

describe('per-partition txns of a group worker (txns + expectedTxns)', () => {
  it('records txns only (no txn) even with no rows, and refuses a write planned before another writer took one of its app ids', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 2), { txns: [{ appId: 'g-t-0', version: 9 }] }); // v0
    const planned = await t.snapshot();
    // nothing to add, but the partitions' txns are recorded
    const empty = await t.write(idRows(2, 0), {
      snapshot: planned,
      txns: [{ appId: 'g-t-1', version: 4 }],
      expectedTxns: [{ appId: 'g-t-1', version: undefined }],
    });
    expect(empty).toMatchObject({ version: 1, numRows: 0 });
    expect((await t.snapshot()).txnVersion('g-t-1')).toBe(4);
    // planned from v0, where g-t-1 had no txn: another worker has committed it since (v1)
    const late = await t
      .write(idRows(10, 3), {
        snapshot: planned,
        txns: [{ appId: 'g-t-1', version: 7 }],
        expectedTxns: [{ appId: 'g-t-1', version: undefined }],
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(late).toBeInstanceOf(CommitConflict);
    expect((late as CommitConflict).kind).toBe('ConcurrentTransaction');
    // an app id nobody else took goes through on the same old snapshot, beside the others' commits
    const other = await t.write(idRows(20, 1), {
      snapshot: planned,
      txns: [{ appId: 'g-t-0', version: 12 }],
      expectedTxns: [{ appId: 'g-t-0', version: 9 }],
    });
    expect(other).toMatchObject({ version: 2, numRows: 1 });
    expect((await readRows(t, await t.snapshot(), 'id')).map((r) => Number(r.id))).toEqual([0, 1, 20]);
  });
});

describe('writing on top of a given snapshot', () => {
  it('brings an old snapshot up to date first (across a checkpoint) and commits after the latest version', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 1));
    const old = await t.snapshot(); // version 0
    for (let i = 1; i < 12; i++) await t.write(idRows(i, 1)); // versions 1..11, checkpoint at 10
    const r = await t.write(idRows(100, 1), { snapshot: old });
    expect(r.version).toBe(12);
    const updated = await old.update();
    expect(updated.version).toBe(12);
    expect(updated.numRecords).toBe(13);
    expect(snapshotState(updated)).toEqual(snapshotState(await t.snapshot()));
    // from a snapshot just behind the latest: only the new commits are replayed
    const s11 = await t.snapshot({ version: 11 });
    expect(snapshotState(await s11.update())).toEqual(snapshotState(await t.snapshot()));
    const latest = await t.snapshot();
    expect(await latest.update()).toBe(latest);
  });
});

describe('a write in parts (DataSource.parts)', () => {
  it('writes each part in files of its own, at the same time, in one commit of all their rows', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const parts = [idRows(0, 400).sql, idRows(400, 300).sql, idRows(700, 300).sql];
    const r = await t.write({ sql: idRows(0, 1000).sql, parts }, { txn: { appId: 'q', version: 0 } });
    expect(r).toMatchObject({ version: 0, numFiles: 3, numRows: 1000 });
    const ids = (await readRows(t, await t.snapshot(), 'id')).map((x) => Number(x.id));
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // each file holds one part (in the parts' order), with its own statistics
    const adds = (await commitActions(dir, 0))
      .filter((a) => 'add' in a)
      .map((a) => a.add as { path: string; stats: string });
    expect(
      adds
        .map((a) => JSON.parse(a.stats) as { numRecords: number; minValues: { id: number } })
        .map((s) => [s.numRecords, s.minValues.id]),
    ).toEqual([
      [400, 0],
      [300, 400],
      [300, 700],
    ]);
  });

  it('a part that fails fails the write after every part has ended: nothing committed, no file left', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 1));
    const failing = `SELECT CASE WHEN i = 5 THEN error('part 2 broke') ELSE i END::BIGINT AS id, 'v' AS v FROM range(10) t(i)`;
    const err = await rejection(t.write({ sql: idRows(0, 1).sql, parts: [idRows(0, 50_000).sql, failing] }));
    expect(err.message).toContain('part 2 broke');
    expect((await t.snapshot()).version).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
  });
});

describe('table locations', () => {
  it('reads and writes a table whose directory name has quotes, spaces, non-ASCII and glob characters', async () => {
    for (const name of ["it's a täble", 'br[ack]ets', 'star*q?']) {
      const t = await DeltaTable.forPath(dirs.make(name));
      for (let i = 0; i < 11; i++) await t.write(idRows(i, 1)); // includes a checkpoint at 10
      expect(await countRows(t)).toBe(11);
      expect((await t.optimize()).numFilesAdded).toBe(1);
      expect((await readRows(t, undefined, 'id')).map((r) => Number(r.id))).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ]);
    }
  });
});

describe('table rules', () => {
  it('an append-only table accepts appends and refuses an overwrite (nothing is committed)', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 2), { properties: { 'delta.appendOnly': 'true' } });
    await t.write(idRows(2, 2));
    const err = await rejection(t.write(idRows(9, 1), { mode: 'overwrite' }));
    expect(err).toBeInstanceOf(ProtocolViolation);
    expect(err.message).toMatch(/append-only/);
    expect((await t.snapshot()).version).toBe(1);
    expect(await countRows(t)).toBe(4);
  });

  it('refuses NULL in a NOT NULL column, and data that lacks the column, without committing', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    const schema: StructType = {
      type: 'struct',
      fields: [field('id', 'long', false), field('text', 'string')],
    };
    await t.create(schema);
    await t.write({ rows: [{ id: 1, text: 'a' }] });
    const err = await rejection(
      t.write({ sql: `SELECT * FROM (VALUES (2::BIGINT, 'b'), (NULL, 'c')) x(id, text)` }),
    );
    expect(err).toBeInstanceOf(ProtocolViolation);
    expect(err.message).toMatch(/NOT NULL constraint violated: column 'id' has 1 null/);
    const missing = await rejection(t.write({ sql: `SELECT 'd' AS text` }));
    expect(missing).toBeInstanceOf(ProtocolViolation);
    expect(missing.message).toMatch(/NOT NULL column 'id' is missing/);
    expect((await t.snapshot()).version).toBe(1);
    expect(await countRows(t)).toBe(1);
    // a nullable column may be missing: it is written as NULL
    await t.write({ sql: 'SELECT 3::BIGINT AS id' });
    expect((await readRows(t, undefined, 'id')).map((r) => r.text)).toEqual(['a', null]);
  });

  it('refuses new columns unless mergeSchema, and incompatible types', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 1));
    expect(await rejection(t.write({ sql: `SELECT 1::BIGINT AS id, 'x' AS v, 2 AS extra` }))).toBeInstanceOf(
      SchemaMismatch,
    );
    expect(await rejection(t.write({ sql: `SELECT 'abc' AS id` }))).toBeInstanceOf(SchemaMismatch);
    await t.write({ sql: `SELECT 1::INTEGER AS id, 'y' AS v, 2.5::DOUBLE AS extra` }, { mergeSchema: true });
    const s = await t.snapshot();
    expect(s.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual([
      'id:long',
      'v:string',
      'extra:double',
    ]);
    expect((await readRows(t, s, 'id')).map((r) => r.extra)).toEqual([null, 2.5]);
  });

  it('mode ignore skips an existing table; overwrite replaces the rows; overwriteSchema replaces the schema', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 3));
    expect((await t.write(idRows(10, 3), { mode: 'ignore' })).skipped).toBe(true);
    await t.write(idRows(10, 2), { mode: 'overwrite' });
    expect((await readRows(t, undefined, 'id')).map((r) => Number(r.id))).toEqual([10, 11]);
    await t.write({ sql: `SELECT 'only' AS word` }, { mode: 'overwrite', overwriteSchema: true });
    const s = await t.snapshot();
    expect(s.schema.fields.map((f) => f.name)).toEqual(['word']);
    expect(await readRows(t, s)).toEqual([{ word: 'only' }]);
    // the old version still reads with its own schema
    expect((await readRows(t, await t.snapshot({ version: 1 }), 'id')).map((r) => Number(r.id))).toEqual([
      10, 11,
    ]);
  });

  it('an empty append commits nothing and reports the current version; an empty overwrite empties the table', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.write(idRows(0, 2));
    const r = await t.write({ sql: idRows(0, 2).sql + ' WHERE false' });
    expect(r).toEqual({ version: 0, skipped: false, numFiles: 0, numRows: 0 });
    expect((await logNames(dir)).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    const o = await t.write({ sql: idRows(0, 2).sql + ' WHERE false' }, { mode: 'overwrite' });
    expect(o).toMatchObject({ version: 1, numFiles: 0 });
    expect((await t.snapshot()).numFiles).toBe(0);
    expect(await countRows(t)).toBe(0);
  });
});
