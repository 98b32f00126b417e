import { afterAll, describe, expect, it } from 'vitest';
import {
  CommitConflict,
  DeltaTable,
  TableAlreadyExists,
  Transaction,
  type AddFile,
  type Snapshot,
} from '../../../src/delta/index.js';
import { serializeSchema, field, type StructType } from '../../../src/delta/schema.js';
import { writeDataFiles } from '../../../src/delta/writer.js';
import { commitActions, idRows, readRows, rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-txn-');
afterAll(() => dirs.cleanup());

const SCHEMA: StructType = { type: 'struct', fields: [field('id', 'long'), field('v', 'string')] };

/** A table with two commits of 2 rows each (ids 0,1 and 10,11), and its snapshot. */
async function table(): Promise<{ t: DeltaTable; dir: string; s: Snapshot }> {
  const dir = dirs.make();
  const t = await DeltaTable.forPath(dir);
  await t.write(idRows(0, 2));
  await t.write(idRows(10, 2));
  return { t, dir, s: await t.snapshot() };
}

/** Uncommitted data files with rows id = start..start+n-1. */
function files(t: DeltaTable, start: number, n: number): Promise<AddFile[]> {
  return writeDataFiles(t, idRows(start, n).sql, { schema: SCHEMA, partitionColumns: [], dataChange: true });
}

const ids = async (t: DeltaTable) => (await readRows(t, undefined, 'id')).map((r) => Number(r.id));

/** An OPTIMIZE of the table of table() as read at `s`: its files rewritten as one, not yet committed. */
async function compactAll(t: DeltaTable, s: Snapshot): Promise<Transaction> {
  const rows = `SELECT * FROM (VALUES (0::BIGINT, 'v0'), (1, 'v1'), (10, 'v10'), (11, 'v11')) x(id, v)`;
  return new Transaction(t, s, { operation: 'OPTIMIZE' })
    .markFilesRead(s.files)
    .removeFiles(s.files, false)
    .addFiles(await writeDataFiles(t, rows, { schema: SCHEMA, partitionColumns: [], dataChange: false }));
}

async function conflict(p: Promise<unknown>): Promise<CommitConflict> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(CommitConflict);
  expect(err.code).toBe('DELTA_COMMIT_CONFLICT');
  return err as unknown as CommitConflict;
}

