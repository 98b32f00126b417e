import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LocalObjectStore,
  ObjectExists,
  ObjectNotFound,
  compareBytes,
  listLocalFiles,
} from '../../../src/storage/index.js';
import { rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-store-');
afterAll(() => dirs.cleanup());

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('LocalObjectStore', () => {
  it('lists files recursively below a prefix, sorted by byte order, without temp files or directories', async () => {
    const store = new LocalObjectStore(dirs.make());
    // Written out of order, with names whose locale order differs from byte order ('B' < 'a' < 'é').
    for (const p of [
      'log/b.json',
      'log/a.json',
      'log/B.json',
      'log/sub/z.json',
      'log/é.json',
      'other/x',
      'logx',
    ]) {
      await store.put(p, p);
    }
    await fs.writeFile(nodePath.join(store.root, 'log', '.a.json.1234.tmp'), 'partial');
    await fs.mkdir(nodePath.join(store.root, 'log', 'emptydir'));
    const listed = (await store.list('log/')).map((m) => m.path);
    expect(listed).toEqual(['log/B.json', 'log/a.json', 'log/b.json', 'log/sub/z.json', 'log/é.json']);
    // a prefix that is not a whole directory name filters by the full prefix
    expect((await store.list('log/b')).map((m) => m.path)).toEqual(['log/b.json']);
    expect((await store.list('log')).map((m) => m.path)).toContain('logx');
    expect(await store.list('missing/')).toEqual([]);
    const meta = (await store.list('log/a'))[0]!;
    expect(meta.size).toBe('log/a.json'.length);
    expect(meta.lastModified).toBeGreaterThan(0);
  });

  it('listFrom lists one directory after a start key, sorted, skipping temp files', async () => {
    const store = new LocalObjectStore(dirs.make());
    for (const v of [3, 1, 12, 2, 10]) await store.put(`d/${String(v).padStart(4, '0')}.json`, 'x');
    await store.put('d/sub/0005.json', 'x');
    await fs.writeFile(nodePath.join(store.root, 'd', '.0011.json.abc.tmp'), 'x');
    expect((await store.listFrom('d', 'd/0002.json')).map((m) => m.path)).toEqual([
      'd/0003.json',
      'd/0010.json',
      'd/0012.json',
    ]);
    expect(await store.listFrom('nothing', 'nothing/0')).toEqual([]);
  });

  it('putIfAbsent creates once, then throws ObjectExists and leaves the original intact', async () => {
    const store = new LocalObjectStore(dirs.make());
    await store.putIfAbsent('a/b/c.json', 'first');
    const err = await rejection(store.putIfAbsent('a/b/c.json', 'second, longer content'));
    expect(err).toBeInstanceOf(ObjectExists);
    expect(err.code).toBe('OBJECT_EXISTS');
    expect(text(await store.get('a/b/c.json'))).toBe('first');
    // no temp file is left behind by either call
    expect(await fs.readdir(nodePath.join(store.root, 'a', 'b'))).toEqual(['c.json']);
  });

  it('putFileIfAbsent copies a local file in once, then throws ObjectExists; the source stays; a missing source fails cleanly', async () => {
    const store = new LocalObjectStore(dirs.make());
    const source = nodePath.join(dirs.make(), 'staged.parquet');
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    await fs.writeFile(source, bytes);
    await store.putFileIfAbsent('_delta_log/x.checkpoint.parquet', source);
    expect(Buffer.compare(Buffer.from(await store.get('_delta_log/x.checkpoint.parquet')), bytes)).toBe(0);
    await fs.writeFile(source, 'other');
    const err = await rejection(store.putFileIfAbsent('_delta_log/x.checkpoint.parquet', source));
    expect(err).toBeInstanceOf(ObjectExists);
    expect((await store.head('_delta_log/x.checkpoint.parquet'))!.size).toBe(bytes.length);
    expect(text(await fs.readFile(source))).toBe('other');
    const missing = await rejection(store.putFileIfAbsent('_delta_log/y.parquet', `${source}.missing`));
    expect((missing as Error & { code?: string }).code).toBe('ENOENT');
    // no temp file is left behind by any call
    expect(await fs.readdir(nodePath.join(store.root, '_delta_log'))).toEqual(['x.checkpoint.parquet']);
  });

  it('putIfAbsent has exactly one winner among concurrent writers', async () => {
    const store = new LocalObjectStore(dirs.make());
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => store.putIfAbsent('race.json', `writer ${i}`)),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExists);
    }
    expect(text(await store.get('race.json'))).toMatch(/^writer \d+$/);
  });

  it('put replaces atomically: readers only ever see a whole old or new object', async () => {
    const store = new LocalObjectStore(dirs.make());
    const a = 'A'.repeat(200_000);
    const b = 'B'.repeat(300_000);
    await store.put('obj', a);
    const seen = new Set<string>();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await store.put('obj', i % 2 ? b : a); // the last put writes b
      writing = false;
    })();
    while (writing) {
      const content = text(await store.get('obj'));
      seen.add(content === a ? 'a' : content === b ? 'b' : `torn(${content.length})`);
    }
    await writer;
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
    expect(text(await store.get('obj')) === b).toBe(true);
    expect(await fs.readdir(store.root)).toEqual(['obj']);
  });

  it('getRange returns the requested bytes (short at the end of the object)', async () => {
    const store = new LocalObjectStore(dirs.make());
    await store.put('r.bin', new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect([...(await store.getRange('r.bin', 2, 3))]).toEqual([2, 3, 4]);
    expect([...(await store.getRange('r.bin', 8, 10))]).toEqual([8, 9]);
    expect((await store.getRange('r.bin', 20, 4)).length).toBe(0);
    await expect(store.getRange('missing.bin', 0, 1)).rejects.toBeInstanceOf(ObjectNotFound);
  });

  it('get of a missing object throws ObjectNotFound; head of a missing one is undefined; delete is idempotent', async () => {
    const store = new LocalObjectStore(dirs.make());
    await expect(store.get('nope')).rejects.toBeInstanceOf(ObjectNotFound);
    expect(await store.head('nope')).toBeUndefined();
    await store.put('x/y', 'z');
    expect(await store.head('x')).toBeUndefined(); // a directory is not an object
    expect((await store.head('x/y'))?.size).toBe(1);
    await store.delete('x/y');
    await store.delete('x/y');
    expect(await store.head('x/y')).toBeUndefined();
    expect(store.location('x/y')).toBe(nodePath.join(store.root, 'x', 'y'));
  });

  it('compareBytes orders by UTF-8 bytes, not locale', () => {
    expect(['b', 'é', 'B', 'a', '_', '0'].sort(compareBytes)).toEqual(['0', 'B', '_', 'a', 'b', 'é']);
  });
});

describe('listLocalFiles', () => {
  it("lists every regular file below a folder with '/' paths in byte order, and nothing for a missing folder", async () => {
    const dir = dirs.make();
    await fs.mkdir(nodePath.join(dir, 'b', 'c'), { recursive: true });
    await fs.mkdir(nodePath.join(dir, 'empty'));
    for (const p of ['b/c/d.txt', 'a.txt', 'B.txt', '.hidden.tmp'])
      await fs.writeFile(nodePath.join(dir, p), p);
    expect(await listLocalFiles(dir)).toEqual(['.hidden.tmp', 'B.txt', 'a.txt', 'b/c/d.txt']);
    expect(await listLocalFiles(nodePath.join(dir, 'missing'))).toEqual([]);
    expect(await listLocalFiles(nodePath.join(dir, 'a.txt'))).toEqual([]);
  });
});
