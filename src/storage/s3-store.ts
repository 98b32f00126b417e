import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandInput,
} from '@aws-sdk/client-s3';
import type { LocalFiles } from './local-files.js';
import { compareBytes } from './local-store.js';
import {
  ObjectExists,
  ObjectNotFound,
  type ObjectMeta,
  type ObjectStore,
  type RootStatus,
} from './object-store.js';
import { resolveS3Connection, type S3ConnectionOptions } from './s3-config.js';
import { RemoteObjectChanged, S3RegionMissing, typedS3Error } from './s3-errors.js';
import { uploadMultipart } from './s3-multipart.js';
import { DEFAULT_RETRY, GaveUp, withRetry, type RetryPolicy } from './s3-retry.js';
import { formatS3Url, parseS3Url, type S3Location } from './s3-url.js';

/** Options of the S3 store: the connection, and the sizes and patience of its requests. */
export interface S3StoreOptions extends S3ConnectionOptions {
  /** Files larger than this are uploaded in parts (default 16 MiB). */
  multipartThreshold?: number;
  /** Size of one part (default 16 MiB; S3 needs at least 5 MiB except for the last part). */
  partSize?: number;
  /** Parts uploaded at once (default 4: at most partSize × 4 bytes of a file in memory). */
  partConcurrency?: number;
  /** Keys per listing page (default and S3's maximum: 1000). */
  listPageSize?: number;
  retry?: Partial<RetryPolicy>;
  /** A client to share with other stores of the same connection (default: a new one). */
  client?: S3Client;
  /** How DuckDB reaches this store's objects (default: a download cache of this store alone). */
  localFiles?: LocalFiles;
  /** Counters to share with other stores (default: this store's own). */
  stats?: S3StoreStats;
}

/** An object's metadata with its ETag (what the file cache verifies copies by). */
export interface S3ObjectMeta extends ObjectMeta {
  etag: string;
}

/** Requests made and bytes moved, for benchmarks and tests. */
export interface S3StoreStats {
  requests: number;
  retries: number;
  bytesSent: number;
  bytesReceived: number;
}

const MiB = 1024 * 1024;

/**
 * Object store over an S3 bucket and key prefix (`s3://bucket/prefix`), for AWS S3 and compatible
 * servers. `putIfAbsent` is a conditional PUT (`If-None-Match: *`): S3 answers 412 when the key
 * exists, which is how Delta commits stay atomic without a lock.
 */
export class S3ObjectStore implements ObjectStore {
  readonly root: string;
  /** The bucket and key prefix of the store root. */
  readonly target: S3Location;
  readonly client: S3Client;
  readonly localFiles?: LocalFiles;
  readonly stats: S3StoreStats;
  private readonly endpointLabel: string;
  private readonly credentialSource: string;
  private readonly retry: RetryPolicy;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private readonly listPageSize: number;
  private regionChecked: Promise<void> | undefined;

  constructor(url: string, options: S3StoreOptions = {}) {
    this.target = parseS3Url(url);
    this.root = formatS3Url(this.target);
    const connection = resolveS3Connection(options);
    this.client = options.client ?? new S3Client(connection.config);
    this.localFiles = options.localFiles;
    this.stats = options.stats ?? { requests: 0, retries: 0, bytesSent: 0, bytesReceived: 0 };
    this.endpointLabel = connection.endpointLabel;
    this.credentialSource = connection.credentialSource;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.partSize = options.partSize ?? 16 * MiB;
    this.multipartThreshold = options.multipartThreshold ?? this.partSize;
    this.partConcurrency = options.partConcurrency ?? 4;
    this.listPageSize = options.listPageSize ?? 1000;
  }

  private key(path: string): string {
    return this.target.prefix + path;
  }

  /** Runs one request with retries; throws `GaveUp` for the caller to map. */
  private send = async <T>(
    op: () => Promise<T>,
    conditional = false,
  ): Promise<{ value: T; attempts: number }> => {
    await (this.regionChecked ??= this.checkRegion());
    return withRetry(
      this.retry,
      () => {
        this.stats.requests++;
        return op();
      },
      { conditional, onRetry: () => this.stats.retries++ },
    );
  };

  /** Fails early, and typed, when neither options, variables nor the profile name a region. */
  private async checkRegion(): Promise<void> {
    try {
      await this.client.config.region();
    } catch (err) {
      throw new S3RegionMissing(err);
    }
  }

