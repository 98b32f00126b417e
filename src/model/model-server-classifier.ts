/**
 * A Classifier that scores through a model server over HTTP instead of local workers: the MLflow
 * scoring protocol or the Open Inference Protocol v2 (see scoring-protocols.ts). Texts go in batches,
 * several requests in flight; each request has a time limit and is retried with backoff and jitter on
 * 429, 5xx, time-outs and connection errors, so a server that restarts mid-batch costs a delay, not
 * the batch. Anything else fails the call with a typed error, and the gold batch with it (it is
 * scored again when the stream restarts).
 */
import { TweetlakeError, errorMessage } from '../errors.js';
import {
  SENTIMENT_LABELS,
  emptyClassifierStats,
  type Classifier,
  type ClassifierStats,
  type Prediction,
} from './classifier.js';
import { backoffDelayMs, isRetryableStatus, retryAfterMs, sleep } from '../mlflow/http-retry.js';
import { parseModelServerUri, type ModelServerEndpoint } from './model-server-uri.js';
import {
  ModelServerResponseInvalid,
  mlflowRequestBody,
  oipRequestBody,
  parseMlflowAnswer,
  parseOipAnswer,
  type MlflowRequestFormat,
  type ServedPrediction,
} from './scoring-protocols.js';

/** How to call a model server. */
export interface ModelServerOptions {
  /** `mlflow+http(s)://…` or `oip+http(s)://…/v2/models/NAME` (model-server-uri.ts). */
  uri: string;
  /** Bearer token (from TWEETLAKE_MODEL_TOKEN; never printed). */
  token?: string;
  /** Texts per request (default 64). */
  batchSize?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Time limit of one request in ms (default 60 s). */
  timeoutMs?: number;
  /** Tries of one request before the call fails (default 8). */
  maxAttempts?: number;
  /** First retry wait in ms, doubled each retry up to `backoffCapMs` (defaults 500 and 10 s). */
  backoffMs?: number;
  backoffCapMs?: number;
  /** MLflow protocol: `dataframe_split` (default) or `inputs`. */
  requestFormat?: MlflowRequestFormat;
  /** The model version to record (and key the prediction cache with) when the server does not say. */
  version?: string;
}

/** The server answered with an HTTP error that retrying did not (or cannot) fix. */
export class ModelServerError extends TweetlakeError {
  constructor(
    readonly status: number,
    where: string,
    detail: string,
    attempts: number,
  ) {
    super(
      'MODEL_SERVER_ERROR',
      `${where} answered HTTP ${status} (${attempts} ${attempts === 1 ? 'try' : 'tries'}): ${detail}` +
        (status === 401 || status === 403
          ? ' (set TWEETLAKE_MODEL_TOKEN to a token the endpoint accepts)'
          : status === 404
            ? ' (check the URL: mlflow+… posts to <url>/invocations, oip+… to <url>/infer)'
            : isRetryableStatus(status)
              ? ' (gave up after retries; the run can be restarted when the server is back)'
              : ''),
      {
        domain: status >= 400 && status < 500 && status !== 429 ? 'user' : 'external',
        retryable: isRetryableStatus(status),
      },
    );
  }
}

/** The server could not be reached (connection refused or reset, time-out) in any of the tries. */
export class ModelServerUnreachable extends TweetlakeError {
  constructor(where: string, attempts: number, cause: unknown) {
    super(
      'MODEL_SERVER_UNREACHABLE',
      `cannot reach the model server ${where} after ${attempts} tries (${errorMessage(cause)}); ` +
        'is it running? the gold stream stops and scores the batch again when restarted',
      { domain: 'external', retryable: true, cause },
    );
  }
}

const LABEL_ALIASES: Record<string, string> = {
  negative: 'NEG',
  neg: 'NEG',
  neutral: 'NEU',
  neu: 'NEU',
  positive: 'POS',
  pos: 'POS',
};

/** Running totals of a model-server classifier (the pool's shape, plus retries). */
export interface ModelServerStats extends ClassifierStats {
  retries: number;
}

export class ModelServerClassifier implements Classifier {
  readonly labels: readonly string[] = SENTIMENT_LABELS;
  readonly info: Classifier['info'];
  readonly stats: ModelServerStats = { ...emptyClassifierStats(), retries: 0 };
  private readonly headers: Record<string, string>;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  private constructor(
    readonly endpoint: ModelServerEndpoint,
    private readonly options: ModelServerOptions,
    version: string | undefined,
  ) {
    this.info = {
      name: endpoint.modelName ?? endpoint.display,
      ...(version ? { version } : {}),
      uri: endpoint.display,
    };
    this.headers = { accept: 'application/json' };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
  }

