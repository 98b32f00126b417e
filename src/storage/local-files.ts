import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { ObjectStore } from './object-store.js';
import { downloadToFile } from './download.js';
import { removeAtExit } from './temp-dirs.js';

/** Local files a local engine (DuckDB) can open, until they are released. */
export interface OpenedFiles {
  /** Local paths, in the order of the objects asked for. */
  readonly files: string[];
  release(): Promise<void>;
}

/** A local folder for files a local engine writes before they are uploaded with `putFile`. */
export interface StagingDir {
  readonly dir: string;
  /** A path in the folder for a new file. */
  file(name: string): string;
  /** Writes text to a new file in the folder a chunk at a time; `close` ends it. */
  create(name: string): Promise<{ path: string; write(text: string): Promise<void>; close(): Promise<void> }>;
  /** Removes the folder and what is left in it. */
  dispose(): Promise<void>;
}

/**
 * How a local engine reaches a store's objects as local files, the one seam between DuckDB and
 * object storage: `open` gives readable local paths (a local store's own files; a remote store's
 * objects downloaded into a bounded local cache), `staging` a folder for files DuckDB writes, which
 * `putFile` then moves or uploads into the store. A store implements it as `ObjectStore.localFiles`
 * when it has a faster way than the download cache.
 */
export interface LocalFiles {
  open(paths: string[]): Promise<OpenedFiles>;
  staging(): Promise<StagingDir>;
  /** Takes a local file just uploaded as object `path` (with this ETag) as its copy; the file is moved. */
  adopt?(path: string, file: string, etag: string): Promise<void>;
}

/** A staging folder at `dir` (created here). */
export async function stagingAt(dir: string): Promise<StagingDir> {
  await fs.mkdir(dir, { recursive: true });
  return {
    dir,
    file: (name) => nodePath.join(dir, name),
    async create(name) {
      const path = nodePath.join(dir, name);
      const handle = await fs.open(path, 'wx');
      return {
        path,
        write: async (text) => {
          await handle.write(text);
        },
        close: () => handle.close(),
      };
    },
    dispose: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/** A new staging folder under the OS's temporary folder. */
export async function tempStaging(prefix = 'tweetlake-staging-'): Promise<StagingDir> {
  return stagingAt(await fs.mkdtemp(nodePath.join(tmpdir(), prefix)));
}

/** Default bound of the download cache: bytes of downloaded files that no open scan holds. */
export const DEFAULT_CACHE_BYTES = 1 << 30;

interface Cached {
  file: string;
  size: number;
  pins: number;
  loading?: Promise<void>;
}

/**
 * Local copies of a remote store's objects, downloaded in ranges (never whole in memory) into a
 * private temporary folder. Bounded by bytes: files no open scan holds are evicted, least recently
 * used first, once the cache passes `maxBytes` (files held open are kept whatever their size).
 */
export class DownloadCache implements LocalFiles {
  private readonly entries = new Map<string, Cached>();
  private dir?: Promise<string>;
  private bytes = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly maxBytes = DEFAULT_CACHE_BYTES,
  ) {}

  private folder(): Promise<string> {
    this.dir ??= fs.mkdtemp(nodePath.join(tmpdir(), 'tweetlake-cache-')).then((dir) => {
      removeAtExit(dir);
      return dir;
    });
    return this.dir;
  }

  async open(paths: string[]): Promise<OpenedFiles> {
    const held: Cached[] = [];
    const release = async () => {
      for (const e of held.splice(0)) e.pins--;
      await this.evict();
    };
    try {
      for (const path of paths) held.push(await this.fetch(path));
    } catch (err) {
      await release();
      throw err;
    }
    return { files: held.map((e) => e.file), release };
  }

  staging(): Promise<StagingDir> {
    return tempStaging();
  }

  private async fetch(path: string): Promise<Cached> {
    let entry = this.entries.get(path);
    if (entry) {
      this.entries.delete(path); // re-insert: most recently used last
      this.entries.set(path, entry);
      entry.pins++;
      await entry.loading;
      return entry;
    }
    const file = nodePath.join(await this.folder(), `${randomUUID()}${nodePath.extname(path)}`);
    entry = { file, size: 0, pins: 1 };
    const e = entry;
    e.loading = downloadToFile(this.store, path, file).then((size) => {
      e.size = size;
      this.bytes += size;
      e.loading = undefined;
    });
    this.entries.set(path, e);
    try {
      await e.loading;
    } catch (err) {
      this.entries.delete(path);
      await fs.rm(file, { force: true });
      throw err;
    }
    return e;
  }

  private async evict(): Promise<void> {
    for (const [path, e] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      if (e.pins > 0 || e.loading) continue;
      this.entries.delete(path);
      this.bytes -= e.size;
      await fs.rm(e.file, { force: true });
    }
  }
}

const caches = new WeakMap<ObjectStore, LocalFiles>();

/** How DuckDB reaches `store`'s objects: its own `localFiles`, or one download cache per store. */
export function localFilesOf(store: ObjectStore): LocalFiles {
  if (store.localFiles) return store.localFiles;
  let cache = caches.get(store);
  if (!cache) {
    cache = new DownloadCache(store);
    caches.set(store, cache);
  }
  return cache;
}
