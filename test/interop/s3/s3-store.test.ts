/**
 * The S3 store against a real S3 server (versitygw on loopback): the store contract, conditional
 * writes, pagination, ranges, multipart uploads, and typed errors.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectExists } from '../../../src/storage/index.js';
import {
  S3AccessDenied,
  S3BucketNotFound,
  S3CredentialsMissing,
  S3EndpointUnreachable,
} from '../../../src/storage/s3-errors.js';
import { S3ObjectStore, type S3StoreOptions } from '../../../src/storage/s3-store.js';
import { rejection, tempDirs } from '../../helpers/delta.js';
import { storeContractCases } from '../../helpers/s3-contract-cases.js';
import { storeContract } from '../../helpers/store-contract.js';
import { startFaultProxy } from '../../helpers/s3-fault-proxy.js';
import { freePort, startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

const dirs = tempDirs('tweetlake-s3-test-');
let server: S3TestServer;
let bucket: string;
let n = 0;
const stores: S3ObjectStore[] = [];

/** A store on a fresh prefix of the test bucket. */
function store(options: S3StoreOptions = {}, url = `${bucket}/case-${++n}`): S3ObjectStore {
  const s = new S3ObjectStore(url, server.options(options));
  stores.push(s);
  return s;
}

beforeAll(async () => {
  server = await startS3Server(); // the first run builds versitygw with go install (minutes)
  bucket = await server.createBucket('lake');
}, 900_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await server?.stop();
  dirs.cleanup();
});

