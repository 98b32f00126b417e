import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { FileCache, type CachedFile } from './file-cache.js';
import { tempStaging, type LocalFiles, type OpenedFiles } from './local-files.js';
import { LocalObjectStore } from './local-store.js';
import type { ObjectStore } from './object-store.js';
import { resolveS3Connection } from './s3-config.js';
import { S3ObjectStore, type S3StoreOptions, type S3StoreStats } from './s3-store.js';
import { formatS3Url, isS3Url, parseS3Url } from './s3-url.js';
import { removeAtExit } from './temp-dirs.js';

/**
 * Locations: where a table, a checkpoint or a source is, written as a local path, a `file://` URL
 * or an `s3://bucket/prefix` URL. Everything above the storage layer names places this way and
 * opens them with `storeAt`; nothing else tells a local folder from an S3 prefix.
 */

/** How stores reach S3 and how much local disk the cache of S3 data files may hold. */
export interface StorageOptions {
  s3?: Omit<S3StoreOptions, 'client' | 'localFiles' | 'stats'> & {
    /** Attempts of one request before it fails (default 8, about 10 s of backoff). */
    maxAttempts?: number;
  };
  /** Bytes of downloaded S3 data files kept for DuckDB (default 1 GiB per bucket). */
  cacheBytes?: number;
}

const DEFAULT_CACHE_BYTES = 1 << 30;

let options: StorageOptions = {};
let client: S3Client | undefined;
/** Requests and bytes of every S3 store `storeAt` opened in this process (for benchmarks and tests). */
export const s3Totals: S3StoreStats = { requests: 0, retries: 0, bytesSent: 0, bytesReceived: 0 };
const bucketCaches = new Map<string, Promise<FileCache>>();

/** Sets how S3 locations are reached from now on (the CLI calls it with the config's `storage`). */
export function configureStorage(next: StorageOptions): void {
  options = next;
  client?.destroy();
  client = undefined;
  bucketCaches.clear();
}

/** Whether a location is an object store URL (not a local path). */
export function isRemoteLocation(location: string): boolean {
  return isS3Url(location);
}

/** The canonical form of a location: an absolute local path, or `s3://bucket/prefix` without a trailing '/'. */
export function resolveLocation(location: string): string {
  if (isS3Url(location)) return formatS3Url(parseS3Url(location));
  if (/^file:\/\//i.test(location)) return fileURLToPath(location);
  return nodePath.resolve(location);
}

/** A location below `base` ('/'-separated parts). */
export function joinLocation(base: string, ...parts: string[]): string {
  const root = resolveLocation(base);
  if (!isS3Url(root)) return nodePath.join(root, ...parts);
  const rest = parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '')
    .join('/');
  return rest === '' ? root : `${root}/${rest}`;
}

/** The location that holds `location` (its folder or parent prefix). */
export function parentLocation(location: string): string {
  const loc = resolveLocation(location);
  if (!isS3Url(loc)) return nodePath.dirname(loc);
  const { bucket, prefix } = parseS3Url(loc);
  const parts = prefix.split('/').filter((p) => p !== '');
  return formatS3Url({ bucket, prefix: parts.length > 1 ? `${parts.slice(0, -1).join('/')}/` : '' });
}

/** The last part of a location's name. */
export function locationName(location: string): string {
  const loc = resolveLocation(location);
  if (!isS3Url(loc)) return nodePath.basename(loc);
  const { bucket, prefix } = parseS3Url(loc);
  return (
    prefix
      .split('/')
      .filter((p) => p !== '')
      .at(-1) ?? bucket
  );
}

/** The object store rooted at a location (a local folder need not exist yet). */
export function storeAt(location: string): ObjectStore {
  const loc = resolveLocation(location);
  if (!isS3Url(loc)) return new LocalObjectStore(loc);
  const { bucket, prefix } = parseS3Url(loc);
  return new S3ObjectStore(loc, {
    ...storeOptions(),
    client: sharedClient(),
    stats: s3Totals,
    localFiles: new CachedPrefixFiles(() => bucketCache(bucket), prefix),
  });
}

/** The S3 store options of the settings (maxAttempts is the retry policy's). */
function storeOptions(): S3StoreOptions {
  const { maxAttempts, ...rest } = options.s3 ?? {};
  return maxAttempts === undefined ? rest : { ...rest, retry: { ...rest.retry, maxAttempts } };
}

function sharedClient(): S3Client {
  client ??= new S3Client(resolveS3Connection(options.s3).config);
  return client;
}

/** One cache of downloaded data files per bucket, in a private folder removed when the process exits. */
function bucketCache(bucket: string): Promise<FileCache> {
  let cache = bucketCaches.get(bucket);
  if (!cache) {
    cache = (async () => {
      const dir = await fs.mkdtemp(nodePath.join(tmpdir(), 'tweetlake-s3-cache-'));
      removeAtExit(dir);
      const source = new S3ObjectStore(`s3://${bucket}`, {
        ...storeOptions(),
        client: sharedClient(),
        stats: s3Totals,
      });
      return FileCache.open(source, dir, options.cacheBytes ?? DEFAULT_CACHE_BYTES);
    })();
    bucketCaches.set(bucket, cache);
  }
  return cache;
}

/** DuckDB's way to an S3 prefix's objects: copies from the bucket's file cache (keys under the prefix). */
class CachedPrefixFiles implements LocalFiles {
  constructor(
    private readonly cache: () => Promise<FileCache>,
    private readonly prefix: string,
  ) {}

  async open(paths: string[]): Promise<OpenedFiles> {
    const cache = await this.cache();
    const held: CachedFile[] = [];
    const release = async () => {
      for (const copy of held.splice(0)) copy.release();
    };
    try {
      for (const path of paths) held.push(await cache.acquire(this.prefix + path));
    } catch (err) {
      await release();
      throw err;
    }
    return { files: held.map((c) => c.file), release };
  }

  staging() {
    return tempStaging();
  }

  async adopt(path: string, file: string, etag: string): Promise<void> {
    await (await this.cache()).adopt(this.prefix + path, file, etag);
  }
}

/** Deletes everything at a location (a folder and what is in it, or every object under a prefix). */
export async function removeLocation(location: string): Promise<void> {
  const loc = resolveLocation(location);
  if (!isS3Url(loc)) {
    await fs.rm(loc, { recursive: true, force: true });
    return;
  }
  const store = storeAt(loc);
  for (const m of await store.list('')) await store.delete(m.path);
}
