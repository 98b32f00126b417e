/**
 * The object-store contract as cases any store can run (written for the S3 store, mirroring what
 * test/unit/storage/local-store.test.ts checks of the local one): call `storeContractCases` inside a
 * `describe`, with a factory that gives each case an empty store.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { expect, it } from 'vitest';
import { ObjectExists, ObjectNotFound, type ObjectStore } from '../../src/storage/index.js';
import { rejection } from './delta.js';

/** A store with the staging upload the interface is gaining (`putFile`). */
export type ContractStore = ObjectStore & { putFile(path: string, file: string): Promise<void> };

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Registers the contract's cases; `makeStore` gives an empty store, `tempDir` a fresh local folder. */
export function storeContractCases(makeStore: () => Promise<ContractStore>, tempDir: () => string): void {
  it('lists objects recursively below a prefix, sorted by byte order', async () => {
    const store = await makeStore();
    const names = [
      'log/b.json',
      'log/a.json',
      'log/B.json',
      'log/sub/z.json',
      'log/é.json',
      'other/x',
      'logx',
    ];
    for (const p of names) await store.put(p, p);
    const listed = (await store.list('log/')).map((m) => m.path);
    expect(listed).toEqual(['log/B.json', 'log/a.json', 'log/b.json', 'log/sub/z.json', 'log/é.json']);
    // a prefix that is not a whole "directory" name filters by the full prefix
    expect((await store.list('log/b')).map((m) => m.path)).toEqual(['log/b.json']);
    expect((await store.list('log')).map((m) => m.path)).toContain('logx');
    expect((await store.list('')).map((m) => m.path)).toEqual(
      [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    expect(await store.list('missing/')).toEqual([]);
    const meta = (await store.list('log/a'))[0]!;
    expect(meta.size).toBe('log/a.json'.length);
    expect(meta.lastModified).toBeGreaterThan(Date.now() - 3_600_000);
  });

  it('listFrom lists one "directory" after a start key, sorted, not below it', async () => {
    const store = await makeStore();
    for (const v of [3, 1, 12, 2, 10]) await store.put(`d/${String(v).padStart(4, '0')}.json`, 'x');
    await store.put('d/sub/0005.json', 'x');
    await store.put('dx/0004.json', 'x');
    expect((await store.listFrom('d', 'd/0002.json')).map((m) => m.path)).toEqual([
      'd/0003.json',
      'd/0010.json',
      'd/0012.json',
    ]);
    expect((await store.listFrom('d/', 'd/')).map((m) => m.path)).toEqual([
      'd/0001.json',
      'd/0002.json',
      'd/0003.json',
      'd/0010.json',
      'd/0012.json',
    ]);
    expect(await store.listFrom('nothing', 'nothing/0')).toEqual([]);
  });

  it('putIfAbsent creates once, then throws ObjectExists and leaves the original intact', async () => {
    const store = await makeStore();
    await store.putIfAbsent('a/b/c.json', 'first');
    const err = await rejection(store.putIfAbsent('a/b/c.json', 'second, longer content'));
    expect(err).toBeInstanceOf(ObjectExists);
    expect(err.code).toBe('OBJECT_EXISTS');
    expect(text(await store.get('a/b/c.json'))).toBe('first');
    expect((await store.list('a/')).map((m) => m.path)).toEqual(['a/b/c.json']);
  });

  it('putFileIfAbsent uploads a local file once, then throws ObjectExists; the source stays; a missing source fails cleanly', async () => {
    const store = await makeStore();
    const source = nodePath.join(tempDir(), 'staged.parquet');
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
    expect((await store.list('_delta_log/')).map((m) => m.path)).toEqual(['_delta_log/x.checkpoint.parquet']);
  });

  it('putFile uploads a local file and replaces what was there', async () => {
    const store = await makeStore();
    const source = nodePath.join(tempDir(), 'part-0.parquet');
    await fs.writeFile(source, 'old');
    await store.putFile('data/part-0.parquet', source);
    await fs.writeFile(source, 'new contents');
    await store.putFile('data/part-0.parquet', source);
    expect(text(await store.get('data/part-0.parquet'))).toBe('new contents');
  });

  it('putIfAbsent has exactly one winner among 8 concurrent writers', async () => {
    const store = await makeStore();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.putIfAbsent('race.json', `writer ${i}`)),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExists);
    expect(text(await store.get('race.json'))).toBe(`writer ${won[0]}`);
  });

  it('put replaces atomically: readers only ever see a whole old or new object', async () => {
    const store = await makeStore();
    const a = 'A'.repeat(200_000);
    const b = 'B'.repeat(300_000);
    await store.put('obj', a);
    const seen = new Set<string>();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 10; i++) await store.put('obj', i % 2 ? b : a); // the last put writes b
      writing = false;
    })();
    while (writing) {
      const content = text(await store.get('obj'));
      seen.add(content === a ? 'a' : content === b ? 'b' : `torn(${content.length})`);
    }
    await writer;
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
    expect(text(await store.get('obj')) === b).toBe(true);
  });

  it('getRange returns the requested bytes (short at the end of the object)', async () => {
    const store = await makeStore();
    await store.put('r.bin', new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect([...(await store.getRange('r.bin', 2, 3))]).toEqual([2, 3, 4]);
    expect([...(await store.getRange('r.bin', 8, 10))]).toEqual([8, 9]);
    expect((await store.getRange('r.bin', 20, 4)).length).toBe(0);
    expect((await store.getRange('r.bin', 0, 0)).length).toBe(0);
    await expect(store.getRange('missing.bin', 0, 1)).rejects.toBeInstanceOf(ObjectNotFound);
  });

  it('get of a missing object throws ObjectNotFound; head of a missing one is undefined; delete is idempotent', async () => {
    const store = await makeStore();
    await expect(store.get('nope')).rejects.toBeInstanceOf(ObjectNotFound);
    expect(await store.head('nope')).toBeUndefined();
    await store.put('x/y', 'z');
    expect(await store.head('x')).toBeUndefined(); // a "directory" is not an object
    const meta = await store.head('x/y');
    expect(meta?.size).toBe(1);
    expect(meta?.path).toBe('x/y');
    await store.delete('x/y');
    await store.delete('x/y');
    expect(await store.head('x/y')).toBeUndefined();
    await expect(store.get('x/y')).rejects.toBeInstanceOf(ObjectNotFound);
  });
}