describe('the S3 test server (probe)', () => {
  it('enforces conditional writes: a second If-None-Match PUT gets 412, and of two racing ones exactly one wins', async () => {
    const client = new S3Client({ ...server.options(), forcePathStyle: true });
    const put = (key: string, body: string) =>
      client.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: body, IfNoneMatch: '*' }));
    await put('probe/one', 'first');
    const second = await rejection(put('probe/one', 'second'));
    expect((second as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(412);
    for (let round = 0; round < 5; round++) {
      const results = await Promise.allSettled([
        put(`probe/race-${round}`, 'a'),
        put(`probe/race-${round}`, 'b'),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    }
    client.destroy();
  });
});

describe('S3ObjectStore: the store contract', () => {
  storeContractCases(
    async () => store(),
    () => dirs.make(),
  );
});

// the contract every ObjectStore keeps (the same cases as the local and in-memory stores)
storeContract('S3 (versitygw)', () => store());

describe('S3ObjectStore on a real server', () => {
  it('parses its URL: the root is canonical and paths live below the prefix', async () => {
    const s = store({}, `${bucket}//nested/prefix/`);
    expect(s.root).toBe('s3://lake/nested/prefix');
    await s.put('a.json', '{}');
    const top = store({}, bucket);
    expect((await top.list('nested/')).map((m) => m.path)).toEqual(['nested/prefix/a.json']);
    expect(s.location('a.json')).toBe('s3://lake/nested/prefix/a.json');
    expect(await s.rootStatus()).toEqual({ kind: 'ok' });
  });

  it('takes credentials, region and endpoint from AWS_PROFILE and AWS_ENDPOINT_URL alone', async () => {
    const dir = dirs.make();
    const { accessKeyId, secretAccessKey } = server.credentials;
    await fs.writeFile(
      nodePath.join(dir, 'credentials'),
      `[team]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`,
    );
    await fs.writeFile(nodePath.join(dir, 'config'), '[profile team]\nregion = us-east-1\n');
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
    ])
      vi.stubEnv(name, undefined);
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', nodePath.join(dir, 'credentials'));
    vi.stubEnv('AWS_CONFIG_FILE', nodePath.join(dir, 'config'));
    vi.stubEnv('AWS_PROFILE', 'team');
    vi.stubEnv('AWS_ENDPOINT_URL', server.endpoint);
    try {
      const s = new S3ObjectStore(`${bucket}/from-env`);
      stores.push(s);
      await s.put('k', 'v');
      expect(new TextDecoder().decode(await s.get('k'))).toBe('v');
      // a profile that is not there: a typed error that says where credentials are looked for
      vi.stubEnv('AWS_PROFILE', 'nobody');
      const none = new S3ObjectStore(`${bucket}/from-env`);
      stores.push(none);
      const err = await rejection(none.get('k'));
      expect(err).toBeInstanceOf(S3CredentialsMissing);
      expect(err.message).toMatch(/AWS_ACCESS_KEY_ID.*AWS_PROFILE/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('lists past 1,000 keys: 1,003 keys in pages of 100, sorted, and listFrom pages too', async () => {
    const s = store({ listPageSize: 100 });
    const keys = Array.from({ length: 1003 }, (_, i) => `_delta_log/${String(i).padStart(20, '0')}.json`);
    for (let i = 0; i < keys.length; i += 100)
      await Promise.all(keys.slice(i, i + 100).map((k) => s.put(k, 'x')));
    const before = s.stats.requests;
    expect((await s.list('_delta_log/')).map((m) => m.path)).toEqual(keys);
    expect(s.stats.requests - before).toBe(11); // ceil(1003 / 100) pages
    expect((await s.listFrom('_delta_log', keys[849]!)).map((m) => m.path)).toEqual(keys.slice(850));
  });

  it('reads byte ranges of a larger object exactly', async () => {
    const s = store();
    const bytes = Buffer.from(Array.from({ length: 1_000_003 }, (_, i) => (i * 7) % 256));
    await s.put('big.bin', bytes);
    for (const [start, length] of [
      [0, 1],
      [999_999, 4],
      [123_456, 654_321],
      [1_000_002, 100],
    ] as const) {
      const got = Buffer.from(await s.getRange('big.bin', start, length));
      expect(got.equals(bytes.subarray(start, start + length))).toBe(true);
    }
  });

  it('uploads a file above the multipart threshold in parts, whole and in order; putFileIfAbsent then refuses it', async () => {
    const s = store({ multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024, partConcurrency: 2 });
    const file = nodePath.join(dirs.make(), 'big.parquet');
    const bytes = Buffer.alloc(12 * 1024 * 1024 + 17);
    for (let i = 0; i + 4 <= bytes.length; i += 4) bytes.writeUInt32LE(i, i);
    await fs.writeFile(file, bytes);
    const before = s.stats.requests;
    await s.putFileIfAbsent('data/big.parquet', file);
    // HEAD, create, 3 parts, complete
    expect(s.stats.requests - before).toBe(6);
    const meta = await s.head('data/big.parquet');
    expect(meta?.size).toBe(bytes.length);
    expect(meta?.etag).toMatch(/-3"$/); // a multipart ETag names its part count
    expect(Buffer.from(await s.get('data/big.parquet')).equals(bytes)).toBe(true);
    await expect(s.putFileIfAbsent('data/big.parquet', file)).rejects.toBeInstanceOf(ObjectExists);
    await s.putFile('data/big.parquet', file); // replacing is allowed
    expect((await s.head('data/big.parquet'))?.size).toBe(bytes.length);
  });

  it('a multipart putFileIfAbsent that loses the race at completion throws ObjectExists, keeps the winner and aborts its upload', async () => {
    // the parts are held back by the proxy, so the winner lands after our HEAD and before our completion:
    // only If-None-Match on CompleteMultipartUpload can catch it
    const proxy = await startFaultProxy(server.endpoint);
    const mp = { multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024 };
    const s = store({ ...mp, endpoint: proxy.endpoint }, `${bucket}/mp-race`);
    const direct = store({}, `${bucket}/mp-race`);
    const file = nodePath.join(dirs.make(), 'big.bin');
    await fs.writeFile(file, Buffer.alloc(6 * 1024 * 1024, 1));
    proxy.delayNext(2, 500, (req) => (req.url ?? '').includes('partNumber='));
    const upload = s.putFileIfAbsent('k.bin', file);
    while (s.stats.requests < 2) await new Promise((resolve) => setTimeout(resolve, 2)); // HEAD and create done
    await direct.putIfAbsent('k.bin', 'winner');
    await expect(upload).rejects.toBeInstanceOf(ObjectExists);
    expect(new TextDecoder().decode(await direct.get('k.bin'))).toBe('winner');
    expect(proxy.seen.some((r) => r.method === 'POST' && r.url.includes('uploadId='))).toBe(true); // completion sent
    expect(proxy.seen.some((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toBe(true); // then aborted
    const uploads = await direct.client.send(
      new ListMultipartUploadsCommand({ Bucket: 'lake', Prefix: 'mp-race/' }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
    await proxy.close();
  });

  it('errors are typed and say what to do, without printing secrets', async () => {
    const missing = store({}, 's3://no-such-bucket/x');
    const err1 = await rejection(missing.put('a', 'b'));
    expect(err1).toBeInstanceOf(S3BucketNotFound);
    expect(err1.message).toContain('no-such-bucket');
    expect((await missing.rootStatus()).kind).toBe('missing');

    const secret = 'wrong-secret-do-not-print-1234567890';
    const denied = store({
      credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: secret },
    });
    const err2 = await rejection(denied.get('a'));
    expect(err2).toBeInstanceOf(S3AccessDenied);
    expect(err2.message).toContain('AWS_ACCESS_KEY_ID');
    expect(err2.message).not.toContain(secret);
    expect(JSON.stringify(err2)).not.toContain(secret);

    const port = await freePort(); // nothing listens there
    const nowhere = new S3ObjectStore(`${bucket}/x`, {
      ...server.options({ retry: { maxAttempts: 3, baseDelayMs: 10 } }),
      endpoint: `http://127.0.0.1:${port}`,
    });
    const err3 = await rejection(nowhere.get('a'));
    expect(err3).toBeInstanceOf(S3EndpointUnreachable);
    expect(err3.message).toMatch(/ECONNREFUSED.*3 attempts.*AWS_ENDPOINT_URL/);
    expect(nowhere.stats.requests).toBe(3);
    nowhere.close();
  });
});
