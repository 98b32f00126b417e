/**
 * HTTP plumbing for an MLflow server: JSON calls to `/api/2.0/mlflow/...` with auth and retries, and
 * the `mlflow-artifacts` proxy (list, download, upload). Shared by the REST model registry (here, in the
 * model layer) and the REST tracking store (the tracking layer, above, imports it from here).
 */
import { createWriteStream, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { redactSecrets } from '../redact.js';
import { TweetlakeError, errorMessage } from '../errors.js';
import { backoffDelayMs, isRetryableStatus, retryAfterMs, sleep } from './http-retry.js';
import { logFor } from '../log.js';

const log = logFor('mlflow');

/** How to reach an MLflow server. */
export interface MlflowHttpOptions {
  /** http(s)://host:port[/prefix] */
  baseUrl: string;
  /** Bearer token (MLFLOW_TRACKING_TOKEN, as Databricks uses). */
  token?: string;
  /** Basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). */
  username?: string;
  password?: string;
  /** Retries after the first try on 429, 5xx and network errors (default 5). */
  maxRetries?: number;
  /** First backoff in ms, doubled each retry (default 500). */
  backoffMs?: number;
  /** Per-request time limit in ms (default 120 s). */
  timeoutMs?: number;
}

/** One entry of an artifact listing. */
export interface ArtifactEntry {
  path: string;
  isDir: boolean;
  fileSize?: number;
}

/** The server answered with an error (error_code and message are MLflow's). */
export class MlflowHttpError extends TweetlakeError {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly serverMessage: string,
    readonly endpoint: string,
    baseUrl: string,
  ) {
    super('MLFLOW_HTTP_ERROR', `${hint(status, errorCode, serverMessage, endpoint, baseUrl)}`, {
      domain: status === 401 || status === 403 || (status >= 400 && status < 500) ? 'user' : 'external',
      retryable: isRetryableStatus(status),
    });
  }
}

function hint(status: number, code: string, message: string, endpoint: string, baseUrl: string): string {
  const head = `MLflow server ${baseUrl} answered ${status} ${code} to ${endpoint}: ${message}`;
  if (status === 401 || status === 403)
    return `${head} (set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)`;
  if (status === 404 && code === 'ENDPOINT_NOT_FOUND')
    return `${head} (is ${baseUrl} an MLflow server, started with artifact serving for mlflow-artifacts calls?)`;
  if (isRetryableStatus(status)) return `${head} (gave up after retries; try again later)`;
  return head;
}

/** The server could not be reached at all. */
export class MlflowUnreachable extends TweetlakeError {
  constructor(baseUrl: string, cause: unknown) {
    super(
      'MLFLOW_UNREACHABLE',
      `cannot reach the MLflow server at ${baseUrl} (${errorMessage(cause)}); is it running? check MLFLOW_TRACKING_URI`,
      {
        domain: 'external',
        retryable: true,
        cause,
      },
    );
  }
}

/** Whether a tracking/registry URI names an MLflow server over HTTP. */
export function isHttpUri(uri: string | undefined): uri is string {
  return uri !== undefined && /^https?:\/\//i.test(uri);
}

/** Options for the tracking (or, with `registry`, the registry) server named by the environment; undefined when none is. */
export function mlflowHttpOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  which: 'tracking' | 'registry' = 'tracking',
): MlflowHttpOptions | undefined {
  const uri =
    which === 'registry' ? (env.MLFLOW_REGISTRY_URI ?? env.MLFLOW_TRACKING_URI) : env.MLFLOW_TRACKING_URI;
  if (!isHttpUri(uri)) return undefined;
  return {
    baseUrl: uri,
    ...(env.MLFLOW_TRACKING_TOKEN ? { token: env.MLFLOW_TRACKING_TOKEN } : {}),
    ...(env.MLFLOW_TRACKING_USERNAME
      ? { username: env.MLFLOW_TRACKING_USERNAME, password: env.MLFLOW_TRACKING_PASSWORD ?? '' }
      : {}),
  };
}

/**
 * The path, relative to the server's artifact root, that an `mlflow-artifacts:` URI names
 * (`mlflow-artifacts:/1/abc/artifacts` and `mlflow-artifacts://host:port/1/abc/artifacts` → `1/abc/artifacts`);
 * undefined for other schemes.
 */
export function artifactProxyPath(uri: string): string | undefined {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(uri);
  return m ? m[1]!.replace(/\/+$/, '') : undefined;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '')
    .map(encodeURIComponent)
    .join('/');
}

/** A client for one MLflow server. */
export class MlflowHttpClient {
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;

