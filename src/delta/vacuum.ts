import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { TweetlakeError } from '../errors.js';
import { decodeActionPath, type DeletionVectorDescriptor } from './actions.js';
import { deletionVectorPath } from './deletion-vectors.js';
import { checkWriteSupported } from './features.js';
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

function isHidden(relative: string): boolean {
  return relative
    .split('/')
    .some((seg) => (seg.startsWith('_') || seg.startsWith('.')) && !seg.includes('='));
}

/**
 * VACUUM: deletes files in the table directory that no version within the retention period needs:
 * not in the latest snapshot, not removed within the retention period, and not written within it
 * (a running writer's uncommitted files). Logs VACUUM START / VACUUM END commits as Spark does.
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
  const cutoff = now - retentionMs;
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
  const doomed = (await ctx.store.list('')).filter(
    (f) =>
      !keep.has(f.path) &&
      f.lastModified <= cutoff &&
      (!isHidden(f.path) || f.path.startsWith('_tweetlake_staging/')),
  );
  const result: VacuumResult = {
    files: doomed.map((f) => f.path),
    bytes: doomed.reduce((n, f) => n + f.size, 0),
    dryRun: options.dryRun ?? false,
  };
  if (result.dryRun) return result;
  const parameters = {
    retentionCheckEnabled: options.enforceRetentionDuration ?? true,
    defaultRetentionMillis: tableMs,
    specifiedRetentionMillis: retentionMs,
  };
  const start = new Transaction(ctx, snapshot, {
    operation: 'VACUUM START',
    operationParameters: parameters,
    operationMetrics: { numFilesToDelete: String(doomed.length), sizeOfDataToDelete: String(result.bytes) },
  });
  const started = await start.commit();
  for (const f of doomed) await ctx.store.delete(f.path);
  await removeEmptyDirs(
    ctx.store.root,
    doomed.map((f) => f.path),
  );
  const end = new Transaction(ctx, await Snapshot.load(ctx, started.version), {
    operation: 'VACUUM END',
    operationParameters: { status: 'COMPLETED' },
    operationMetrics: { numDeletedFiles: String(doomed.length) },
  });
  await end.commit();
  return result;
}

async function removeEmptyDirs(root: string, deleted: string[]): Promise<void> {
  const dirs = new Set<string>();
  for (const p of deleted) {
    let d = nodePath.posix.dirname(p);
    while (d !== '.' && d !== '') {
      dirs.add(d);
      d = nodePath.posix.dirname(d);
    }
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      await fs.rmdir(nodePath.join(root, d));
    } catch {
      // not empty: keep it
    }
  }
}
