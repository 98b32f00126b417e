/**
 * The ObjectStore contract as test cases, run against every store (local, memory, and any other that
 * imports them, such as S3): `storeContract(name, makeStore)` defines one describe block.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localFilesOf } from '../../src/storage/local-files.js';
import { ObjectExists, ObjectNotFound, type ObjectStore } from '../../src/storage/object-store.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The cases, each a function of a fresh, empty store (for callers that run them their own way). */
export const storeContractCases: Record<string, (store: ObjectStore, scratch: string) => Promise<void>> = {
  'lists recursively below a prefix, in byte order, files only': async (store) => {
    for (const p of ['log/b.json', 'log/a.json', 'log/B.json', 'log/sub/z.json', 'log/é.json', 'logx', 'o/x'])
      await store.put(p, p);
    expect((await store.list('log/')).map((m) => m.path)).toEqual([
      'log/B.json',
      'log/a.json',
      'log/b.json',
      'log/sub/z.json',
      'log/é.json',
    ]);
    expect((await store.list('log/b')).map((m) => m.path)).toEqual(['log/b.json']);
    expect((await store.list('log')).map((m) => m.path)).toContain('logx');
    expect(await store.list('missing/')).toEqual([]);
    const meta = (await store.list('log/a'))[0]!;
    expect(meta.size).toBe('log/a.json'.length);
    expect(meta.lastModified).toBeGreaterThan(0);
  },
  'list with a start key lists recursively after it (S3 start-after), sorted': async (store) => {
    for (const p of ['src/a.json', 'src/b/1.json', 'src/b/2.json', 'src/c.json', 'src/B.json', 'srcx'])
      await store.put(p, p);
    expect((await store.list('src/', 'src/b/1.json')).map((m) => m.path)).toEqual([
      'src/b/2.json',
      'src/c.json',
    ]);
    expect((await store.list('src/', 'src/B.json')).map((m) => m.path)).toEqual([
      'src/a.json',
      'src/b/1.json',
      'src/b/2.json',
      'src/c.json',
    ]);
    expect(await store.list('src/', 'src/c.json')).toEqual([]);
    expect((await store.list('', 'src/c.json')).map((m) => m.path)).toEqual(['srcx']);
  },
  'listFrom lists one folder after a start key, sorted': async (store) => {
    for (const v of [3, 1, 12, 2, 10]) await store.put(`d/${String(v).padStart(4, '0')}.json`, 'x');
    await store.put('d/sub/0005.json', 'x');
    expect((await store.listFrom('d', 'd/0002.json')).map((m) => m.path)).toEqual([
      'd/0003.json',
      'd/0010.json',
      'd/0012.json',
    ]);
    expect(await store.listFrom('nothing', 'nothing/0')).toEqual([]);
  },
  'get, getRange (short at the end) and head of an object; a missing one is ObjectNotFound / undefined':
    async (store) => {
      await store.put('a/b', '0123456789');
      expect(text(await store.get('a/b'))).toBe('0123456789');
      expect(text(await store.getRange('a/b', 2, 3))).toBe('234');
      expect(text(await store.getRange('a/b', 8, 10))).toBe('89');
      expect((await store.head('a/b'))?.size).toBe(10);
      await expect(store.get('a/missing')).rejects.toBeInstanceOf(ObjectNotFound);
      await expect(store.getRange('a/missing', 0, 1)).rejects.toBeInstanceOf(ObjectNotFound);
      expect(await store.head('a/missing')).toBeUndefined();
    },
  'put replaces; putIfAbsent creates once, then ObjectExists leaves the original': async (store) => {
    await store.put('k', 'one');
    await store.put('k', 'two');
    expect(text(await store.get('k'))).toBe('two');
    await store.putIfAbsent('n', 'first');
    await expect(store.putIfAbsent('n', 'second')).rejects.toBeInstanceOf(ObjectExists);
    expect(text(await store.get('n'))).toBe('first');
  },
  'putIfAbsent has exactly one winner among concurrent writers': async (store) => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.putIfAbsent('race', `writer ${i}`)),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExists);
    expect(text(await store.get('race'))).toMatch(/^writer \d$/);
  },
  'putFile and putFileIfAbsent upload local files; putFileIfAbsent keeps its source': async (
    store,
    scratch,
  ) => {
    const a = nodePath.join(scratch, 'a.bin');
    await fs.writeFile(a, 'alpha');
    await store.putFileIfAbsent('f/a', a);
    expect(text(await store.get('f/a'))).toBe('alpha');
    expect(await fs.readFile(a, 'utf8')).toBe('alpha');
    await expect(store.putFileIfAbsent('f/a', a)).rejects.toBeInstanceOf(ObjectExists);
    const b = nodePath.join(scratch, 'b.bin');
    await fs.writeFile(b, 'beta');
    await store.putFile('f/a', b);
    expect(text(await store.get('f/a'))).toBe('beta');
  },
  'delete is idempotent and removes the object from listings': async (store) => {
    await store.put('x/1', '1');
    await store.delete('x/1');
    await store.delete('x/1');
    expect(await store.head('x/1')).toBeUndefined();
    expect(await store.list('x/')).toEqual([]);
  },
  'localFilesOf opens objects as local files DuckDB can read, and stages files to upload': async (store) => {
    await store.put('data/p.txt', 'payload');
    const opened = await localFilesOf(store).open(['data/p.txt']);
    try {
      expect(await fs.readFile(opened.files[0]!, 'utf8')).toBe('payload');
    } finally {
      await opened.release();
    }
    const staging = await localFilesOf(store).staging();
    try {
      const out = await staging.create('x.json');
      await out.write('{"a":1}\n');
      await out.close();
      await store.putFile('data/x.json', out.path);
      expect(text(await store.get('data/x.json'))).toBe('{"a":1}\n');
    } finally {
      await staging.dispose();
    }
  },
};

/** Defines the contract's tests for the stores `makeStore` returns (a fresh, empty one per test). */
export function storeContract(name: string, makeStore: () => Promise<ObjectStore> | ObjectStore): void {
  describe(`ObjectStore contract: ${name}`, () => {
    const scratch: string[] = [];
    afterAll(async () => {
      for (const d of scratch) await fs.rm(d, { recursive: true, force: true });
    });
    for (const [title, run] of Object.entries(storeContractCases)) {
      it(title, async () => {
        const dir = await fs.mkdtemp(nodePath.join(tmpdir(), 'tweetlake-contract-'));
        scratch.push(dir);
        await run(await makeStore(), dir);
      });
    }
  });
}