describe('optimistic concurrency', () => {
  it('two blind appends that read the same snapshot both commit, at consecutive versions', async () => {
    const { t, s } = await table();
    const a = new Transaction(t, s, { operation: 'WRITE' }).addFiles(await files(t, 100, 1));
    const b = new Transaction(t, s, { operation: 'WRITE' }).addFiles(await files(t, 200, 1));
    expect(a.isBlindAppend).toBe(true);
    const [ra, rb] = await Promise.all([a.commit(), b.commit()]);
    expect([ra.version, rb.version].sort()).toEqual([2, 3]);
    expect(ra.retries + rb.retries).toBe(1);
    expect(await ids(t)).toEqual([0, 1, 10, 11, 100, 200]);
    // the rebased commit still records the version it read
    const rebased = ra.retries ? ra.version : rb.version;
    const info = (await commitActions(t.location, rebased)).find((x) => 'commitInfo' in x)!
      .commitInfo as Record<string, unknown>;
    expect(info.readVersion).toBe(1);
    expect(info.isBlindAppend).toBe(true);
  });

  it('an overwrite loses to a concurrent non-blind append: ConcurrentAppend, and nothing of it is committed', async () => {
    const { t, s } = await table();
    const overwrite = new Transaction(t, s, { operation: 'WRITE' })
      .markReadWholeTable()
      .removeFiles(s.files, true)
      .addFiles(await files(t, 500, 1));
    // winner: reads a file of the table and appends (e.g. INSERT INTO t SELECT ... FROM t)
    const winner = new Transaction(t, s, { operation: 'WRITE' })
      .markFilesRead([s.files[0]!])
      .addFiles(await files(t, 300, 1));
    expect(winner.isBlindAppend).toBe(false);
    expect((await winner.commit()).version).toBe(2);
    const err = await conflict(overwrite.commit());
    expect(err.kind).toBe('ConcurrentAppend');
    expect(err.attemptedVersion).toBe(2);
    expect((await t.snapshot()).version).toBe(2);
    expect(await ids(t)).toEqual([0, 1, 10, 11, 300]);
  });

  it('an overwrite does not conflict with a concurrent blind append (WriteSerializable), whose rows survive', async () => {
    const { t, s } = await table();
    const overwrite = new Transaction(t, s, { operation: 'WRITE' })
      .markReadWholeTable()
      .removeFiles(s.files, true)
      .addFiles(await files(t, 500, 1));
    await new Transaction(t, s, { operation: 'WRITE' }).addFiles(await files(t, 300, 1)).commit();
    expect((await overwrite.commit()).version).toBe(3);
    expect(await ids(t)).toEqual([300, 500]);
  });

  it('an overwrite loses to a concurrent delete of data it read: ConcurrentDeleteRead', async () => {
    const { t, s } = await table();
    const overwrite = new Transaction(t, s, { operation: 'WRITE' })
      .markReadWholeTable()
      .removeFiles(s.files, true)
      .addFiles(await files(t, 500, 1));
    const del = new Transaction(t, s, { operation: 'DELETE' }).removeFiles([s.files[1]!], true);
    await del.commit();
    const err = await conflict(overwrite.commit());
    expect(err.kind).toBe('ConcurrentDeleteRead');
    expect(await ids(t)).toHaveLength(2);
  });

  it('a blind append loses to a concurrent metadata change: MetadataChanged', async () => {
    const { t, s } = await table();
    const append = new Transaction(t, s, { operation: 'WRITE' }).addFiles(await files(t, 100, 1));
    await new Transaction(t, s, { operation: 'SET TBLPROPERTIES' })
      .updateMetadata({ ...s.metadata, configuration: { 'delta.checkpointInterval': '5' } })
      .commit();
    const err = await conflict(append.commit());
    expect(err.kind).toBe('MetadataChanged');
    expect(err.message).toMatch(/MetadataChanged: commit for version 2 conflicts with version 2/);
    // a schema change committed by a write with mergeSchema conflicts the same way
    const s2 = await t.snapshot();
    const append2 = new Transaction(t, s2, { operation: 'WRITE' }).addFiles(await files(t, 101, 1));
    await t.write({ sql: `SELECT 7::BIGINT AS id, 'x' AS v, 1.5 AS extra` }, { mergeSchema: true });
    expect((await conflict(append2.commit())).kind).toBe('MetadataChanged');
  });

  it('two commits of the same streaming application (txn appId) conflict: ConcurrentTransaction', async () => {
    const { t, s } = await table();
    const a = new Transaction(t, s, { operation: 'STREAMING UPDATE' })
      .setTransaction('app-1', 5)
      .addFiles(await files(t, 100, 1));
    const b = new Transaction(t, s, { operation: 'STREAMING UPDATE' })
      .setTransaction('app-1', 5)
      .addFiles(await files(t, 100, 1));
    const other = new Transaction(t, s, { operation: 'STREAMING UPDATE' })
      .setTransaction('app-2', 1)
      .addFiles(await files(t, 900, 1));
    await a.commit();
    expect((await conflict(b.commit())).kind).toBe('ConcurrentTransaction');
    // a different application is not affected
    expect((await other.commit()).version).toBe(3);
    expect((await t.snapshot()).txnVersion('app-1')).toBe(5);
    expect(await ids(t)).toEqual([0, 1, 10, 11, 100, 900]);
  });

  it('OPTIMIZE loses when a file it compacts was removed concurrently: ConcurrentDeleteRead', async () => {
    const { t, s } = await table();
    const optimize = await compactAll(t, s);
    await new Transaction(t, s, { operation: 'DELETE' }).removeFiles([s.files[0]!], true).commit();
    const err = await conflict(optimize.commit());
    expect(err.kind).toBe('ConcurrentDeleteRead');
    // the deleted rows stay deleted: OPTIMIZE did not resurrect them
    expect((await ids(t)).length).toBe(2);
  });

  it('OPTIMIZE commits over a concurrent blind append, and both changes are kept', async () => {
    const { t, s } = await table();
    await t.write(idRows(20, 1)); // version 2, concurrent with the OPTIMIZE below that read version 1
    const optimize = await compactAll(t, s);
    expect((await optimize.commit()).version).toBe(3);
    expect(await ids(t)).toEqual([0, 1, 10, 11, 20]);
    expect((await t.snapshot()).numFiles).toBe(2);
  });

  it('creating a table that another writer created first fails with TableAlreadyExists', async () => {
    const dir = dirs.make();
    const a = await DeltaTable.forPath(dir);
    const results = await Promise.allSettled([a.create(SCHEMA), a.create(SCHEMA), a.create(SCHEMA)]);
    expect(
      results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value),
    ).toEqual([0]);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TableAlreadyExists);
    // and later, sequentially
    expect(await rejection(a.create(SCHEMA))).toBeInstanceOf(TableAlreadyExists);
    expect((await a.snapshot()).version).toBe(0);
    // errorIfExists writes refuse too
    expect(await rejection(a.write(idRows(0, 1), { mode: 'errorIfExists' }))).toBeInstanceOf(
      TableAlreadyExists,
    );
  });

  it('a protocol change by a concurrent commit conflicts: ProtocolChanged', async () => {
    const { t, s } = await table();
    const append = new Transaction(t, s, { operation: 'WRITE' }).addFiles(await files(t, 100, 1));
    await new Transaction(t, s, { operation: 'UPGRADE PROTOCOL' })
      .updateProtocol({ minReaderVersion: 1, minWriterVersion: 3 })
      .commit();
    expect((await conflict(append.commit())).kind).toBe('ProtocolChanged');
  });

  it('two commits of the same metadata domain conflict: ConcurrentDomainMetadata', async () => {
    const { t, s } = await table();
    await new Transaction(t, s, { operation: 'SET DOMAIN' })
      .setDomainMetadata('app.domain', '{"v":1}')
      .commit();
    const late = new Transaction(t, s, { operation: 'SET DOMAIN' }).setDomainMetadata(
      'app.domain',
      '{"v":2}',
    );
    expect((await conflict(late.commit())).kind).toBe('ConcurrentDomainMetadata');
    const other = new Transaction(t, s, { operation: 'SET DOMAIN' }).setDomainMetadata('other.domain', '{}');
    expect((await other.commit()).version).toBe(3);
    const snap = await t.snapshot();
    expect(snap.domainMetadata.get('app.domain')?.configuration).toBe('{"v":1}');
    // removing a domain
    await new Transaction(t, snap, { operation: 'SET DOMAIN' })
      .setDomainMetadata('app.domain', '', true)
      .commit();
    expect([...(await t.snapshot()).domainMetadata.keys()]).toEqual(['other.domain']);
  });

  it('gives up with TooManyRetries (retryable) after maxRetries lost races', async () => {
    const { t, s } = await table();
    const late = new Transaction(t, s, { operation: 'WRITE', maxRetries: 0 }).addFiles(
      await files(t, 100, 1),
    );
    await t.write(idRows(30, 1));
    const err = await conflict(late.commit());
    expect(err.kind).toBe('TooManyRetries');
    expect(err.retryable).toBe(true);
  });

  it('a writer several versions behind checks them all and catches up in one retry', async () => {
    const { t, s } = await table();
    const late = new Transaction(t, s, { operation: 'WRITE' }).addFiles(await files(t, 100, 1));
    for (const id of [30, 31, 32]) await t.write(idRows(id, 1)); // versions 2, 3, 4
    const result = await late.commit();
    expect(result).toEqual({ version: 5, retries: 1 });
    // and each of them was checked: a concurrent delete among them still fails an overwrite
    const s2 = await t.snapshot();
    const overwrite = new Transaction(t, s2, { operation: 'WRITE' })
      .markReadWholeTable()
      .removeFiles(s2.files, true)
      .addFiles(await files(t, 500, 1));
    await t.write(idRows(40, 1));
    await new Transaction(t, await t.snapshot(), { operation: 'DELETE' })
      .removeFiles([s2.files[0]!], true)
      .commit();
    await t.write(idRows(41, 1));
    expect((await conflict(overwrite.commit())).kind).toBe('ConcurrentDeleteRead');
  });

  it('a created table records protocol 1/2, the schema and CREATE TABLE in version 0', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    await t.create(SCHEMA, { partitionBy: ['v'], properties: { 'delta.appendOnly': 'true' } });
    const actions = await commitActions(dir, 0);
    expect(actions.map((a) => Object.keys(a)[0])).toEqual(['commitInfo', 'protocol', 'metaData']);
    expect(actions[1]!.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    const meta = actions[2]!.metaData as Record<string, unknown>;
    expect(meta.schemaString).toBe(serializeSchema(SCHEMA));
    expect(meta.partitionColumns).toEqual(['v']);
    expect((actions[0]!.commitInfo as Record<string, unknown>).operation).toBe('CREATE TABLE');
  });
});
