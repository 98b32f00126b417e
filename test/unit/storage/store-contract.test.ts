import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalObjectStore, MemoryObjectStore, StoreIOError } from '../../../src/storage/index.js';
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
    for (const listing of [store.list('loop/'), store.listFrom('loop', 'loop/')]) {
      const err = await listing.then(
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
