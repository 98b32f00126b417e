import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable, LogReader } from '../../../src/delta/index.js';
import { commitPath } from '../../../src/delta/log-files.js';
import { sharedSession } from '../../../src/duck/session.js';
import { LocalObjectStore, StoreIOError } from '../../../src/storage/index.js';
import { tempDirs } from '../../helpers/delta.js';
import { HookedStore } from '../../helpers/hooked-store.js';

const dirs = tempDirs('tweetlake-log-reader-');
afterAll(() => dirs.cleanup());

/** A store over `dir` that counts the `get`s of each commit file. */
function countingStore(dir: string): { store: HookedStore; gets: Map<string, number> } {
  const gets = new Map<string, number>();
  const store = new HookedStore(new LocalObjectStore(dir), (op, path) => {
    if (op === 'get' && path.endsWith('.json')) gets.set(path, (gets.get(path) ?? 0) + 1);
  });
  return { store, gets };
}

async function tableWithCommits(dir: string, n: number): Promise<void> {
  const table = await DeltaTable.forPath(dir, await sharedSession());
  for (let i = 0; i < n; i++) await table.write({ sql: `SELECT ${i} AS id` });
}

describe('LogReader', () => {
  it('parses each commit once and answers again from its cache', async () => {
    const dir = dirs.make();
    await tableWithCommits(dir, 4);
    const { store, gets } = countingStore(dir);
    const reader = new LogReader(store);
    for (let round = 0; round < 3; round++) {
      const versions = [];
      for await (const c of reader.commitRange(1, 3)) versions.push(c.version);
      expect(versions).toEqual([1, 2, 3]);
      expect((await reader.readCommit(0))?.actions.some((a) => 'metaData' in a)).toBe(true);
    }
    for (const v of [0, 1, 2, 3]) expect(gets.get(commitPath(v))).toBe(1);
    expect(await reader.readCommit(99)).toBeUndefined();
  });

  it('is bounded by bytes: the least recently used commits are read again', async () => {
    const dir = dirs.make();
    await tableWithCommits(dir, 3);
    const { store, gets } = countingStore(dir);
    const sizes = await Promise.all([0, 1, 2].map(async (v) => (await store.head(commitPath(v)))!.size));
    // room for commits 1 and 2, not for 0 as well
    const reader = new LogReader(store, sizes[1]! + sizes[2]! + 1);
    for (const v of [0, 1, 2]) await reader.readCommit(v);
    for (const v of [1, 2]) await reader.readCommit(v);
    expect([0, 1, 2].map((v) => gets.get(commitPath(v)))).toEqual([1, 1, 1]);
    await reader.readCommit(0); // evicted: read again
    expect(gets.get(commitPath(0))).toBe(2);
  });

  it('never answers from the cache for a table deleted and created again in the same place', async () => {
    const dir = dirs.make();
    await tableWithCommits(dir, 2);
    const store = new LocalObjectStore(dir);
    const reader = new LogReader(store);
    const before = await reader.readCommit(1);
    await fs.rm(nodePath.join(dir, '_delta_log'), { recursive: true });
    const again = await DeltaTable.forPath(dir, await sharedSession());
    await again.write({ sql: `SELECT 'a much longer value than before' AS other` });
    await again.write({ sql: `SELECT 'a much longer value than before' AS other` });
    const after = await reader.readCommit(1);
    expect(JSON.stringify(after?.actions)).not.toBe(JSON.stringify(before?.actions));
    expect(after?.actions.find((a) => 'add' in a)).toBeDefined();
  });
});

describe('only a missing log file is absent', () => {
  it('a _last_checkpoint the store cannot read fails the read instead of being ignored', async () => {
    const dir = dirs.make();
    await tableWithCommits(dir, 2);
    const table = await DeltaTable.forPath(dir, await sharedSession());
    await table.checkpoint();
    const denied = new HookedStore(new LocalObjectStore(dir), (op, path) => {
      if (op === 'get' && path === '_delta_log/_last_checkpoint')
        throw new StoreIOError('reading', path, 'EACCES', new Error('EACCES: permission denied'));
    });
    const err = await new DeltaTable(denied, table.session).snapshot().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreIOError);
    expect((err as StoreIOError).accessDenied).toBe(true);
    // a damaged hint is no hint, as in Spark
    await fs.writeFile(nodePath.join(dir, '_delta_log', '_last_checkpoint'), '{"vers');
    expect((await (await DeltaTable.forPath(dir, table.session)).snapshot()).version).toBe(1);
  });
});
