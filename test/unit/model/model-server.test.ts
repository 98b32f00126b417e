/**
 * The model-server classifier against HTTP servers on loopback that answer as real endpoints do,
 * and as broken ones do: retries on 429/5xx/resets/time-outs, typed errors on answers that are not
 * predictions, the bearer token, batching and requests in flight. (Real `mlflow models serve` and
 * MLServer: test/interop/model-serving.test.ts.)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openModelServer } from '../../../src/model/load.js';
import {
  ModelServerClassifier,
  ModelServerError,
  ModelServerUnreachable,
} from '../../../src/model/model-server-classifier.js';
import { InvalidModelServerUri, parseModelServerUri } from '../../../src/model/model-server-uri.js';
import { ModelServerResponseInvalid } from '../../../src/model/scoring-protocols.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections(); // a request left hanging on purpose must not hold the server open
      return new Promise((r) => s.close(r));
    }),
  );
});

async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

/** A stand-in sentiment model: the label from the text's length, the score from its first char. */
function opinion(text: string): { label: string; score: number } {
  return { label: ['NEG', 'NEU', 'POS'][text.length % 3]!, score: 0.5 + (text.charCodeAt(0) % 50) / 100 };
}

function mlflowTexts(body: string): string[] {
  const j = JSON.parse(body) as { dataframe_split?: { data: string[][] }; inputs?: string[] };
  return j.dataframe_split ? j.dataframe_split.data.map((r) => r[0]!) : j.inputs!;
}

const fast = { backoffMs: 5, backoffCapMs: 20 };

describe('model server URIs', () => {
  it('name the scoring URL of each protocol', () => {
    expect(parseModelServerUri('mlflow+http://127.0.0.1:5000')).toMatchObject({
      protocol: 'mlflow',
      inferUrl: 'http://127.0.0.1:5000/invocations',
    });
    expect(
      parseModelServerUri('mlflow+https://adb-1.azuredatabricks.net/serving-endpoints/tweets/invocations'),
    ).toMatchObject({ inferUrl: 'https://adb-1.azuredatabricks.net/serving-endpoints/tweets/invocations' });
    expect(parseModelServerUri('oip+http://h:8080/v2/models/sentiment/versions/3')).toMatchObject({
      protocol: 'oip',
      inferUrl: 'http://h:8080/v2/models/sentiment/versions/3/infer',
      metadataUrl: 'http://h:8080/v2/models/sentiment/versions/3',
      modelName: 'sentiment',
      modelVersion: '3',
    });
    expect(() => parseModelServerUri('oip+http://h:8080/predict')).toThrow(InvalidModelServerUri);
    expect(() => parseModelServerUri('mlflow+https://user:secret@h/x')).toThrow(/TWEETLAKE_MODEL_TOKEN/);
  });
});

