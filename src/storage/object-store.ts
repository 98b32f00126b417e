import { TweetlakeError } from '../errors.js';

/** One entry of a listing. `path` is relative to the store root, with '/' separators. */
export interface ObjectMeta {
  path: string;
  size: number;
  /** Last modification, milliseconds since the epoch. */
  lastModified: number;
}

/**
 * The only I/O the Delta layer does. Rules every implementation MUST keep:
 * - `list` returns entries sorted by path (byte order), files only, recursively below the prefix;
 * - `putIfAbsent` is atomic: the object appears whole or not at all, and if it already exists the call
 *   throws `ObjectExists` and leaves the existing object untouched;
 * - `put` replaces atomically (readers see the old or the new object, never a mix);
 * - `get` of a missing object throws `ObjectNotFound`.
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
  /** `putIfAbsent` of a local file's contents, streamed (never whole in memory). */
  putFileIfAbsent(path: string, file: string): Promise<void>;
  delete(path: string): Promise<void>;
  /** Every object whose path starts with `prefix`, sorted by path. */
  list(prefix: string): Promise<ObjectMeta[]>;
  /** Objects in the "directory" `prefix` whose names sort after `startAfter` (a full path), sorted. */
  listFrom(prefix: string, startAfter: string): Promise<ObjectMeta[]>;
  /** A path or URI of the object that a local engine (DuckDB) can open directly. */
  localPath(path: string): string;
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
