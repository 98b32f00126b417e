import { TweetlakeError } from '../errors.js';
import type { LocalFiles } from './local-files.js';

/** One entry of a listing. `path` is relative to the store root, with '/' separators. */
export interface ObjectMeta {
  path: string;
  size: number;
  /** Last modification, milliseconds since the epoch. */
  lastModified: number;
}

/**
 * The only I/O the Delta layer and the streaming engine do. Rules every implementation MUST keep:
 * - `list` returns entries sorted by path (byte order), files only, recursively below the prefix;
 * - `putIfAbsent` is atomic: the object appears whole or not at all, and if it already exists the call
 *   throws `ObjectExists` and leaves the existing object untouched;
 * - `put` replaces atomically (readers see the old or the new object, never a mix);
 * - `get` of a missing object throws `ObjectNotFound`; only a missing object is "absent": any other
 *   failure (permission denied, I/O error) throws, as `StoreIOError` for a local store.
 *
 * Files DuckDB reads or writes go through one seam, `localFilesOf(store)` (src/storage/local-files.ts):
 * `open(paths)` gives local paths DuckDB can read (a local store's own files; for any other store, a
 * copy downloaded in ranges into a bounded cache), and `staging()` a local folder for the files
 * DuckDB writes, which `putFile`/`putFileIfAbsent` then move or upload into the store. A store with
 * a better way (a local store, or one DuckDB can read over HTTP) provides it as `localFiles`.
 */
export interface ObjectStore {
  /** A human-readable location of the store root (a path or URI). */
  readonly root: string;
  get(path: string): Promise<Uint8Array>;
  /** Bytes [start, start+length) of an object. */
  getRange(path: string, start: number, length: number): Promise<Uint8Array>;
  head(path: string): Promise<ObjectMeta | undefined>;
  put(path: string, data: Uint8Array | string): Promise<void>;
  putIfAbsent(path: string, data: Uint8Array | string): Promise<void>;
  /** `put` of a local file's contents, streamed (never whole in memory); the local file may be moved away. */
  putFile(path: string, file: string): Promise<void>;
  /** `putIfAbsent` of a local file's contents, streamed (never whole in memory); the local file stays. */
  putFileIfAbsent(path: string, file: string): Promise<void>;
  delete(path: string): Promise<void>;
  /**
   * Every object whose path starts with `prefix`, sorted by path; with `startAfter` (a full path), only
   * those that sort after it (S3's `start-after`: a store may skip the rest without reading it).
   */
  list(prefix: string, startAfter?: string): Promise<ObjectMeta[]>;
  /** Objects in the "directory" `prefix` whose names sort after `startAfter` (a full path), sorted. */
  listFrom(prefix: string, startAfter: string): Promise<ObjectMeta[]>;
  /** Where an object is, for people and records (a local path or a URI); not for opening it. */
  location(path: string): string;
  /** How DuckDB opens objects and stages files, when the store has its own way (see `localFilesOf`). */
  readonly localFiles?: LocalFiles;
  /** Removes the folders of these (deleted) objects that are now empty (stores without folders need not). */
  removeEmptyFolders?(deleted: string[]): Promise<void>;
  /** Creates the empty folder `path` (stores with folders, for tools that expect one; others need not). */
  makeFolder?(path: string): Promise<void>;
  /** Whether the root is there to list (stores without folders, such as S3 prefixes, need not say). */
  rootStatus?(): Promise<RootStatus>;
}

/** Where a store's root stands: a folder that can be listed, missing, not a folder, or unreadable. */
export type RootStatus =
  { kind: 'ok' } | { kind: 'missing' } | { kind: 'not-a-folder' } | { kind: 'unreadable'; reason: string };

/** Thrown by `putIfAbsent` when the object is already there. */
export class ObjectExists extends TweetlakeError {
  constructor(readonly path: string) {
    super('OBJECT_EXISTS', `object already exists: ${path}`, { domain: 'external', retryable: true });
  }
}

/** Thrown by `get` when the object does not exist. */
export class ObjectNotFound extends TweetlakeError {
  constructor(readonly path: string) {
    super('OBJECT_NOT_FOUND', `object not found: ${path}`, { domain: 'external' });
  }
}