describe('the model-server classifier', () => {
  it('scores in batches with several requests in flight, in input order, sending the bearer token', async () => {
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const auth = new Set<string>();
    const host = await serve((req, body, res) => {
      auth.add(String(req.headers.authorization));
      inFlight++;
      most = Math.max(most, inFlight);
      const texts = mlflowTexts(body);
      sizes.push(texts.length);
      setTimeout(() => {
        inFlight--;
        json(res, 200, { predictions: texts.map(opinion) });
      }, 30);
    });
    const texts = Array.from({ length: 100 }, (_, i) => `tweet number ${i}${'!'.repeat(i % 5)}`);
    const c = await openModelServer(
      `mlflow+http://${host}`,
      { batchSize: 16, concurrency: 3 },
      { TWEETLAKE_MODEL_TOKEN: 's3cret' },
    );
    const got = await c.classify(texts);
    expect(got).toEqual(texts.map((t) => ({ label: opinion(t).label, score: opinion(t).score * 100 })));
    expect(sizes.sort((a, b) => b - a)).toEqual([16, 16, 16, 16, 16, 16, 4]);
    expect(most).toBe(3);
    expect([...auth]).toEqual(['Bearer s3cret']);
    expect(c.info).toEqual({ name: `mlflow+http://${host}`, uri: `mlflow+http://${host}` });
    await c.close();
  });

  it('retries 503, 429 (honouring Retry-After) and connection resets, then succeeds', async () => {
    let calls = 0;
    const host = await serve((req, body, res) => {
      calls++;
      if (calls === 1) return json(res, 503, { error_code: 'UNAVAILABLE' });
      if (calls === 2) return json(res, 429, { error: 'slow down' }, { 'retry-after': '0' });
      if (calls === 3) return req.socket.destroy();
      json(res, 200, { predictions: mlflowTexts(body).map(opinion) });
    });
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, ...fast });
    expect((await c.classify(['hello']))[0]!.label).toBe(opinion('hello').label);
    expect(calls).toBe(4);
    expect(c.stats.retries).toBe(3);
  });

  it('gives up after maxAttempts with a typed, retryable error that names the server', async () => {
    let calls = 0;
    const host = await serve((_req, _body, res) => {
      calls++;
      json(res, 502, { message: 'bad gateway' });
    });
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, maxAttempts: 3, ...fast });
    const err = await c.classify(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelServerError);
    expect((err as ModelServerError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/answered HTTP 502 \(3 tries\)/);
    expect(calls).toBe(3);
  });

  it('does not retry a 400 and says what the server said', async () => {
    let calls = 0;
    const host = await serve((_req, _body, res) => {
      calls++;
      json(res, 400, { error_code: 'BAD_REQUEST', message: 'Model is missing inputs [text]' });
    });
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, ...fast });
    await expect(c.classify(['x'])).rejects.toThrow(/HTTP 400 \(1 try\).*missing inputs/);
    expect(calls).toBe(1);
  });

  it('times out a request that hangs and retries it', async () => {
    let calls = 0;
    const host = await serve((_req, body, res) => {
      calls++;
      if (calls === 1) return; // never answers
      json(res, 200, { predictions: mlflowTexts(body).map(opinion) });
    });
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, timeoutMs: 200, ...fast });
    expect(await c.classify(['abc'])).toHaveLength(1);
    expect(calls).toBe(2);
  });

  it('reports an unreachable server after its tries, as a typed error', async () => {
    const host = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r)); // nothing listens there any more
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, maxAttempts: 2, ...fast });
    const err = await c.classify(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelServerUnreachable);
    expect((err as Error).message).toMatch(/after 2 tries/);
  });

  it.each([
    [
      'an HTML page',
      (res: ServerResponse) => (
        res.writeHead(200, { 'content-type': 'text/html' }),
        res.end('<html>login</html>')
      ),
      /expected JSON, got text\/html/,
    ],
    [
      'too few predictions',
      (res: ServerResponse) => json(res, 200, { predictions: [{ label: 'POS', score: 0.9 }] }),
      /1 predictions for 2 texts/,
    ],
    [
      'labels it does not know',
      (res: ServerResponse) =>
        json(res, 200, {
          predictions: [
            { label: 'LABEL_0', score: 0.9 },
            { label: 'POS', score: 0.8 },
          ],
        }),
      /label 'LABEL_0' is not one of NEG, NEU, POS/,
    ],
    [
      'scores that are not probabilities',
      (res: ServerResponse) =>
        json(res, 200, {
          predictions: [
            { label: 'POS', score: 87 },
            { label: 'NEG', score: 0.7 },
          ],
        }),
      /score 87, not a probability/,
    ],
    [
      'logits instead of labels',
      (res: ServerResponse) =>
        json(res, 200, {
          predictions: [
            [0.1, 0.2, 0.7],
            [0.3, 0.3, 0.4],
          ],
        }),
      /prediction 0 has no label/,
    ],
  ])('refuses %s with ModelServerResponseInvalid', async (_what, answer, message) => {
    const host = await serve((_req, _body, res) => answer(res));
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, ...fast });
    const err = await c.classify(['one', 'two']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelServerResponseInvalid);
    expect((err as Error).message).toMatch(message);
  });

  it('reads the column form of MLflow answers and maps negative/neutral/positive labels', async () => {
    const host = await serve((_req, body, res) => {
      const texts = mlflowTexts(body);
      json(res, 200, { predictions: { label: texts.map(() => 'positive'), score: texts.map(() => 0.25) } });
    });
    const c = await ModelServerClassifier.open({ uri: `mlflow+http://${host}`, requestFormat: 'inputs' });
    expect(await c.classify(['a', 'b'])).toEqual([
      { label: 'POS', score: 25 },
      { label: 'POS', score: 25 },
    ]);
  });

  it('speaks OIP v2: reads the model metadata for its version, posts a BYTES tensor, reads label and score', async () => {
    const seen: string[] = [];
    const host = await serve((req, body, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'GET')
        return json(res, 200, { name: 'sentiment', versions: ['7'], platform: 'mlflow' });
      const j = JSON.parse(body) as {
        inputs: { name: string; datatype: string; shape: number[]; data: string[] }[];
      };
      expect(j.inputs[0]).toMatchObject({
        name: 'text',
        datatype: 'BYTES',
        shape: [j.inputs[0]!.data.length],
      });
      const texts = j.inputs[0]!.data;
      json(res, 200, {
        model_name: 'sentiment',
        outputs: [
          {
            name: 'label',
            datatype: 'BYTES',
            shape: [texts.length],
            data: texts.map((t) => opinion(t).label),
          },
          {
            name: 'score',
            datatype: 'FP64',
            shape: [texts.length],
            data: texts.map((t) => opinion(t).score),
          },
        ],
      });
    });
    const c = await ModelServerClassifier.open({ uri: `oip+http://${host}/v2/models/sentiment` });
    expect(c.info).toEqual({
      name: 'sentiment',
      version: '7',
      uri: `oip+http://${host}/v2/models/sentiment`,
    });
    expect((await c.classify(['good', 'bad day']))[1]).toEqual({
      label: opinion('bad day').label,
      score: opinion('bad day').score * 100,
    });
    expect(seen).toEqual(['GET /v2/models/sentiment', 'POST /v2/models/sentiment/infer']);
  });

  it('refuses an OIP answer without label and score outputs', async () => {
    const host = await serve((req, _body, res) =>
      req.method === 'GET'
        ? json(res, 200, { name: 'm' })
        : json(res, 200, { outputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }),
    );
    const c = await ModelServerClassifier.open({ uri: `oip+http://${host}/v2/models/m` });
    await expect(c.classify(['x'])).rejects.toThrow(/expected outputs "label" and "score", got \["logits"\]/);
  });
});
