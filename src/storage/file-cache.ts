import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { ObjectNotFound, type ObjectMeta } from './object-store.js';
import { RemoteObjectChanged } from './s3-errors.js';

/** Where the cache's files come from: a remote store that can say an object's ETag and stream it to a file. */
export interface RemoteFiles {
  readonly root: string;
  head(path: string): Promise<(ObjectMeta & { etag?: string }) | undefined>;
  /** Streams the object into `file` (only the version `etag`, when given); resolves to the bytes written. */
  download(path: string, file: string, etag?: string): Promise<number>;
}

/** A local copy in use: valid until `release()`; it is never evicted before. */
export interface CachedFile {
  file: string;
  size: number;
  etag: string;
  release(): void;
}

/** What the caller knows of the object (from the Delta log: its size), checked against the copy. */
export interface Expected {
  size?: number;
  etag?: string;
}

interface Entry {
  path: string;
  file: string;
  size: number;
  etag: string;
  pins: number;
  /** Replaced by a newer copy: deleted once the last reader releases it. */
  stale: boolean;
  removed?: boolean;
}

/** Hits, misses and what they cost. */
export interface FileCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  bytesDownloaded: number;
}

/**
 * A bounded local cache of remote immutable files (Parquet data files, checkpoints) for engines that
 * can only open local files (DuckDB without httpfs). Least recently used copies are evicted when the
 * bytes held pass `maxBytes`; copies in use are never evicted, so the cache can exceed its bound by
 * what readers hold at once. Copies are verified by size and ETag (the download is `If-Match` the
 * ETag the HEAD saw). Safe for concurrent readers in one process: one download per file at a time.
 * Each copy has a sidecar `<name>.json` (path, size, ETag), so a reopened cache keeps its copies.
 */
export class FileCache {
  readonly stats: FileCacheStats = { hits: 0, misses: 0, evictions: 0, bytesDownloaded: 0 };
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly downloads = new Map<string, Promise<Entry>>();
  private held = 0;

