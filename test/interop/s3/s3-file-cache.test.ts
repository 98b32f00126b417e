/**
 * The bounded local cache of remote immutable files, against a real S3 server: hits without
 * requests, LRU eviction by bytes, pinned copies kept, one download for concurrent readers,
 * verification by size and ETag, and a reopened cache keeping its copies.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCache } from '../../../src/storage/file-cache.js';
import { ObjectNotFound } from '../../../src/storage/index.js';
import { RemoteObjectChanged } from '../../../src/storage/s3-errors.js';
import { S3ObjectStore, type S3StoreOptions } from '../../../src/storage/s3-store.js';
import { tempDirs } from '../../helpers/delta.js';
import { startFaultProxy } from '../../helpers/s3-fault-proxy.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

const dirs = tempDirs('tweetlake-cache-test-');
let server: S3TestServer;
let n = 0;
const stores: S3ObjectStore[] = [];

function store(options: S3StoreOptions = {}, url = `s3://cache/case-${++n}`): S3ObjectStore {
  const s = new S3ObjectStore(url, server.options(options));
  stores.push(s);
  return s;
}

const bytesOf = (size: number, seed: number) =>
  Buffer.from(Array.from({ length: size }, (_, i) => (i + seed) % 256));

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket('cache');
}, 900_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await server?.stop();
  dirs.cleanup();
});

describe('FileCache on S3', () => {
  it('downloads a file once; a second read is a hit that makes no request', async () => {
    const s = store();
    const data = bytesOf(50_000, 1);
    await s.put('data/part-0.parquet', data);
    const cache = await FileCache.open(s, dirs.make(), 1_000_000);
    const first = await cache.acquire('data/part-0.parquet', { size: data.length });
    expect(Buffer.from(await fs.readFile(first.file)).equals(data)).toBe(true);
    expect(first.etag).toMatch(/^".+"$/);
    first.release();
    const requests = s.stats.requests;
    const text = await cache.withFile(
      'data/part-0.parquet',
      async (file) => (await fs.readFile(file)).length,
    );
    expect(text).toBe(data.length);
    expect(s.stats.requests).toBe(requests);
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, bytesDownloaded: data.length });
    await expect(cache.acquire('data/missing.parquet')).rejects.toBeInstanceOf(ObjectNotFound);
  });

  it('evicts the least recently used copies when the bytes held pass the bound', async () => {
    const s = store();
    for (const name of ['a', 'b', 'c']) await s.put(name, bytesOf(100, name.charCodeAt(0)));
    const cache = await FileCache.open(s, dirs.make(), 250);
    const read = (p: string) => cache.withFile(p, async (f) => f);
    const fileA = await read('a');
    const fileB = await read('b');
    await read('a'); // a is now more recent than b
    const fileC = await read('c');
    expect(cache.usedBytes).toBe(200);
    expect(existsSync(fileB)).toBe(false);
    expect(existsSync(fileA) && existsSync(fileC)).toBe(true);
    expect(cache.stats.evictions).toBe(1);
    const requests = s.stats.requests;
    await read('a');
    expect(s.stats.requests).toBe(requests); // a stayed
  });

  it('never evicts a copy in use: over the bound while held, back within it once released', async () => {
    const s = store();
    for (const name of ['a', 'b', 'c']) await s.put(name, bytesOf(100, 7));
    const cache = await FileCache.open(s, dirs.make(), 150);
    const held = await Promise.all(['a', 'b', 'c'].map((p) => cache.acquire(p)));
    for (const h of held) expect((await fs.readFile(h.file)).length).toBe(100);
    expect(cache.usedBytes).toBe(300);
    for (const h of held) h.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cache.usedBytes).toBeLessThanOrEqual(150);
    expect(held.filter((h) => existsSync(h.file))).toHaveLength(1);
  });

  it('concurrent readers of one file share one download', async () => {
    const s = store();
    await s.put('shared.parquet', bytesOf(200_000, 3));
    const cache = await FileCache.open(s, dirs.make(), 1_000_000);
    const before = s.stats.requests;
    const copies = await Promise.all(Array.from({ length: 10 }, () => cache.acquire('shared.parquet')));
    expect(new Set(copies.map((c) => c.file)).size).toBe(1);
    expect(s.stats.requests - before).toBe(2); // one HEAD, one GET
    expect(cache.stats.misses).toBe(1);
    for (const c of copies) c.release();
  });

  it('verifies copies: a size the log does not expect is refused; a replaced object is downloaded again', async () => {
    const s = store();
    await s.put('f', bytesOf(100, 1));
    const cache = await FileCache.open(s, dirs.make(), 1_000_000);
    await expect(cache.acquire('f', { size: 99 })).rejects.toBeInstanceOf(RemoteObjectChanged);
    const old = await cache.acquire('f', { size: 100 });
    await s.put('f', bytesOf(120, 2)); // a new version (data files never change; this checks that we notice)
    const fresh = await cache.acquire('f', { size: 120 });
    expect(fresh.etag).not.toBe(old.etag);
    expect(Buffer.from(await fs.readFile(fresh.file)).equals(bytesOf(120, 2))).toBe(true);
    // the old copy stays whole for its holder until released, then goes; the new one stays
    expect(Buffer.from(await fs.readFile(old.file)).equals(bytesOf(100, 1))).toBe(true);
    old.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(old.file)).toBe(false);
    expect(Buffer.from(await fs.readFile(fresh.file)).equals(bytesOf(120, 2))).toBe(true);
    expect(cache.usedBytes).toBe(120);
    fresh.release();
  });

  it('a file that changes between HEAD and GET is refused (If-Match), not cached torn', async () => {
    const proxy = await startFaultProxy(server.endpoint);
    const s = store({ endpoint: proxy.endpoint }, 's3://cache/changing');
    const direct = store({}, 's3://cache/changing');
    await direct.put('g', bytesOf(100, 1));
    const dir = dirs.make();
    const cache = await FileCache.open(s, dir, 1_000_000);
    proxy.delayNext(1, 300, (req) => req.method === 'GET');
    const reading = cache.acquire('g');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await direct.put('g', bytesOf(100, 9)); // same size, other content
    await expect(reading).rejects.toBeInstanceOf(RemoteObjectChanged);
    expect(await fs.readdir(dir)).toEqual([]);
    expect(cache.usedBytes).toBe(0);
    await proxy.close();
  });

  it('a reopened cache keeps its whole copies and drops torn ones and leftovers', async () => {
    const s = store();
    await s.put('x', bytesOf(100, 1));
    await s.put('y', bytesOf(100, 2));
    const dir = dirs.make();
    const first = await FileCache.open(s, dir, 1_000_000);
    const x = await first.withFile('x', async (f) => f);
    const y = await first.withFile('y', async (f) => f);
    await fs.truncate(y, 10); // torn by a crash
    await fs.writeFile(nodePath.join(dir, '.leftover.tmp'), 'partial');
    await fs.writeFile(nodePath.join(dir, 'orphan'), 'no sidecar');
    await fs.writeFile(nodePath.join(dir, 'torn'), 'data');
    await fs.writeFile(nodePath.join(dir, 'torn.json'), '{"path": "z", "si');
    const again = await FileCache.open(s, dir, 1_000_000);
    expect(again.usedBytes).toBe(100);
    const requests = s.stats.requests;
    expect(await again.withFile('x', async (f) => f)).toBe(x);
    expect(s.stats.requests).toBe(requests);
    expect((await again.withFile('y', async (f) => fs.readFile(f))).length).toBe(100);
    expect((await fs.readdir(dir)).sort()).toHaveLength(4); // x, y and their sidecars
  });
});
