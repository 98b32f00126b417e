import type { DuckSession } from '../duck/session.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { AddFile, CommitInfo, DomainMetadata, Metadata, Protocol, RemoveFile } from './actions.js';
import { readCheckpoint } from './checkpoint-reader.js';
import { CorruptLog } from './errors.js';
import { checkReadSupported } from './features.js';
import { buildLogSegment, type CommitFile, type LogSegment } from './log-segment.js';
import { commitInfoOf, logReaderOf } from './log-reader.js';
import { applyActions, cloneState, emptyState, type TableState } from './replay.js';
import { parseSchema, type ColumnMappingMode, type StructType } from './schema.js';

/** Where a table lives and what reads its Parquet: what every snapshot and transaction needs. */
export interface TableContext {
  store: ObjectStore;
  session: DuckSession;
}

/** Per-file statistics (PROTOCOL.md "Per-file Statistics"), parsed. */
export interface FileStats {
  numRecords?: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, unknown>;
  tightBounds?: boolean;
}

/** Parses an add's `stats`, or returns undefined when it has none or they are unreadable. */
export function fileStats(add: { stats?: string | null }): FileStats | undefined {
  if (!add.stats) return undefined;
  try {
    return JSON.parse(add.stats) as FileStats;
  } catch {
    return undefined;
  }
}

/** Rows of a data file from its statistics (`numRecords`), or undefined when it has none. */
export function numRecordsOf(add: { stats?: string | null }): number | undefined {
  const n = fileStats(add)?.numRecords;
  return n === undefined ? undefined : Number(n);
}

/** Rows a data file holds now: its `numRecords` less the rows its deletion vector removes (0 without stats). */
export function liveRecordsOf(add: AddFile): number {
  return (numRecordsOf(add) ?? 0) - (add.deletionVector?.cardinality ?? 0);
}

/**
 * An immutable view of a table at one version: protocol, metadata, schema, active files,
 * tombstones, application transaction versions and domain metadata.
 */
export class Snapshot {
  readonly schema: StructType;

  private constructor(
    readonly context: TableContext,
    readonly version: number,
    private readonly state: TableState,
    /** Modification time of the commit file at this version (ms). */
    readonly lastModified: number,
  ) {
    if (!state.protocol)
      throw new CorruptLog(`version ${version} of ${context.store.root} has no protocol action`);
    if (!state.metadata)
      throw new CorruptLog(`version ${version} of ${context.store.root} has no metaData action`);
    this.schema = parseSchema(state.metadata.schemaString);
  }

  /** Loads the latest version, or `version` when given. */
  static async load(context: TableContext, version?: number): Promise<Snapshot> {
    const segment = await buildLogSegment(context.store, version);
    const state = emptyState();
    if (segment.checkpoint) {
      for await (const batch of readCheckpoint(context.store, context.session, segment.checkpoint)) {
        applyActions(state, batch);
      }
    }
    await replayCommits(context.store, state, segment.commits);
    if (
      segment.commits.length === 0 &&
      state.metadata?.configuration?.['delta.enableInCommitTimestamps'] === 'true'
    ) {
      // The checkpoint is at this very version: its commit still holds the in-commit timestamp.
      state.commitInfo = await commitInfoAt(context.store, segment.version);
    }
    return Snapshot.checked(context, segment, state);
  }

  private static checked(context: TableContext, segment: LogSegment, state: TableState): Snapshot {
    const snapshot = new Snapshot(context, segment.version, state, segment.lastModified);
    checkReadSupported(snapshot.protocol, context.store.root);
    return snapshot;
  }