  /** The typed error for a request that failed for good. */
  private fail(operation: string, path: string, err: unknown): Error {
    if (!(err instanceof GaveUp)) return err instanceof Error ? err : new Error(String(err));
    return typedS3Error(err, {
      operation,
      where: `${this.root}/${path}`,
      bucket: this.target.bucket,
      endpoint: this.endpointLabel,
      credentialSource: this.credentialSource,
    });
  }

  /** Runs a request; a failure becomes typed unless `handle` turns it into a value. */
  private async request<T>(
    operation: string,
    path: string,
    op: () => Promise<T>,
    handle?: (g: GaveUp) => T | undefined,
    conditional = false,
  ): Promise<{ value: T; attempts: number }> {
    try {
      return await this.send(op, conditional);
    } catch (err) {
      if (err instanceof GaveUp && handle) {
        const value = handle(err);
        if (value !== undefined) return { value, attempts: err.attempts };
      }
      throw this.fail(operation, path, err);
    }
  }

  /** The object's `s3://` URI (for messages and records such as `source_file`). */
  location(path: string): string {
    return `${this.root}/${path}`;
  }

  async rootStatus(): Promise<RootStatus> {
    const { value } = await this.request<RootStatus>(
      'HeadBucket',
      '',
      async () => {
        await this.client.send(new HeadBucketCommand({ Bucket: this.target.bucket }));
        return { kind: 'ok' };
      },
      (g) => (g.failure.status === 404 ? { kind: 'missing' } : undefined),
    );
    return value;
  }

  async get(path: string): Promise<Uint8Array> {
    const notFound = (g: GaveUp) => {
      if (isMissingKey(g)) throw new ObjectNotFound(path);
      return undefined;
    };
    const { value } = await this.request(
      'GetObject',
      path,
      async () => {
        const out = await this.client.send(
          new GetObjectCommand({ Bucket: this.target.bucket, Key: this.key(path) }),
        );
        return out.Body!.transformToByteArray();
      },
      notFound,
    );
    this.stats.bytesReceived += value.length;
    return value;
  }

  async getRange(path: string, start: number, length: number): Promise<Uint8Array> {
    if (length <= 0) return new Uint8Array(0);
    const { value } = await this.request(
      'GetObject (range)',
      path,
      async () => {
        const out = await this.client.send(
          new GetObjectCommand({
            Bucket: this.target.bucket,
            Key: this.key(path),
            Range: `bytes=${start}-${start + length - 1}`,
          }),
        );
        return out.Body!.transformToByteArray();
      },
      (g) => {
        if (isMissingKey(g)) throw new ObjectNotFound(path);
        // a range that starts at or past the end: nothing there, as a short local read
        return g.failure.status === 416 ? new Uint8Array(0) : undefined;
      },
    );
    this.stats.bytesReceived += value.length;
    return value;
  }

  async head(path: string): Promise<S3ObjectMeta | undefined> {
    const { value } = await this.request<S3ObjectMeta | null>(
      'HeadObject',
      path,
      async () => {
        const out = await this.client.send(
          new HeadObjectCommand({ Bucket: this.target.bucket, Key: this.key(path) }),
        );
        return {
          path,
          size: out.ContentLength ?? 0,
          lastModified: out.LastModified?.getTime() ?? 0,
          etag: out.ETag ?? '',
        };
      },
      (g) => (g.failure.status === 404 ? null : undefined),
    );
    return value ?? undefined;
  }

  async put(path: string, data: Uint8Array | string): Promise<void> {
    await this.putBody(path, toBytes(data), false);
  }

  async putIfAbsent(path: string, data: Uint8Array | string): Promise<void> {
    await this.putBody(path, toBytes(data), true);
  }

  /** One PUT of bytes in memory; conditional: `If-None-Match: *`, 412 -> ObjectExists, 409 retried. */
  private async putBody(path: string, body: Uint8Array, ifAbsent: boolean): Promise<string | undefined> {
    let lost = false;
    const { value, attempts } = await this.request<string | undefined | true>(
      'PutObject',
      path,
      async () => {
        const out = await this.client.send(
          new PutObjectCommand({
            Bucket: this.target.bucket,
            Key: this.key(path),
            Body: body,
            ContentLength: body.length,
            ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
          }),
        );
        return out.ETag;
      },
      (g) => (ifAbsent && g.failure.status === 412 ? (lost = true) : undefined),
      ifAbsent,
    );
    if (lost) {
      // After a retried attempt, 412 may answer our own first PUT (it landed, its answer was lost):
      // the object is ours when its content is byte for byte what we sent (its single-part ETag is the MD5).
      if (attempts > 1 && (await this.head(path))?.etag === `"${md5(body)}"`) return undefined;
      throw new ObjectExists(path);
    }
    this.stats.bytesSent += body.length;
    return typeof value === 'string' ? value : undefined;
  }

