import { randomUUID } from 'node:crypto';
import { TweetlakeError } from '../errors.js';
import { STAGING_DIR } from '../storage/local-store.js';
import type { ObjectMeta } from '../storage/object-store.js';
import { decodeActionPath, type DeletionVectorDescriptor } from './actions.js';
import { deletionVectorPath } from './deletion-vectors.js';
import { checkWriteSupported } from './features.js';
import { LOG_DIR } from './log-files.js';
import { logReaderOf } from './log-reader.js';
import { Snapshot, type TableContext } from './snapshot.js';
import { parseInterval } from './table-properties.js';
import { Transaction } from './transaction.js';

export interface VacuumOptions {
  /** Keep files needed by versions newer than this many hours (default: the table's delta.deletedFileRetentionDuration, 168 h). */
  retentionHours?: number;
  /** List what would be deleted; delete nothing, commit nothing. */
  dryRun?: boolean;
  /** Refuse a retention shorter than the table's (default true), as Spark's retentionDurationCheck. */
  enforceRetentionDuration?: boolean;
  /** The clock (tests). */
  now?: number;
}

export interface VacuumResult {
  /** Paths (relative to the table root) deleted, or that would be deleted in a dry run. */
  files: string[];
  bytes: number;
  dryRun: boolean;
}

/** VACUUM refused a retention period shorter than the table's. */
export class RetentionTooShort extends TweetlakeError {
  constructor(hours: number, tableHours: number) {
    super(
      'DELTA_VACUUM_RETENTION_TOO_SHORT',
      `a retention of ${hours} h is shorter than the table's ${tableHours} h (delta.deletedFileRetentionDuration): ` +
        `readers of older versions and running writers could lose files. If you are sure nothing uses them, ` +
        `disable the check (--force / enforceRetentionDuration: false)`,
      { domain: 'user' },
    );
  }
}

/** Leftovers of killed writers under `_tweetlake_staging/` go only once this old: a running write is never that slow. */
const STAGING_MIN_AGE_MS = 24 * 3_600_000;
const STAGING = `${STAGING_DIR}/`;

function isHidden(relative: string): boolean {
  return relative
    .split('/')
    .some((seg) => (seg.startsWith('_') || seg.startsWith('.')) && !seg.includes('='));
}

/**
 * The store's clock now: the modification time of a marker written and deleted at once. Files are
 * compared with their own modification times by the same clock, however coarse it is or however
 * far the machine's clock is from the store's.
 */
async function storeNow(ctx: TableContext): Promise<number> {
  const marker = `${LOG_DIR}/.tweetlake-vacuum-${randomUUID()}.tmp`;
  await ctx.store.put(marker, '');
  try {
    const meta = await ctx.store.head(marker);
    if (!meta) {
      throw new TweetlakeError(
        'DELTA_VACUUM_CLOCK',
        `VACUUM's clock marker ${marker} vanished: run it again`,
        {
          domain: 'external',
          retryable: true,
        },
      );
    }
    return meta.lastModified;
  } finally {
    await ctx.store.delete(marker);
  }
}

/** Paths that the snapshot needs: its files and their deletion vectors, and tombstones newer than `cutoff`. */
function neededBy(snapshot: Snapshot, cutoff: number): Set<string> {
  const keep = new Set<string>();
  const keepDv = (dv: DeletionVectorDescriptor | null | undefined) => {
    if (dv && dv.storageType !== 'i') keep.add(deletionVectorPath(dv));
  };
  for (const f of snapshot.files) {
    keep.add(decodeActionPath(f.path));
    keepDv(f.deletionVector);
  }
  for (const t of snapshot.tombstones) {
    if ((t.deletionTimestamp ?? 0) > cutoff) {
      keep.add(decodeActionPath(t.path));
      keepDv(t.deletionVector);
    }
  }
  return keep;
}