  /** Connects to the endpoint; for OIP, reads the model's metadata (which must answer) for its version. */
  static async open(options: ModelServerOptions): Promise<ModelServerClassifier> {
    const endpoint = parseModelServerUri(options.uri);
    let version = options.version ?? endpoint.modelVersion;
    if (endpoint.protocol === 'oip' && endpoint.metadataUrl) {
      const meta = (await new ModelServerClassifier(endpoint, options, version).call(
        'GET',
        endpoint.metadataUrl,
      )) as {
        versions?: unknown;
      };
      if (!version && Array.isArray(meta.versions) && typeof meta.versions[0] === 'string')
        version = meta.versions[0];
    }
    return new ModelServerClassifier(endpoint, options, version);
  }

  /** Labels every text; the result is in input order. */
  async classify(texts: string[]): Promise<Prediction[]> {
    if (this.closed) throw new TweetlakeError('MODEL_SERVER_CLOSED', 'the model-server classifier is closed');
    const bad = texts.findIndex((t) => typeof t !== 'string');
    if (bad >= 0)
      throw new TweetlakeError(
        'INFERENCE_FAILED',
        `text ${bad} is ${texts[bad] === null ? 'null' : typeof texts[bad]}, not a string`,
        {
          domain: 'internal',
        },
      );
    const size = Math.max(1, this.options.batchSize ?? 64);
    const out: Prediction[] = new Array(texts.length);
    const batches: number[] = [];
    for (let i = 0; i < texts.length; i += size) batches.push(i);
    await Promise.all(
      batches.map(async (start) => {
        const part = texts.slice(start, start + size);
        const served = await this.limited(() => this.score(part));
        served.forEach((p, k) => {
          out[start + k] = { label: this.label(p.label), score: p.score * 100 };
        });
      }),
    );
    return out;
  }

  private label(served: string): string {
    if (this.labels.includes(served)) return served;
    const alias = LABEL_ALIASES[served.toLowerCase()];
    if (alias && this.labels.includes(alias)) return alias;
    throw new ModelServerResponseInvalid(
      this.endpoint.display,
      `label '${served}' is not one of ${this.labels.join(', ')} (nor negative/neutral/positive)`,
    );
  }

  private async limited<T>(task: () => Promise<T>): Promise<T> {
    const limit = Math.max(1, this.options.concurrency ?? 4);
    while (this.active >= limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private async score(texts: string[]): Promise<ServedPrediction[]> {
    const mlflow = this.endpoint.protocol === 'mlflow';
    const body = mlflow
      ? mlflowRequestBody(texts, this.options.requestFormat ?? 'dataframe_split')
      : oipRequestBody(texts);
    const t0 = performance.now();
    const answer = await this.call('POST', this.endpoint.inferUrl, body);
    const where = this.endpoint.display;
    const served = mlflow
      ? parseMlflowAnswer(answer, texts.length, where)
      : parseOipAnswer(answer, texts.length, where);
    this.stats.computeMs += performance.now() - t0;
    this.stats.bytesToWorkers += Buffer.byteLength(body);
    this.stats.texts += texts.length;
    this.stats.batches++;
    if (this.stats.batchSizes.length < 10_000) this.stats.batchSizes.push(texts.length);
    return served;
  }

  /** One HTTP call, retried on 429/5xx/time-outs/connection errors; the parsed JSON answer. */
  private async call(method: 'GET' | 'POST', url: string, body?: string): Promise<unknown> {
    const where = this.endpoint.display;
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 8);
    const wait = (attempt: number) =>
      backoffDelayMs(attempt - 1, this.options.backoffMs ?? 500, this.options.backoffCapMs ?? 10_000);
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let text: string;
      let type: string;
      let retryAfter: string | null;
      try {
        const res = await fetch(url, {
          method,
          headers:
            body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body }),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
        });
        status = res.status;
        type = res.headers.get('content-type') ?? '';
        retryAfter = res.headers.get('retry-after');
        text = await res.text();
      } catch (err) {
        if (attempt >= maxAttempts) throw new ModelServerUnreachable(where, attempt, err);
        this.stats.retries++;
        await sleep(wait(attempt));
        continue;
      }
      this.stats.bytesFromWorkers += Buffer.byteLength(text);
      if (isRetryableStatus(status) && attempt < maxAttempts) {
        this.stats.retries++;
        await sleep(retryAfterMs(retryAfter, 30_000) ?? wait(attempt));
        continue;
      }
      if (status < 200 || status >= 300) throw new ModelServerError(status, where, snippet(text), attempt);
      if (!/json/i.test(type) && !/^\s*[[{]/.test(text))
        throw new ModelServerResponseInvalid(
          where,
          `expected JSON, got ${type || 'no content type'}: ${snippet(text)}`,
        );
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ModelServerResponseInvalid(where, `not JSON: ${snippet(text)}`);
      }
    }
  }

  /** Waits for requests in flight, then refuses new ones. */
  async close(): Promise<void> {
    while (this.active > 0) await sleep(5);
    this.closed = true;
  }
}

function snippet(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one || '(empty body)';
}
