/**
 * Turns a failed read of a table's files into an error that names the table, the version and the
 * file, and says why: the file is missing (and which commit removed it and which VACUUM deleted it),
 * or it cannot be read (permissions, truncated, not Parquet). DuckDB's own message and SQL stay in
 * `cause`. The files are probed directly rather than DuckDB's text being parsed.
 */
import { errorMessage } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { StoreIOError } from '../storage/store-errors.js';
import { decodeActionPath } from './actions.js';
import { DataFileNotFound, DataFileUnreadable, type FileGoneReason } from './errors.js';
import { commitInfoOf, logReaderOf } from './log-reader.js';
import type { Snapshot, TableContext } from './snapshot.js';

const PARQUET_MAGIC = 'PAR1';
/** Files probed at once when looking for the one that failed. */
const PROBE_BATCH = 32;

/** A file the read needs: its path relative to the table root and the size the log gives. */
export interface NeededFile {
  path: string;
  size?: number;
}

/**
 * Why a file of the table cannot be read ('missing', or the reason), or undefined when it looks fine:
 * it exists, is readable and (for Parquet) has the magic number at both ends.
 */
export async function fileProblem(
  store: ObjectStore,
  file: NeededFile,
  parquet = true,
): Promise<string | 'missing' | undefined> {
  try {
    const meta = await store.head(file.path);
    if (!meta) return 'missing';
    const head = await store.getRange(file.path, 0, 4);
    if (!parquet) return undefined;
    const tail = await store.getRange(file.path, Math.max(0, meta.size - 4), 4);
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    if (meta.size < 12 || text(head) !== PARQUET_MAGIC || text(tail) !== PARQUET_MAGIC) {
      const logSize = file.size !== undefined && file.size !== meta.size ? `, the log says ${file.size}` : '';
      return `not a complete Parquet file: ${meta.size} bytes${logSize}`;
    }
    return undefined;
  } catch (err) {
    if (err instanceof StoreIOError && err.accessDenied) return 'permission denied';
    if (err instanceof StoreIOError && err.isFolder) return 'a folder, not a file';
    return errorMessage(err);
  }
}

/** The commit that removed `path` after `version`, and the VACUUM after that, from the JSON commits still in the log. */
export async function fileGoneReason(
  ctx: TableContext,
  version: number,
  path: string,
): Promise<FileGoneReason> {
  const reason: FileGoneReason = {};
  for await (const commit of logReaderOf(ctx.store).commitRange(version + 1)) {
    const actions = commit.actions;
    if (reason.removedIn === undefined) {
      if (actions.some((a) => 'remove' in a && decodeActionPath(a.remove.path) === path)) {
        reason.removedIn = commit.version;
      }
      continue;
    }
    const info = commitInfoOf(actions);
    if (info?.operation === 'VACUUM START') {
      reason.vacuumedIn = commit.version;
      break;
    }
  }
  return reason;
}

/**
 * The typed error for a failed read of `files` (of `snapshot`): DataFileNotFound or DataFileUnreadable
 * for the first file found at fault, else `cause` itself (the failure was not about the files).
 */
export async function explainReadFailure(
  snapshot: Snapshot,
  files: NeededFile[],
  cause: unknown,
  parquet = true,
): Promise<unknown> {
  const ctx = snapshot.context;
  for (let i = 0; i < files.length; i += PROBE_BATCH) {
    const batch = files.slice(i, i + PROBE_BATCH);
    const found = await Promise.all(batch.map((f) => fileProblem(ctx.store, f, parquet)));
    const at = found.findIndex((r) => r !== undefined);
    if (at < 0) continue;
    const file = batch[at]!.path;
    if (found[at] === 'missing') {
      return new DataFileNotFound(
        ctx.store.root,
        snapshot.version,
        file,
        await fileGoneReason(ctx, snapshot.version, file),
        cause,
      );
    }
    return new DataFileUnreadable(ctx.store.root, snapshot.version, file, found[at]!, cause);
  }
  return cause;
}