/** Every file (and deletion vector file) that a commit after `version` adds, up to the latest commit. */
async function addedSince(ctx: TableContext, version: number): Promise<Set<string>> {
  const added = new Set<string>();
  for await (const commit of logReaderOf(ctx.store).commitRange(version + 1)) {
    for (const a of commit.actions) {
      if (!('add' in a)) continue;
      added.add(decodeActionPath(a.add.path));
      const dv = a.add.deletionVector;
      if (dv && dv.storageType !== 'i') added.add(deletionVectorPath(dv));
    }
  }
  return added;
}

/**
 * The files of the table folder that the snapshot does not need, last modified at or before `cutoff`
 * and before now by the store's clock (staging leftovers only once a day old; other hidden files never).
 */
async function unneededFiles(
  ctx: TableContext,
  snapshot: Snapshot,
  now: number,
  cutoff: number,
): Promise<ObjectMeta[]> {
  const startedAt = await storeNow(ctx);
  const keep = neededBy(snapshot, cutoff);
  return (await ctx.store.list('')).filter(
    (f) =>
      !keep.has(f.path) &&
      f.lastModified <= cutoff &&
      f.lastModified < startedAt &&
      (f.path.startsWith(STAGING) ? f.lastModified <= now - STAGING_MIN_AGE_MS : !isHidden(f.path)),
  );
}

/**
 * VACUUM: deletes files in the table directory that no version within the retention period needs:
 * not in the latest snapshot, not removed within the retention period, and not written within it.
 * Whatever the retention, it never deletes a file modified after it started, nor one that any
 * commit after its snapshot adds (the log is read again after VACUUM START, just before deleting);
 * a writer that started before VACUUM START and commits after it rewrites its files (ConcurrentVacuum).
 * Logs VACUUM START / VACUUM END commits as Spark does.
 */
export async function vacuumTable(ctx: TableContext, options: VacuumOptions = {}): Promise<VacuumResult> {
  const snapshot = await Snapshot.load(ctx);
  checkWriteSupported(snapshot.protocol, snapshot.metadata, ctx.store.root, { removesData: false });
  const tableMs = parseInterval(
    snapshot.properties['delta.deletedFileRetentionDuration'] ?? 'interval 1 week',
  );
  const retentionMs = options.retentionHours === undefined ? tableMs : options.retentionHours * 3_600_000;
  if ((options.enforceRetentionDuration ?? true) && retentionMs < tableMs) {
    throw new RetentionTooShort(retentionMs / 3_600_000, tableMs / 3_600_000);
  }
  const now = options.now ?? Date.now();
  const candidates = await unneededFiles(ctx, snapshot, now, now - retentionMs);
  if (options.dryRun) {
    return {
      files: candidates.map((f) => f.path),
      bytes: candidates.reduce((n, f) => n + f.size, 0),
      dryRun: true,
    };
  }
  const parameters = {
    retentionCheckEnabled: options.enforceRetentionDuration ?? true,
    defaultRetentionMillis: tableMs,
    specifiedRetentionMillis: retentionMs,
  };
  const start = new Transaction(ctx, snapshot, {
    operation: 'VACUUM START',
    operationParameters: parameters,
    operationMetrics: {
      numFilesToDelete: String(candidates.length),
      sizeOfDataToDelete: String(candidates.reduce((n, f) => n + f.size, 0)),
    },
  });
  const started = await start.commit();
  // Commits that landed since the snapshot (before VACUUM START won its version, or while it retried)
  // may reference files that were orphans when listed.
  const committed = await addedSince(ctx, snapshot.version);
  const doomed = candidates.filter((f) => !committed.has(f.path));
  for (const f of doomed) await ctx.store.delete(f.path);
  await ctx.store.removeEmptyFolders?.(doomed.map((f) => f.path));
  const end = new Transaction(ctx, await Snapshot.load(ctx, started.version), {
    operation: 'VACUUM END',
    operationParameters: { status: 'COMPLETED' },
    operationMetrics: { numDeletedFiles: String(doomed.length) },
  });
  await end.commit();
  return { files: doomed.map((f) => f.path), bytes: doomed.reduce((n, f) => n + f.size, 0), dryRun: false };
}