  constructor(options: MlflowHttpOptions) {
    const url =
      isHttpUri(options.baseUrl) && URL.canParse(options.baseUrl) ? new URL(options.baseUrl) : undefined;
    if (!url) {
      throw new TweetlakeError(
        'MLFLOW_URI_INVALID',
        `'${redactSecrets(options.baseUrl)}' is not an http(s):// MLflow server URL`,
        { domain: 'user' },
      );
    }
    // Credentials in the URL (http://user:pass@host) become basic auth; the URL we keep and print has none.
    const fromUrl = url.username
      ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
      : undefined;
    url.username = '';
    url.password = '';
    this.baseUrl = url.toString().replace(/\/+$/, '');
    this.headers = {};
    const basic = options.username !== undefined ? options : fromUrl;
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
    else if (basic?.username !== undefined) {
      this.headers.authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password ?? ''}`).toString('base64')}`;
    }
    this.maxRetries = options.maxRetries ?? 5;
    this.backoffMs = options.backoffMs ?? 500;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  /** GET `/api/2.0/mlflow/<endpoint>` with query parameters; the parsed JSON answer. */
  get<T>(endpoint: string, query: Record<string, string | number | string[] | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) params.append(k, String(one));
    }
    const qs = params.toString();
    return this.json<T>('GET', `api/2.0/mlflow/${endpoint}${qs ? `?${qs}` : ''}`, endpoint);
  }

  /** POST a JSON body to `/api/2.0/mlflow/<endpoint>`; the parsed JSON answer. */
  post<T>(endpoint: string, body: unknown): Promise<T> {
    return this.json<T>('POST', `api/2.0/mlflow/${endpoint}`, endpoint, JSON.stringify(body));
  }

  private async json<T>(method: string, path: string, endpoint: string, body?: string): Promise<T> {
    const res = await this.request(
      method,
      path,
      endpoint,
      () => body,
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
    const text = await res.text();
    if (!text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new TweetlakeError(
        'MLFLOW_BAD_RESPONSE',
        `MLflow server ${this.baseUrl} sent non-JSON to ${endpoint}: ${text.slice(0, 200)}`,
        { domain: 'external', cause: err },
      );
    }
  }

  /** One HTTP call with retries on 429, 5xx and network errors; throws MlflowHttpError on other failures. */
  async request(
    method: string,
    path: string,
    endpoint: string,
    body: () => string | Uint8Array | undefined,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const url = joinUrl(this.baseUrl, path);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        const payload = body();
        res = await fetch(url, {
          method,
          headers: { ...this.headers, ...extraHeaders },
          ...(payload === undefined ? {} : { body: payload }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        if (attempt < this.maxRetries) {
          const delayMs = this.delay(attempt);
          log.warn(
            { method, url, attempt: attempt + 1, delayMs, err },
            'MLflow server unreachable; retrying',
          );
          await sleep(delayMs);
          continue;
        }
        throw new MlflowUnreachable(this.baseUrl, err);
      }
      if (res.ok) return res;
      if (isRetryableStatus(res.status) && attempt < this.maxRetries) {
        await res.body?.cancel();
        const delayMs = retryAfterMs(res.headers.get('retry-after'), 60_000) ?? this.delay(attempt);
        log.warn(
          { method, url, status: res.status, attempt: attempt + 1, delayMs },
          'MLflow server answered with a retryable status; retrying',
        );
        await sleep(delayMs);
        continue;
      }
      throw await this.errorOf(res, endpoint);
    }
  }

  private delay(attempt: number): number {
    return backoffDelayMs(attempt, this.backoffMs, 30_000);
  }

  private async errorOf(res: Response, endpoint: string): Promise<MlflowHttpError> {
    // The status is the error; a body cut off mid-read only loses its detail (statusText is used).
    const text = await res.text().catch(() => '');
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 500) || res.statusText;
    try {
      const j = JSON.parse(text) as { error_code?: string; message?: string };
      if (j.error_code) code = j.error_code;
      if (j.message) message = j.message;
    } catch {
      // not JSON (a proxy's HTML page): keep the text
    }
    return new MlflowHttpError(res.status, code, message, endpoint, this.baseUrl);
  }

  // --- mlflow-artifacts proxy -------------------------------------------------------------------

  /** Lists one level of the artifact store under `path` (relative to the server's artifact root). */
  async listArtifacts(path: string): Promise<ArtifactEntry[]> {
    const qs = new URLSearchParams({ path }).toString();
    const res = await this.request(
      'GET',
      `api/2.0/mlflow-artifacts/artifacts?${qs}`,
      'mlflow-artifacts/artifacts (list)',
      () => undefined,
    );
    const j = (await res.json()) as {
      files?: { path: string; is_dir?: boolean; file_size?: number | string }[];
    };
    return (j.files ?? []).map((f) => ({
      path: f.path,
      isDir: Boolean(f.is_dir),
      ...(f.file_size !== undefined ? { fileSize: Number(f.file_size) } : {}),
    }));
  }

  /** Downloads one artifact file to `dest` (parent folders created). */
  async downloadArtifact(path: string, dest: string): Promise<void> {
    const res = await this.request(
      'GET',
      `api/2.0/mlflow-artifacts/artifacts/${encodePath(path)}`,
      `mlflow-artifacts/artifacts/${path}`,
      () => undefined,
    );
    await fs.mkdir(nodePath.dirname(dest), { recursive: true });
    if (!res.body) {
      await fs.writeFile(dest, '');
      return;
    }
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(dest));
  }

  /** Uploads one local file as the artifact `path` (read whole: model and image files are small enough). */
  async uploadArtifact(localFile: string, path: string): Promise<void> {
    const data = await fs.readFile(localFile);
    const res = await this.request(
      'PUT',
      `api/2.0/mlflow-artifacts/artifacts/${encodePath(path)}`,
      `mlflow-artifacts/artifacts/${path}`,
      () => data,
      {
        'content-type': 'application/octet-stream',
      },
    );
    await res.body?.cancel();
  }
}
