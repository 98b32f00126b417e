import { ObjectNotFound, type ObjectStore } from '../storage/object-store.js';
import { parseActions, type Action, type CommitInfo } from './actions.js';
import { CorruptLog } from './errors.js';
import { commitPath } from './log-files.js';
import { listCommits, type CommitFile } from './log-segment.js';

/** A commit of the log, parsed. Its actions are shared by every reader: treat them as read-only. */
export interface Commit {
  version: number;
  path: string;
  lastModified: number;
  actions: readonly Action[];
}

interface Cached {
  size: number;
  lastModified: number;
  actions: readonly Action[];
}

/** Default bound of the cache: bytes of commit JSON whose parsed actions are kept. */
export const DEFAULT_LOG_CACHE_BYTES = 32 << 20;

/**
 * The one reader of a table's JSON commits: every consumer (snapshots, streaming sources, history,
 * conflict checks, in-commit timestamps, VACUUM, file checks) reads and parses commits here. Parsed
 * actions are kept in an LRU cache bounded by the bytes of their JSON text (`maxBytes`); an entry is
 * used only while the commit file has the size and modification time it had when read, so a table
 * deleted and created again at the same place is never answered from the cache.
 */
export class LogReader {
  private readonly cache = new Map<string, Cached>();
  private bytes = 0;

  constructor(
    readonly store: ObjectStore,
    readonly maxBytes = DEFAULT_LOG_CACHE_BYTES,
  ) {}

  /**
   * The actions of the commit at `version`, or undefined when its file is not there. `file`, the
   * commit's listing entry when the caller has one, saves asking the store for it.
   */
  async readCommit(
    version: number,
    file?: { size?: number; lastModified: number },
  ): Promise<Commit | undefined> {
    const path = commitPath(version);
    const meta =
      file?.size !== undefined
        ? { size: file.size, lastModified: file.lastModified }
        : await this.store.head(path);
    if (!meta) return undefined;
    const hit = this.cache.get(path);
    if (hit && hit.size === meta.size && hit.lastModified === meta.lastModified) {
      this.cache.delete(path); // most recently used last
      this.cache.set(path, hit);
      return { version, path, lastModified: hit.lastModified, actions: hit.actions };
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.store.get(path);
    } catch (err) {
      if (err instanceof ObjectNotFound) return undefined;
      throw err;
    }
    const actions = parseActions(new TextDecoder().decode(bytes), path);
    this.remember(path, { size: bytes.length, lastModified: meta.lastModified, actions });
    return { version, path, lastModified: meta.lastModified, actions };
  }

  /** The commit at `version`; a missing one is a CorruptLog (for readers that need every commit). */
  async requireCommit(version: number, file?: { size?: number; lastModified: number }): Promise<Commit> {
    const commit = await this.readCommit(version, file);
    if (!commit)
      throw new CorruptLog(
        `the log of ${this.store.root} is missing commit ${version}: it was deleted while read`,
      );
    return commit;
  }

  /** The commits whose JSON is in the log with versions in [from, to] (to: the latest), ascending. */
  async *commitRange(from: number, to = Infinity): AsyncGenerator<Commit> {
    const files = (await listCommits(this.store)).filter((c) => c.version >= from && c.version <= to);
    yield* this.commitsOf(files);
  }

  /** The listed commit files, read in order (a file deleted since it was listed is left out). */
  async *commitsOf(files: readonly CommitFile[]): AsyncGenerator<Commit> {
    for (const f of files) {
      const commit = await this.readCommit(f.version, f);
      if (commit) yield commit;
    }
  }

  private remember(path: string, entry: Cached): void {
    if (entry.size > this.maxBytes) return;
    const old = this.cache.get(path);
    if (old) {
      this.bytes -= old.size;
      this.cache.delete(path);
    }
    this.cache.set(path, entry);
    this.bytes += entry.size;
    for (const [key, e] of this.cache) {
      if (this.bytes <= this.maxBytes) break;
      this.cache.delete(key);
      this.bytes -= e.size;
    }
  }
}

const readers = new WeakMap<ObjectStore, LogReader>();

/** The log reader of a store (one per store object, so all its tables' consumers share the cache). */
export function logReaderOf(store: ObjectStore): LogReader {
  let reader = readers.get(store);
  if (!reader) {
    reader = new LogReader(store);
    readers.set(store, reader);
  }
  return reader;
}

/** The commitInfo action of a commit, if it has one. */
export function commitInfoOf(actions: readonly Action[]): CommitInfo | undefined {
  return actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;
}
