import { sharedSession, type DuckSession } from '../duck/session.js';
import { storeAt } from '../storage/locations.js';
import type { ObjectStore } from '../storage/object-store.js';
import { VersionNotFound } from './errors.js';
import { commitInfoOf, logReaderOf } from './log-reader.js';
import { LOG_DIR } from './log-files.js';
import { writeCheckpoint } from './checkpoint-writer.js';
import { tableHistory, type HistoryEntry } from './history.js';
import { optimizeTable, type OptimizeOptions, type OptimizeResult } from './optimize.js';
import { planScan, type ScanOptions, type ScanPlan } from './scan.js';
import type { StructType } from './schema.js';
import { Snapshot, type TableContext } from './snapshot.js';
import { vacuumTable, type VacuumOptions, type VacuumResult } from './vacuum.js';
import {
  createTable,
  writeTable,
  type CreateTableOptions,
  type DataSource,
  type WriteOptions,
  type WriteResult,
} from './write.js';

/** How to pick a snapshot: the latest, a version, or the newest commit at or before a time. */
export interface SnapshotSpec {
  version?: number;
  /** Milliseconds since the epoch, or a Date. */
  timestamp?: number | Date;
}

/** A Delta table at a location: the entry point for reading, writing and maintenance. */
export class DeltaTable implements TableContext {
  constructor(
    readonly store: ObjectStore,
    readonly session: DuckSession,
  ) {}

  /** A table at a location: a local folder or an `s3://bucket/prefix` URL (the table need not exist yet). */
  static async forPath(path: string, session?: DuckSession): Promise<DeltaTable> {
    return new DeltaTable(storeAt(path), session ?? (await sharedSession()));
  }

  /** Location of the table root. */
  get location(): string {
    return this.store.root;
  }

  /** Whether the location holds a Delta log with at least one commit or checkpoint. */
  async exists(): Promise<boolean> {
    const entries = await this.store.list(`${LOG_DIR}/`);
    return entries.some((e) => /\/\d{20}\.(json|checkpoint\.)/.test(e.path));
  }

  /** The snapshot at the latest version, at a version, or as of a time. */
  async snapshot(spec: SnapshotSpec = {}): Promise<Snapshot> {
    if (spec.timestamp !== undefined) {
      const version = await this.versionAsOf(spec.timestamp);
      return Snapshot.load(this, version);
    }
    return Snapshot.load(this, spec.version);
  }

  /** Creates an empty table; fails if one exists. Returns version 0. */
  create(schema: StructType, options: CreateTableOptions = {}): Promise<number> {
    return createTable(this, schema, options);
  }

  /** Appends or overwrites rows (creating the table when missing). */
  write(source: DataSource, options: WriteOptions = {}): Promise<WriteResult> {
    return writeTable(this, source, options);
  }

  /** DESCRIBE HISTORY: commits newest first. */
  history(limit?: number): Promise<HistoryEntry[]> {
    return tableHistory(this, limit);
  }

  /** OPTIMIZE (bin-packing compaction). */
  optimize(options: OptimizeOptions = {}): Promise<OptimizeResult> {
    return optimizeTable(this, options);
  }

  /** VACUUM (delete files no retained version needs). */
  vacuum(options: VacuumOptions = {}): Promise<VacuumResult> {
    return vacuumTable(this, options);
  }

  /** Writes a checkpoint of the latest version (or of `version`). */
  async checkpoint(version?: number): Promise<number> {
    const snapshot = await Snapshot.load(this, version);
    await writeCheckpoint(this, snapshot);
    return snapshot.version;
  }

  /** SQL over a snapshot's rows (the latest unless given); call `dispose()` when done. */
  async scan(snapshot?: Snapshot, options: ScanOptions = {}): Promise<ScanPlan> {
    return planScan(snapshot ?? (await this.snapshot()), options);
  }

  /**
   * The newest version committed at or before `timestamp`. Commit times are the commit files' times
   * made strictly increasing (as Spark does), or in-commit timestamps where the table has them.
   */
  async versionAsOf(timestamp: number | Date): Promise<number> {
    const ts = typeof timestamp === 'number' ? timestamp : timestamp.getTime();
    const commits = await commitTimestamps(this);
    let found: number | undefined;
    for (const c of commits) {
      if (c.timestamp <= ts) found = c.version;
      else break;
    }
    if (found === undefined) {
      const first = commits[0];
      throw new VersionNotFound(
        `no version of ${this.location} at or before ${new Date(ts).toISOString()}` +
          (first
            ? `; the oldest commit is version ${first.version} at ${new Date(first.timestamp).toISOString()}`
            : ''),
      );
    }
    return found;
  }
}

/** Every commit's version and timestamp, ascending, with timestamps made strictly increasing. */
export async function commitTimestamps(
  table: TableContext,
): Promise<{ version: number; timestamp: number }[]> {
  const out: { version: number; timestamp: number }[] = [];
  let prev = -Infinity;
  for await (const c of logReaderOf(table.store).commitRange(0)) {
    const ict = commitInfoOf(c.actions)?.inCommitTimestamp;
    let ts = typeof ict === 'number' ? ict : c.lastModified;
    if (ts <= prev) ts = prev + 1;
    prev = ts;
    out.push({ version: c.version, timestamp: ts });
  }
  return out;
}