  /**
   * A snapshot at the newest version (or at `version`, when given), reading only the commits after
   * this one when it is older.
   */
  async update(version?: number): Promise<Snapshot> {
    if (version === this.version) return this;
    if (version !== undefined && version < this.version) return Snapshot.load(this.context, version);
    const segment = await buildLogSegment(this.context.store, version);
    if (segment.version === this.version) return this;
    const first = segment.commits[0];
    if (segment.version < this.version || !first || first.version > this.version + 1) {
      return Snapshot.load(this.context, version); // a newer checkpoint covers our version: start from it
    }
    const state = cloneState(this.state);
    await replayCommits(
      this.context.store,
      state,
      segment.commits.filter((c) => c.version > this.version),
    );
    return Snapshot.checked(this.context, segment, state);
  }

  get protocol(): Protocol {
    return this.state.protocol!;
  }

  get metadata(): Metadata {
    return this.state.metadata!;
  }

  get partitionColumns(): string[] {
    return this.metadata.partitionColumns;
  }

  /** Table properties (`metaData.configuration`). */
  get properties(): Readonly<Record<string, string>> {
    return this.metadata.configuration;
  }

  get columnMappingMode(): ColumnMappingMode {
    const mode = this.properties['delta.columnMapping.mode'];
    return mode === 'name' || mode === 'id' ? mode : 'none';
  }

  /** The commitInfo of the commit at this version, when it was replayed from JSON. */
  get commitInfo(): CommitInfo | undefined {
    return this.state.commitInfo;
  }

  /** Commit timestamp: the in-commit timestamp when the table has them, else the commit file's time. */
  get timestamp(): number {
    const ict = this.state.commitInfo?.inCommitTimestamp;
    return typeof ict === 'number' ? ict : this.lastModified;
  }

  /** Active files (add actions after reconciliation). */
  get files(): AddFile[] {
    return [...this.state.files.values()];
  }

  get numFiles(): number {
    return this.state.files.size;
  }

  /** Remove actions still kept as tombstones (for VACUUM and checkpoints). */
  get tombstones(): RemoveFile[] {
    return [...this.state.tombstones.values()];
  }

  /** Live domain metadata, by domain. */
  get domainMetadata(): ReadonlyMap<string, DomainMetadata> {
    return this.state.domains;
  }

  /** The last committed version of a streaming application (`txn` action), if any. */
  txnVersion(appId: string): number | undefined {
    return this.state.txns.get(appId)?.version;
  }

  /** Every live `txn` action. */
  get transactions(): { appId: string; version: number; lastUpdated?: number | null }[] {
    return [...this.state.txns.values()];
  }

  /** Sum of the files' `numRecords` minus rows removed by deletion vectors; undefined if a file lacks stats. */
  get numRecords(): number | undefined {
    let total = 0;
    for (const f of this.state.files.values()) {
      const n = numRecordsOf(f);
      if (n === undefined) return undefined;
      total += n - (f.deletionVector?.cardinality ?? 0);
    }
    return total;
  }

  /** Total bytes of the active files. */
  get sizeInBytes(): number {
    let total = 0;
    for (const f of this.state.files.values()) total += f.size;
    return total;
  }
}

/** The commitInfo of the commit at `version`, or undefined when the commit is gone or has none. */
async function commitInfoAt(store: ObjectStore, version: number): Promise<CommitInfo | undefined> {
  const commit = await logReaderOf(store).readCommit(version); // gone (log cleaned up): only the file time is left
  return commit && commitInfoOf(commit.actions);
}

async function replayCommits(store: ObjectStore, state: TableState, commits: CommitFile[]): Promise<void> {
  const reader = logReaderOf(store);
  for (const file of commits) {
    let commit;
    try {
      commit = await reader.readCommit(file.version, file);
    } catch (err) {
      const message = (err as Error).message;
      throw new CorruptLog(
        err instanceof CorruptLog
          ? `commit ${file.version} of ${store.root} is not valid: ${message}`
          : `cannot read commit ${file.version} of ${store.root}: ${message}`,
        err,
      );
    }
    if (!commit) throw new CorruptLog(`cannot read commit ${file.version} of ${store.root}: it is gone`);
    state.commitInfo = undefined;
    applyActions(state, commit.actions);
  }
}
