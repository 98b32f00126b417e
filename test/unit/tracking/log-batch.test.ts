import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactProxyPath, mlflowHttpOptionsFromEnv } from '../../../src/mlflow/http-client.js';
import {
  MLFLOW_LIMITS,
  MlflowHttpClient,
  MlflowHttpError,
  MlflowUnreachable,
  RestTrackingStore,
  TrackingNotFound,
  splitLogBatch,
  type LogBatchRequest,
  type Metric,
} from '../../../src/tracking/index.js';
import { rejection } from '../../helpers/delta.js';
import { startServer } from '../model/fixtures.js';

const metrics = (n: number, key = (i: number) => `m${i % 7}`): Metric[] =>
  Array.from({ length: n }, (_, i) => ({
    key: key(i),
    value: i / 3,
    timestamp: 1_700_000_000_000 + i,
    step: i,
  }));

function withinLimits(r: LogBatchRequest): boolean {
  return (
    r.metrics.length <= 1000 &&
    r.params.length <= 100 &&
    r.tags.length <= 100 &&
    r.metrics.length + r.params.length + r.tags.length <= 1000 &&
    Buffer.byteLength(JSON.stringify(r)) <= 1_000_000
  );
}

describe('splitLogBatch', () => {
  it('splits 2500 metrics into 1000 + 1000 + 500, in order', () => {
    const reqs = splitLogBatch('r', { metrics: metrics(2500) });
    expect(reqs.map((r) => r.metrics.length)).toEqual([1000, 1000, 500]);
    expect(reqs.flatMap((r) => r.metrics.map((m) => m.step))).toEqual(metrics(2500).map((m) => m.step));
  });

  it('keeps params and tags to 100 a request and all entities to 1000', () => {
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, String(i)]));
    const tags = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, String(i)]));
    const reqs = splitLogBatch('r', { params, tags, metrics: metrics(1900) });
    expect(reqs.every(withinLimits)).toBe(true);
    expect(reqs.reduce((s, r) => s + r.params.length, 0)).toBe(250);
    expect(reqs.reduce((s, r) => s + r.tags.length, 0)).toBe(150);
    expect(reqs.reduce((s, r) => s + r.metrics.length, 0)).toBe(1900);
    expect(reqs.every((r) => r.run_id === 'r')).toBe(true);
  });

  it('splits by bytes: 100 tags of 8000 two-byte characters do not fit in one 1,000,000-byte request', () => {
    const tags = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`t${i}`, 'é'.repeat(8000)]));
    const reqs = splitLogBatch('r', { tags });
    expect(reqs.length).toBeGreaterThan(2);
    expect(reqs.every(withinLimits)).toBe(true);
    expect(reqs.reduce((s, r) => s + r.tags.length, 0)).toBe(200);
  });

  it('honours smaller limits exactly', () => {
    const limits = { ...MLFLOW_LIMITS, maxMetricsPerBatch: 3, maxEntitiesPerBatch: 4 };
    const reqs = splitLogBatch('r', { params: { a: '1', b: '2' }, metrics: metrics(5) }, limits);
    expect(reqs.map((r) => [r.params.length, r.metrics.length])).toEqual([
      [2, 2],
      [0, 3],
    ]);
  });

  it('writes NaN and infinities as protobuf JSON strings', () => {
    const [req] = splitLogBatch('r', {
      metrics: [NaN, Infinity, -Infinity, 0.5].map((value, step) => ({
        key: 'k',
        value,
        timestamp: 1,
        step,
      })),
    });
    expect(req!.metrics.map((m) => m.value)).toEqual(['NaN', 'Infinity', '-Infinity', 0.5]);
  });
});

