/**
 * Retries of the S3 store against real faults: a fault-injecting proxy in front of a real server
 * (500, 503 SlowDown, 409, connection resets, lost answers) and the server itself killed and restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExists } from '../../../src/storage/index.js';
import { S3RequestFailed } from '../../../src/storage/s3-errors.js';
import { S3ObjectStore, type S3StoreOptions } from '../../../src/storage/s3-store.js';
import { rejection } from '../../helpers/delta.js';
import { startFaultProxy, type FaultProxy } from '../../helpers/s3-fault-proxy.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

let server: S3TestServer;
let proxy: FaultProxy;
let n = 0;
const stores: S3ObjectStore[] = [];
const fast = { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 100 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const isPut = (req: { method?: string }) => req.method === 'PUT';

/** A store that reaches the server through the fault proxy, on a fresh prefix. */
function store(options: S3StoreOptions = {}): S3ObjectStore {
  const s = new S3ObjectStore(
    `s3://faults/case-${++n}`,
    server.options({ endpoint: proxy.endpoint, retry: fast, ...options }),
  );
  stores.push(s);
  return s;
}

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket('faults');
  proxy = await startFaultProxy(server.endpoint);
}, 900_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await proxy?.close();
  await server?.stop();
});

describe('S3ObjectStore retries', () => {
  it('retries 503 SlowDown and 500 InternalError with backoff, then succeeds', async () => {
    const s = store();
    proxy.failNext(3, 503, 'SlowDown', isPut);
    await s.put('a.json', 'A');
    proxy.failNext(2, 500, 'InternalError', (req) => req.method === 'GET');
    expect(text(await s.get('a.json'))).toBe('A');
    expect(s.stats.retries).toBe(5);
    expect(proxy.seen.filter((r) => r.fault)).toHaveLength(5);
  });

  it('retries connection resets (listing, reading)', async () => {
    const s = store();
    await s.put('d/x', 'x');
    proxy.resetNext(2);
    expect((await s.list('d/')).map((m) => m.path)).toEqual(['d/x']);
    proxy.resetNext(1);
    expect(text(await s.getRange('d/x', 0, 1))).toBe('x');
    expect(s.stats.retries).toBe(3);
  });

  it('gives up after maxAttempts with a typed, retryable error that says how often it tried', async () => {
    const s = store();
    proxy.failNext(5, 503, 'SlowDown', isPut);
    const err = await rejection(s.put('b.json', 'B'));
    expect(err).toBeInstanceOf(S3RequestFailed);
    expect((err as S3RequestFailed).retryable).toBe(true);
    expect(err.message).toMatch(/503 SlowDown.*5 attempts/);
    expect(await s.head('b.json')).toBeUndefined();
  });

  it('retries 409 (a concurrent conditional write) for putIfAbsent only', async () => {
    const s = store();
    proxy.failNext(2, 409, 'ConditionalRequestConflict', isPut);
    await s.putIfAbsent('c.json', 'C');
    expect(text(await s.get('c.json'))).toBe('C');
    proxy.failNext(1, 409, 'ConditionalRequestConflict', isPut);
    const err = await rejection(s.put('c.json', 'D'));
    expect(err).toBeInstanceOf(S3RequestFailed);
    expect((err as S3RequestFailed).retryable).toBe(false);
    expect(text(await s.get('c.json'))).toBe('C');
  });

  it("a putIfAbsent whose answer was lost is retried, and the 412 for its own object counts as success; another writer's object is ObjectExists", async () => {
    const s = store();
    proxy.dropAnswerNext(1, isPut);
    await s.putIfAbsent('_delta_log/00000000000000000001.json', 'mine');
    expect(s.stats.retries).toBe(1);
    expect(text(await s.get('_delta_log/00000000000000000001.json'))).toBe('mine');
    // the same loss when the object there is someone else's: a real lost race
    const other = store();
    await other.putIfAbsent('v2.json', 'theirs');
    proxy.dropAnswerNext(1, isPut);
    await expect(other.putIfAbsent('v2.json', 'mine')).rejects.toBeInstanceOf(ObjectExists);
    expect(text(await other.get('v2.json'))).toBe('theirs');
  });

  it('rides out the server being killed and restarted: the write waits, then lands once', async () => {
    const s = new S3ObjectStore(
      's3://faults/restart',
      server.options({ retry: { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 } }),
    );
    stores.push(s);
    await s.put('before.json', 'before');
    await server.kill();
    const write = s.putIfAbsent('during.json', 'during');
    await new Promise((resolve) => setTimeout(resolve, 700));
    await server.start();
    await write;
    expect(s.stats.retries).toBeGreaterThan(0);
    expect((await s.list('')).map((m) => m.path)).toEqual(['before.json', 'during.json']);
    expect(text(await s.get('during.json'))).toBe('during');
  });
});
