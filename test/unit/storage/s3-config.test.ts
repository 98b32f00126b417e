import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLocalHost, resolveS3Connection } from '../../../src/storage/s3-config.js';
import { S3BadEndpoint, S3RegionMissing } from '../../../src/storage/s3-errors.js';
import { S3ObjectStore } from '../../../src/storage/s3-store.js';
import { backoffDelay, describeFailure, isRetryable, DEFAULT_RETRY } from '../../../src/storage/s3-retry.js';
import { InvalidS3Url, formatS3Url, isS3Url, parseS3Url } from '../../../src/storage/s3-url.js';

describe('s3:// URLs', () => {
  it('parse into bucket and a normalized key prefix', () => {
    expect(parseS3Url('s3://lake')).toEqual({ bucket: 'lake', prefix: '' });
    expect(parseS3Url('s3://lake/')).toEqual({ bucket: 'lake', prefix: '' });
    expect(parseS3Url('s3://my.lake-1/team//tables/')).toEqual({
      bucket: 'my.lake-1',
      prefix: 'team/tables/',
    });
    expect(parseS3Url('s3a://lake/x')).toEqual({ bucket: 'lake', prefix: 'x/' });
    expect(formatS3Url(parseS3Url('s3://lake/team//tables/'))).toBe('s3://lake/team/tables');
    expect(formatS3Url(parseS3Url('s3://lake/'))).toBe('s3://lake');
    expect(isS3Url('S3://lake')).toBe(true);
    expect(isS3Url('/data/s3://x')).toBe(false);
  });

  it('reject what is not a bucket and prefix, saying how to write one', () => {
    for (const bad of [
      's3://',
      's3://UPPER/x',
      's3://a/x',
      's3://lake/../x',
      's3://lake/x?versionId=1',
      'http://lake/x',
    ]) {
      expect(() => parseS3Url(bad), bad).toThrow(InvalidS3Url);
    }
    expect(() => parseS3Url('s3://Bad_Bucket')).toThrow(/s3:\/\/bucket\/prefix/);
  });
});

describe('resolveS3Connection', () => {
  it('uses path-style addressing and allows plain HTTP for IP addresses and localhost only', () => {
    for (const host of ['127.0.0.1', '[::1]', 'localhost', 'minio.localhost', '10.1.2.3'])
      expect(resolveS3Connection({ endpoint: `http://${host}:9000` }, {}).config.forcePathStyle, host).toBe(
        true,
      );
    expect(resolveS3Connection({ endpoint: 'https://s3.example.com' }, {}).config.forcePathStyle).toBe(false);
    expect(
      resolveS3Connection({ endpoint: 'https://s3.example.com', forcePathStyle: true }, {}).config
        .forcePathStyle,
    ).toBe(true);
    expect(() => resolveS3Connection({ endpoint: 'http://s3.example.com' }, {})).toThrow(S3BadEndpoint);
    expect(
      resolveS3Connection({ endpoint: 'http://s3.example.com', allowHttp: true }, {}).config.endpoint,
    ).toBe('http://s3.example.com');
    expect(() => resolveS3Connection({ endpoint: 'ftp://x' }, {})).toThrow(/scheme/);
    expect(() => resolveS3Connection({ endpoint: 'not a url' }, {})).toThrow(S3BadEndpoint);
    expect(isLocalHost('s3.amazonaws.com')).toBe(false);
  });

  it('reads endpoint and region from the standard variables, options first; AWS itself keeps the SDK chain', () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:7070', AWS_REGION: 'eu-west-1' };
    const fromEnv = resolveS3Connection({}, env);
    expect(fromEnv.config.endpoint).toBe('http://127.0.0.1:7070');
    expect(fromEnv.config.region).toBe('eu-west-1');
    expect(
      resolveS3Connection({}, { ...env, AWS_ENDPOINT_URL_S3: 'http://localhost:1' }).config.endpoint,
    ).toBe('http://localhost:1');
    expect(resolveS3Connection({ region: 'us-west-2' }, env).config.region).toBe('us-west-2');
    // a custom endpoint without a region gets us-east-1; AWS without one leaves it to the SDK's chain (profile)
    expect(resolveS3Connection({ endpoint: 'http://127.0.0.1:1' }, {}).config.region).toBe('us-east-1');
    const aws = resolveS3Connection({}, {});
    expect(aws.config.region).toBeUndefined();
    expect(aws.config.endpoint).toBeUndefined();
    expect(aws.config.credentials).toBeUndefined(); // the SDK's default chain
    expect(aws.config.maxAttempts).toBe(1); // our retries, not the SDK's as well
  });

  it('names where credentials come from, never their values', () => {
    const secret = 'very-secret-value';
    const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: secret };
    expect(resolveS3Connection({}, env).credentialSource).toBe('AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
    expect(resolveS3Connection({}, { AWS_PROFILE: 'team' }).credentialSource).toContain('profile "team"');
    expect(resolveS3Connection({}, {}).credentialSource).toContain('default AWS chain');
    const err = (() => {
      try {
        resolveS3Connection({ endpoint: `http://user:${secret}@127.0.0.1:1` }, {});
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(S3BadEndpoint);
    expect(err!.message).not.toContain(secret);
  });
});

describe('S3 retries', () => {
  it('retry 5xx, throttling and dropped connections; 409 only for conditional writes; not 4xx or unknown hosts', () => {
    const http = (status: number, name: string) =>
      describeFailure({ name, $metadata: { httpStatusCode: status } });
    const net = (code: string) => describeFailure(Object.assign(new Error('x'), { code }));
    expect(isRetryable(http(500, 'InternalError'), false)).toBe(true);
    expect(isRetryable(http(503, 'SlowDown'), false)).toBe(true);
    expect(isRetryable(http(429, 'TooManyRequests'), false)).toBe(true);
    expect(isRetryable(http(409, 'ConditionalRequestConflict'), true)).toBe(true);
    expect(isRetryable(http(409, 'ConditionalRequestConflict'), false)).toBe(false);
    expect(isRetryable(http(412, 'PreconditionFailed'), true)).toBe(false);
    expect(isRetryable(http(403, 'AccessDenied'), false)).toBe(false);
    expect(isRetryable(http(404, 'NoSuchKey'), false)).toBe(false);
    expect(isRetryable(net('ECONNRESET'), false)).toBe(true);
    expect(isRetryable(net('ECONNREFUSED'), false)).toBe(true);
    expect(isRetryable(net('ENOTFOUND'), false)).toBe(false);
    expect(net('ECONNREFUSED')).toMatchObject({ network: true, code: 'ECONNREFUSED', status: undefined });
  });

  it('back off exponentially up to the cap, with jitter in the upper half', () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 0)).toBe(200);
    expect(backoffDelay(policy, 10, () => 1)).toBe(1000);
    expect(backoffDelay(policy, 10, () => 0)).toBe(500);
  });
});

describe('S3ObjectStore without a region', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('fails before any request with a typed error naming AWS_REGION', async () => {
    for (const name of [
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'AWS_ENDPOINT_URL',
      'AWS_ENDPOINT_URL_S3',
      'AWS_PROFILE',
    ])
      vi.stubEnv(name, undefined);
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/tweetlake/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/tweetlake/credentials');
    const store = new S3ObjectStore('s3://lake/x', {
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const err = await store.head('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3RegionMissing);
    expect((err as Error).message).toContain('AWS_REGION');
    expect(store.stats.requests).toBe(0);
    store.close();
  });
});