  private constructor(
    private readonly source: RemoteFiles,
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Opens (creating) the cache folder, keeping the copies whose sidecar and size agree. */
  static async open(source: RemoteFiles, dir: string, maxBytes: number): Promise<FileCache> {
    const cache = new FileCache(source, nodePath.resolve(dir), maxBytes);
    await fs.mkdir(cache.dir, { recursive: true });
    await cache.recover();
    await cache.evict();
    return cache;
  }

  /** Bytes of the copies held. */
  get usedBytes(): number {
    return this.held;
  }

  /** A local copy of `path`, downloaded if needed; call `release()` when done with it. */
  async acquire(path: string, expected: Expected = {}): Promise<CachedFile> {
    let entry = this.entries.get(path);
    if (entry && !matches(entry, expected)) {
      this.drop(entry);
      entry = undefined;
    }
    if (entry) {
      this.stats.hits++;
      this.entries.delete(path);
      this.entries.set(path, entry);
    } else {
      let pending = this.downloads.get(path);
      if (!pending) {
        pending = this.fetch(path, expected).finally(() => this.downloads.delete(path));
        this.downloads.set(path, pending);
      } else this.stats.hits++;
      entry = await pending;
    }
    entry.pins++;
    const pinned = entry;
    let released = false;
    return {
      file: pinned.file,
      size: pinned.size,
      etag: pinned.etag,
      release: () => {
        if (released) return;
        released = true;
        pinned.pins--;
        if (pinned.stale && pinned.pins === 0) void this.remove(pinned);
        else void this.evict();
      },
    };
  }

  /**
   * Takes `file`, whose bytes are now the object `path` with this ETag (it was just uploaded), as
   * the copy of `path`: moved into the cache, no download. A copy of an older version is dropped.
   */
  async adopt(path: string, file: string, etag: string): Promise<void> {
    const size = (await fs.stat(file)).size;
    const old = this.entries.get(path);
    if (old) this.drop(old);
    const entry: Entry = { path, file: this.fileFor(path, etag), size, etag, pins: 0, stale: false };
    await moveInto(file, entry.file);
    await fs.writeFile(`${entry.file}.json`, JSON.stringify({ path, size, etag }));
    this.held += size;
    this.entries.set(path, entry);
    await this.evict();
  }

  /** Runs `fn` with a local copy of `path`, released afterwards. */
  async withFile<T>(path: string, fn: (file: string) => Promise<T>, expected: Expected = {}): Promise<T> {
    const copy = await this.acquire(path, expected);
    try {
      return await fn(copy.file);
    } finally {
      copy.release();
    }
  }

  /** Downloads `path` beside its final name, checks it, then makes it the cached copy. */
  private async fetch(path: string, expected: Expected): Promise<Entry> {
    this.stats.misses++;
    const meta = await this.source.head(path);
    if (!meta) throw new ObjectNotFound(path);
    const etag = meta.etag ?? '';
    if (!matches({ size: meta.size, etag }, expected))
      throw new RemoteObjectChanged(`${this.source.root}/${path}`);
    this.held += meta.size; // reserved before the download, so concurrent downloads respect the bound
    const entry: Entry = {
      path,
      file: this.fileFor(path, etag),
      size: meta.size,
      etag,
      pins: 0,
      stale: false,
    };
    const tmp = nodePath.join(this.dir, `.${randomUUID()}.tmp`);
    try {
      await this.evict();
      const written = await this.source.download(path, tmp, etag || undefined);
      if (written !== meta.size) throw new RemoteObjectChanged(`${this.source.root}/${path}`);
      await fs.rename(tmp, entry.file);
      await fs.writeFile(`${entry.file}.json`, JSON.stringify({ path, size: entry.size, etag }));
    } catch (err) {
      this.held -= meta.size;
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.stats.bytesDownloaded += meta.size;
    this.entries.set(path, entry);
    return entry;
  }

  /** Local name of a version's copy: a hash, so any key maps to a flat, safe name, and versions never share one. */
  private fileFor(path: string, etag: string): string {
    const name = createHash('sha256')
      .update(`${this.source.root}\n${path}\n${etag}`)
      .digest('hex')
      .slice(0, 40);
    return nodePath.join(this.dir, name);
  }

  /** Evicts least recently used copies nobody holds until the bytes held fit the bound. */
  private async evict(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      if (this.held <= this.maxBytes) return;
      if (entry.pins > 0) continue;
      this.stats.evictions++;
      await this.remove(entry);
    }
  }

  /** Takes a copy out of the index now; its file goes when nobody holds it. */
  private drop(entry: Entry): void {
    this.entries.delete(entry.path);
    entry.stale = true;
    if (entry.pins === 0) void this.remove(entry);
  }

  private async remove(entry: Entry): Promise<void> {
    if (entry.removed) return;
    entry.removed = true;
    if (this.entries.get(entry.path) === entry) this.entries.delete(entry.path);
    this.held -= entry.size;
    await fs.rm(entry.file, { force: true });
    await fs.rm(`${entry.file}.json`, { force: true });
  }

  /** Rebuilds the index from the sidecars, oldest first; drops temporary files, orphans and torn copies. */
  private async recover(): Promise<void> {
    const names = await fs.readdir(this.dir);
    const found: { entry: Entry; mtime: number }[] = [];
    for (const name of names) {
      const file = nodePath.join(this.dir, name);
      if (name.endsWith('.tmp')) await fs.rm(file, { force: true });
      if (!name.endsWith('.json')) continue;
      const data = file.slice(0, -'.json'.length);
      const side = parseSidecar(await fs.readFile(file, 'utf8'));
      const st = await fs.stat(data).catch((err: { code?: string }) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (!side || !st || st.size !== side.size || data !== this.fileFor(side.path, side.etag)) {
        await fs.rm(data, { force: true });
        await fs.rm(file, { force: true });
        continue;
      }
      found.push({ entry: { ...side, file: data, pins: 0, stale: false }, mtime: st.mtimeMs });
    }
    for (const { entry } of found.sort((a, b) => a.mtime - b.mtime)) {
      this.entries.set(entry.path, entry);
      this.held += entry.size;
    }
    for (const name of names) {
      const file = nodePath.join(this.dir, name);
      if (
        !name.endsWith('.json') &&
        !name.endsWith('.tmp') &&
        ![...this.entries.values()].some((e) => e.file === file)
      )
        await fs.rm(file, { force: true });
    }
  }
}

/** Moves a file, copying it where a rename cannot cross file systems. */
async function moveInto(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EXDEV') throw err;
    await fs.copyFile(from, to);
    await fs.rm(from, { force: true });
  }
}

function matches(have: { size: number; etag: string }, expected: Expected): boolean {
  return (
    (expected.size === undefined || expected.size === have.size) &&
    (expected.etag === undefined || expected.etag === have.etag)
  );
}

/** A sidecar's contents, or undefined when it is torn (a crash while it was written). */
function parseSidecar(text: string): { path: string; size: number; etag: string } | undefined {
  try {
    const side = JSON.parse(text) as { path?: unknown; size?: unknown; etag?: unknown };
    if (typeof side.path === 'string' && typeof side.size === 'number' && typeof side.etag === 'string')
      return { path: side.path, size: side.size, etag: side.etag };
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  return undefined;
}
