import { existsSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DownloadCache,
  LocalObjectStore,
  MemoryObjectStore,
  StoreIOError,
} from '../../../src/storage/index.js';
import { tempDirs } from '../../helpers/delta.js';
import { storeContract } from '../../helpers/store-contract.js';

const dirs = tempDirs('tweetlake-contract-store-');
afterAll(() => dirs.cleanup());

storeContract('LocalObjectStore', () => new LocalObjectStore(dirs.make()));
storeContract('MemoryObjectStore', () => new MemoryObjectStore());

describe('LocalObjectStore failures', () => {
  it('a folder that cannot be listed is a typed StoreIOError, not an empty listing', async () => {
    // A symbolic link to itself: reading it fails with ELOOP (a failure root cannot bypass, as it can EACCES).
    const store = new LocalObjectStore(dirs.make());
    await store.put('keep', 'x');
    await fs.symlink('loop', nodePath.join(store.root, 'loop'));
    for (const listing of [() => store.list('loop/'), () => store.listFrom('loop', 'loop/')]) {
      const err = await listing().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreIOError);
      expect((err as StoreIOError).osCode).toBe('ELOOP');
    }
    await expect(store.get('loop')).rejects.toBeInstanceOf(StoreIOError);
  });

  it('a folder where an object should be is a StoreIOError saying so', async () => {
    const store = new LocalObjectStore(dirs.make());
    await store.put('dir/inner', 'x');
    const err = await store.get('dir').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreIOError);
    expect((err as StoreIOError).isFolder).toBe(true);
  });
});

describe('DownloadCache (how DuckDB reads a store without local files)', () => {
  it('downloads objects in ranges and keeps at most maxBytes of files no scan holds', async () => {
    const store = new MemoryObjectStore();
    const big = 'x'.repeat(20_000_000); // more than one download chunk
    await store.put('a', big);
    await store.put('b', 'bbbb');
    const cache = new DownloadCache(store, 10);
    const a = await cache.open(['a']);
    expect((await fs.stat(a.files[0]!)).size).toBe(big.length);
    const b = await cache.open(['b']);
    // both are held open: nothing is evicted, whatever the bound
    expect(existsSync(a.files[0]!)).toBe(true);
    await a.release();
    expect(existsSync(a.files[0]!)).toBe(false); // over the bound and no longer held: evicted
    expect(await fs.readFile(b.files[0]!, 'utf8')).toBe('bbbb');
    await b.release();
    expect(existsSync(b.files[0]!)).toBe(true); // within the bound: kept for the next scan
    const again = await cache.open(['b']);
    expect(again.files[0]).toBe(b.files[0]);
    await again.release();
  });
});