/** A small stand-in for the MLflow server's REST endpoints, enforcing its log-batch limits. */
describe('RestTrackingStore over HTTP (local fake server)', () => {
  const batches: LogBatchRequest[] = [];
  const auth: (string | undefined)[] = [];
  let failuresLeft = 0;
  let srv: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    srv = await startServer((req, res, body) => {
      auth.push(req.headers.authorization);
      const json = (status: number, v: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (failuresLeft > 0) {
        failuresLeft--;
        return json(failuresLeft % 2 ? 503 : 429, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' });
      }
      if (path === '/api/2.0/mlflow/runs/create') {
        return json(200, {
          run: {
            info: {
              run_id: 'abc',
              experiment_id: '1',
              status: 'RUNNING',
              artifact_uri: 'mlflow-artifacts:/1/abc/artifacts',
            },
          },
        });
      }
      if (path === '/api/2.0/mlflow/runs/log-batch') {
        if (body.length > 1_000_000)
          return json(400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'too big' });
        const b = JSON.parse(body.toString()) as LogBatchRequest;
        if (!withinLimits(b)) return json(400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'limits' });
        batches.push(b);
        return json(200, {});
      }
      if (path === '/api/2.0/mlflow/runs/get')
        return json(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Run with id=nope not found' });
      return json(404, { error_code: 'ENDPOINT_NOT_FOUND', message: 'no such endpoint' });
    });
  });
  afterAll(() => srv?.close());

  it('sends a large batch as several requests within the limits', async () => {
    const store = new RestTrackingStore(new MlflowHttpClient({ baseUrl: srv.url, token: 'tok' }));
    const run = await store.createRun('1', { runName: 'r' });
    batches.length = 0;
    await store.logBatch(run.runId, {
      metrics: metrics(2345),
      params: Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`p${i}`, 'v'])),
    });
    expect(batches.reduce((s, b) => s + b.metrics.length, 0)).toBe(2345);
    expect(batches.reduce((s, b) => s + b.params.length, 0)).toBe(120);
    expect(batches.length).toBe(4);
    expect(auth.at(-1)).toBe('Bearer tok');
  });

  it('retries on 429 and 5xx with backoff, then succeeds', async () => {
    const store = new RestTrackingStore(new MlflowHttpClient({ baseUrl: srv.url, backoffMs: 5 }));
    failuresLeft = 3;
    await store.logBatch('abc', { metrics: metrics(1) });
    expect(failuresLeft).toBe(0);
  });

  it('gives up after its retries with the server error code and message', async () => {
    const http = new MlflowHttpClient({ baseUrl: srv.url, backoffMs: 1, maxRetries: 1 });
    failuresLeft = 5;
    const err = await rejection(http.post('runs/log-batch', {}));
    failuresLeft = 0;
    expect(err).toBeInstanceOf(MlflowHttpError);
    expect((err as MlflowHttpError).retryable).toBe(true);
    expect(err.message).toMatch(/busy/);
  });

  it('maps RESOURCE_DOES_NOT_EXIST to a typed not-found, and a dead server to MlflowUnreachable', async () => {
    const store = new RestTrackingStore(
      new MlflowHttpClient({ baseUrl: srv.url, username: 'u', password: 'p' }),
    );
    expect(await rejection(store.getRun('nope'))).toBeInstanceOf(TrackingNotFound);
    expect(auth.at(-1)).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const dead = new MlflowHttpClient({ baseUrl: 'http://127.0.0.1:1', maxRetries: 1, backoffMs: 1 });
    const err = await rejection(dead.get('experiments/search'));
    expect(err).toBeInstanceOf(MlflowUnreachable);
    expect(err.message).toMatch(/MLFLOW_TRACKING_URI/);
  });
});

describe('MLflow URIs and environment', () => {
  it('reads the server and credentials from the environment', () => {
    expect(mlflowHttpOptionsFromEnv({})).toBeUndefined();
    expect(mlflowHttpOptionsFromEnv({ MLFLOW_TRACKING_URI: './mlruns' })).toBeUndefined();
    expect(
      mlflowHttpOptionsFromEnv({ MLFLOW_TRACKING_URI: 'https://h', MLFLOW_TRACKING_TOKEN: 't' }),
    ).toEqual({ baseUrl: 'https://h', token: 't' });
    expect(
      mlflowHttpOptionsFromEnv({
        MLFLOW_TRACKING_URI: 'http://h',
        MLFLOW_TRACKING_USERNAME: 'u',
        MLFLOW_TRACKING_PASSWORD: 'p',
      }),
    ).toEqual({
      baseUrl: 'http://h',
      username: 'u',
      password: 'p',
    });
    expect(
      mlflowHttpOptionsFromEnv(
        { MLFLOW_TRACKING_URI: 'http://t', MLFLOW_REGISTRY_URI: 'http://r' },
        'registry',
      )?.baseUrl,
    ).toBe('http://r');
  });

  it('turns mlflow-artifacts URIs into proxy paths', () => {
    expect(artifactProxyPath('mlflow-artifacts:/1/abc/artifacts')).toBe('1/abc/artifacts');
    expect(artifactProxyPath('mlflow-artifacts://host:5000/1/abc/artifacts/')).toBe('1/abc/artifacts');
    expect(artifactProxyPath('file:///x')).toBeUndefined();
  });
});
