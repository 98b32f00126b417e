/**
 * The MLflow file store, the file model registry and the lakehouse's `_state` over an object store:
 * the same cases on a store in memory (no folders, no local paths: as S3) and on a local folder.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { DOWNLOAD_CHUNK } from '../../../src/storage/download.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { MemoryObjectStore } from '../../../src/storage/memory-store.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { tempDirs } from '../../helpers/delta.js';
import { mlflowStoreCases, treeDigest, writeModelFolder } from '../../helpers/mlflow-store-cases.js';

const dirs = tempDirs('tweetlake-mlflow-stores-');
afterAll(() => dirs.cleanup());

const backends: Record<string, () => ObjectStore> = {
  memory: () => new MemoryObjectStore(),
  local: () => new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')),
};

for (const [backend, make] of Object.entries(backends)) {
  describe(`MLflow file store, registry and state on a ${backend} store`, () => {
    for (const [name, run] of Object.entries(mlflowStoreCases)) it(name, () => run(make(), dirs.make()));
  });
}

/** A memory store that records the whole-object reads and the largest range read. */
class CountingStore extends MemoryObjectStore {
  readonly wholeReads: string[] = [];
  largestRange = 0;

  override async get(path: string): Promise<Uint8Array> {
    this.wholeReads.push(path);
    return super.get(path);
  }

  override async getRange(path: string, start: number, length: number): Promise<Uint8Array> {
    this.largestRange = Math.max(this.largestRange, length);
    return super.getRange(path, start, length);
  }
}

describe('a registered version on a remote store, loaded for inference', () => {
  it('streams a big model file down in ranges (never whole), once, into a cache folder it then reuses', async () => {
    const store = new CountingStore();
    const registry = new FileModelRegistry(store);
    const src = await writeModelFolder(nodePath.join(dirs.make(), 'src'), 'big', DOWNLOAD_CHUNK + 12_345);
    const v = await registry.createVersion('big', src);
    const cache = dirs.make();
    const local = await registry.localModelDir(v, cache);
    expect(await treeDigest(local)).toEqual(await treeDigest(src));
    expect(store.wholeReads.filter((p) => p.includes('/artifacts/'))).toEqual([]);
    expect(store.largestRange).toBe(DOWNLOAD_CHUNK);
    const stamp = (await fs.stat(nodePath.join(local, 'model', 'onnx', 'model.onnx'))).mtimeMs;
    expect(await registry.localModelDir(v, cache)).toBe(local);
    expect((await fs.stat(nodePath.join(local, 'model', 'onnx', 'model.onnx'))).mtimeMs).toBe(stamp);
    // a copy that no longer matches (a file cut short) is downloaded again
    await fs.truncate(nodePath.join(local, 'model', 'onnx', 'model.onnx'), 10);
    expect(await treeDigest(await registry.localModelDir(v, cache))).toEqual(await treeDigest(src));
  });
});