  /** Uploads a local file (streamed in parts above the multipart threshold), replacing the object. */
  async putFile(path: string, file: string): Promise<void> {
    await this.upload(path, file, false);
  }

  async putFileIfAbsent(path: string, file: string): Promise<void> {
    await this.upload(path, file, true);
  }

  private async upload(path: string, file: string, ifAbsent: boolean): Promise<void> {
    const size = (await fs.stat(file)).size;
    if (size <= this.multipartThreshold) {
      const etag = await this.putBody(path, await fs.readFile(file), ifAbsent);
      // the file is the object now: the next reader (the next stage) need not download it again
      if (!ifAbsent && etag && this.localFiles?.adopt) await this.localFiles.adopt(path, file, etag);
      return;
    }
    // a big file that would lose the race anyway is not uploaded at all
    if (ifAbsent && (await this.head(path))) throw new ObjectExists(path);
    const upload = {
      ...{ client: this.client, bucket: this.target.bucket, key: this.key(path), file, size },
      ...{ partSize: this.partSize, concurrency: this.partConcurrency, ifAbsent },
    };
    try {
      await uploadMultipart(upload, this.send);
    } catch (err) {
      if (!(err instanceof GaveUp)) throw err;
      const lost = err.failure.status === 412;
      // a retried completion may answer 412/NoSuchUpload for our own finished upload: same size = ours
      const ambiguous = err.attempts > 1 && (lost || err.failure.code === 'NoSuchUpload');
      if (!ambiguous || (await this.head(path))?.size !== size) {
        if (lost) throw new ObjectExists(path);
        throw this.fail('multipart upload', path, err);
      }
    }
    this.stats.bytesSent += size;
  }

  async delete(path: string): Promise<void> {
    await this.request('DeleteObject', path, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.key(path) })),
    );
  }

  async list(prefix: string, startAfter?: string): Promise<S3ObjectMeta[]> {
    return this.listPages(prefix, {
      Prefix: this.key(prefix),
      ...(startAfter !== undefined ? { StartAfter: this.key(startAfter) } : {}),
    });
  }

  async listFrom(prefix: string, startAfter: string): Promise<S3ObjectMeta[]> {
    const dir = prefix.replace(/\/+$/, '');
    const dirKey = this.key(dir === '' ? '' : `${dir}/`);
    return this.listPages(prefix, { Prefix: dirKey, Delimiter: '/', StartAfter: this.key(startAfter) });
  }

  /** Every page of a ListObjectsV2, sorted by path; "folder" marker keys (ending in '/') left out. */
  private async listPages(
    prefix: string,
    input: Omit<ListObjectsV2CommandInput, 'Bucket'>,
  ): Promise<S3ObjectMeta[]> {
    const out: S3ObjectMeta[] = [];
    let token: string | undefined;
    do {
      const { value: page } = await this.request('ListObjectsV2', prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            ...input,
            Bucket: this.target.bucket,
            MaxKeys: this.listPageSize,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        out.push({
          path: o.Key.slice(this.target.prefix.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified?.getTime() ?? 0,
          etag: o.ETag ?? '',
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => compareBytes(a.path, b.path));
  }

  /**
   * Streams an object into a local file; with `etag`, only that version (`If-Match`): a changed
   * object throws `RemoteObjectChanged`. Returns the bytes written.
   */
  async download(path: string, file: string, etag?: string): Promise<number> {
    const { value } = await this.request(
      'GetObject',
      path,
      async () => {
        const out = await this.client.send(
          new GetObjectCommand({
            Bucket: this.target.bucket,
            Key: this.key(path),
            ...(etag ? { IfMatch: etag } : {}),
          }),
        );
        const sink = createWriteStream(file);
        await pipeline(out.Body as Readable, sink);
        return sink.bytesWritten;
      },
      (g) => {
        if (g.failure.status === 412) throw new RemoteObjectChanged(`${this.root}/${path}`);
        if (isMissingKey(g)) throw new ObjectNotFound(path);
        return undefined;
      },
    );
    this.stats.bytesReceived += value;
    return value;
  }

  /** Closes the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}

/** A 404 for the key itself (not for its bucket). */
function isMissingKey(g: GaveUp): boolean {
  return g.failure.code === 'NoSuchKey' || (g.failure.status === 404 && g.failure.code !== 'NoSuchBucket');
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data) : data;
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}
