import { osUserName } from '../os-user.js';
import { ObjectExists } from '../storage/object-store.js';
import {
  decodeActionPath,
  logicalFileKey,
  serializeActions,
  type Action,
  type AddFile,
  type CommitInfo,
  type DomainMetadata,
  type Metadata,
  type Protocol,
  type RemoveFile,
  type SetTransaction,
} from './actions.js';
import { CheckpointFailed, writeCheckpoint } from './checkpoint-writer.js';
import { CommitConflict, ProtocolViolation } from './errors.js';
import { hasFeature } from './features.js';
import { baseName, commitPath, LOG_DIR, parseLogFileName } from './log-files.js';
import { commitInfoOf, logReaderOf } from './log-reader.js';
import { numRecordsOf, Snapshot, type TableContext } from './snapshot.js';
import { ENGINE_INFO } from './version.js';

/** Options of a transaction. */
export interface TransactionOptions {
  /** Operation name recorded in commitInfo (WRITE, STREAMING UPDATE, OPTIMIZE, ...). */
  operation: string;
  operationParameters?: Record<string, unknown>;
  /** Extra operation metrics (added to the file and row counts the transaction computes). */
  operationMetrics?: Record<string, string>;
  /** How many times to retry after losing a race to non-conflicting commits (default 1000). */
  maxRetries?: number;
  /** Write a checkpoint after committing a version that is a multiple of this (default: table's delta.checkpointInterval, else 10). */
  checkpointInterval?: number;
}

/** A committed version. */
export interface CommitResult {
  version: number;
  /** Versions other writers committed first (the transaction was rebased over them). */
  retries: number;
}

/**
 * The changes of one commit, made on top of the snapshot it read. `commit()` races for the next
 * version with put-if-absent; when another writer got there first, it checks the winning commits
 * for conflicts (PROTOCOL.md, Spark's WriteSerializable rules) and retries or throws `CommitConflict`.
 */
export class Transaction {
  private readonly adds: AddFile[] = [];
  private readonly removes: RemoveFile[] = [];
  private readonly txns: SetTransaction[] = [];
  private readonly domains: DomainMetadata[] = [];
  private newMetadata?: Metadata;
  private newProtocol?: Protocol;
  private readWholeTable = false;
  private readonly readKeys = new Set<string>();

  /** @param readSnapshot the version read; undefined when the transaction creates the table. */
  constructor(
    readonly context: TableContext,
    readonly readSnapshot: Snapshot | undefined,
    private readonly options: TransactionOptions,
  ) {}

  get readVersion(): number {
    return this.readSnapshot?.version ?? -1;
  }

  addFiles(files: AddFile[]): this {
    this.adds.push(...files);
    return this;
  }

  /** Removes files of the read snapshot (they stay on disk until VACUUM). */
  removeFiles(files: AddFile[], dataChange: boolean, deletionTimestamp = Date.now()): this {
    for (const f of files) {
      this.removes.push({
        path: f.path,
        deletionTimestamp,
        dataChange,
        extendedFileMetadata: true,
        partitionValues: f.partitionValues,
        size: f.size,
        ...(f.stats ? { stats: f.stats } : {}),
        ...(f.tags ? { tags: f.tags } : {}),
        ...(f.deletionVector ? { deletionVector: f.deletionVector } : {}),
      });
      this.readKeys.add(logicalFileKey(f));
    }
    return this;
  }

  updateMetadata(metadata: Metadata): this {
    this.newMetadata = metadata;
    return this;
  }

  updateProtocol(protocol: Protocol): this {
    this.newProtocol = protocol;
    return this;
  }

  /** Records that application `appId` has committed its batch `version` (idempotent streaming writes). */
  setTransaction(appId: string, version: number): this {
    this.txns.push({ appId, version, lastUpdated: Date.now() });
    return this;
  }

  setDomainMetadata(domain: string, configuration: string, removed = false): this {
    this.domains.push({ domain, configuration, removed });
    return this;
  }

  /** The transaction's result depends on every row of the table (overwrite): concurrent changes conflict. */
  markReadWholeTable(): this {
    this.readWholeTable = true;
    return this;
  }

  /** The transaction's result depends on these files (optimize): concurrent removal of them conflicts. */
  markFilesRead(files: AddFile[]): this {
    for (const f of files) this.readKeys.add(logicalFileKey(f));
    return this;
  }

  /** Whether the transaction only adds new data without reading the table. */
  get isBlindAppend(): boolean {
    return (
      !this.readWholeTable &&
      this.readKeys.size === 0 &&
      this.removes.length === 0 &&
      this.adds.every((a) => a.dataChange)
    );
  }

  private checkRules(): void {
    const snap = this.readSnapshot;
    const metadata = this.newMetadata ?? snap?.metadata;
    const protocol = this.newProtocol ?? snap?.protocol;
    if (!metadata || !protocol)
      throw new ProtocolViolation('the first commit of a table needs protocol and metadata');
    if (
      hasFeature(protocol, 'appendOnly') &&
      metadata.configuration['delta.appendOnly'] === 'true' &&
      this.removes.some((r) => r.dataChange)
    ) {
      throw new ProtocolViolation(
        `table ${this.context.store.root} is append-only (delta.appendOnly=true): this operation would remove data`,
      );
    }
  }

  private async actionsFor(version: number, commitTs: number): Promise<Action[]> {
    const info: CommitInfo = {
      timestamp: commitTs,
      operation: this.options.operation,
      operationParameters: this.options.operationParameters ?? {},
      readVersion: this.readVersion >= 0 ? this.readVersion : undefined,
      isolationLevel: 'WriteSerializable',
      isBlindAppend: this.isBlindAppend,
      operationMetrics: this.metrics(),
      engineInfo: ENGINE_INFO,
      userName: osUserName(),
      txnId: crypto.randomUUID(),
    };
    if (this.readVersion < 0) delete info.readVersion;
    const metadata = this.newMetadata ?? this.readSnapshot?.metadata;
    const protocol = this.newProtocol ?? this.readSnapshot?.protocol;
    if (
      protocol &&
      metadata &&
      hasFeature(protocol, 'inCommitTimestamp') &&
      metadata.configuration['delta.enableInCommitTimestamps'] === 'true'
    ) {
      const previous = version > 0 ? await previousInCommitTimestamp(this.context, version - 1) : undefined;
      info.inCommitTimestamp = Math.max(commitTs, (previous ?? 0) + 1);
    }
    // inCommitTimestamp goes first in commitInfo (as Spark writes it), so readers that look only at the
    // start of a commit (commitTimestamps) find it however long the operation parameters are.
    const first: CommitInfo =
      info.inCommitTimestamp === undefined ? info : { inCommitTimestamp: info.inCommitTimestamp, ...info };
    const actions: Action[] = [{ commitInfo: first }];
    if (this.newProtocol) actions.push({ protocol: this.newProtocol });
    if (this.newMetadata) actions.push({ metaData: this.newMetadata });
    for (const txn of this.txns) actions.push({ txn });
    for (const d of this.domains) actions.push({ domainMetadata: d });
    for (const remove of this.removes) actions.push({ remove });
    for (const add of this.adds) actions.push({ add });
    return actions;
  }

  private metrics(): Record<string, string> {
    const addedRows = this.adds.reduce((n, a) => n + (numRecordsOf(a) ?? 0), 0);
    return {
      numFiles: String(this.adds.length),
      numAddedFiles: String(this.adds.length),
      numRemovedFiles: String(this.removes.length),
      numOutputRows: String(addedRows),
      numOutputBytes: String(this.adds.reduce((n, a) => n + a.size, 0)),
      numRemovedBytes: String(this.removes.reduce((n, r) => n + (r.size ?? 0), 0)),
      ...this.options.operationMetrics,
    };
  }

  /** Commits the next version, retrying over non-conflicting concurrent commits. */
  async commit(): Promise<CommitResult> {
    this.checkRules();
    const maxRetries = this.options.maxRetries ?? 1000;
    let attempt = this.readVersion + 1;
    let retries = 0;
    for (;;) {
      const body = serializeActions(await this.actionsFor(attempt, Date.now()));
      try {
        await this.context.store.putIfAbsent(commitPath(attempt), body);
      } catch (err) {
        if (!(err instanceof ObjectExists)) throw err;
        if (retries >= maxRetries) {
          throw new CommitConflict('TooManyRetries', attempt, attempt, `gave up after ${retries} retries`);
        }
        // Catch up in one listing: every version committed since (a fast writer may have added
        // several) is checked, and the next attempt is the version after the newest.
        const newest = await this.newestCommitFrom(attempt);
        for (let v = attempt; v <= newest; v++) await this.checkConflicts(v);
        attempt = newest + 1;
        retries++;
        continue;
      }
      await this.postCommit(attempt);
      return { version: attempt, retries };
    }
  }

  /** The newest version of the unbroken run of commits from `version` (which exists) on. */
  private async newestCommitFrom(version: number): Promise<number> {
    let newest = version;
    for (const m of await this.context.store.listFrom(LOG_DIR, commitPath(version))) {
      const f = parseLogFileName(baseName(m.path));
      if (f.kind !== 'commit') continue;
      if (f.version !== newest + 1) break;
      newest = f.version;
    }
    return newest;
  }

  /** Throws if the commit that won version `version` conflicts with this transaction. */
  private async checkConflicts(version: number): Promise<void> {
    const winning = (await logReaderOf(this.context.store).requireCommit(version)).actions;
    const conflict = (kind: ConstructorParameters<typeof CommitConflict>[0], detail: string) =>
      new CommitConflict(kind, version, version, detail);
    if (!this.readSnapshot)
      throw conflict('TableCreatedConcurrently', 'another writer created the table first');
    const info = commitInfoOf(winning);
    if (info?.operation === 'VACUUM START' && this.adds.length > 0) {
      // The VACUUM listed the table before this commit and may delete the files this transaction
      // wrote before it started: they must be written again (writeTable and OPTIMIZE do so).
      throw conflict(
        'ConcurrentVacuum',
        'a VACUUM started concurrently and may delete the files this commit adds',
      );
    }
    const winnerBlind = info?.isBlindAppend === true;
    const myRemoves = new Set(this.removes.map((r) => logicalFileKey(r)));
    for (const action of winning) {
      if ('protocol' in action) throw conflict('ProtocolChanged', 'the protocol was changed concurrently');
      if ('metaData' in action)
        throw conflict('MetadataChanged', 'the table metadata (schema or properties) changed concurrently');
      if ('txn' in action && this.txns.some((t) => t.appId === action.txn.appId)) {
        throw conflict('ConcurrentTransaction', `application '${action.txn.appId}' committed concurrently`);
      }
      if ('domainMetadata' in action && this.domains.some((d) => d.domain === action.domainMetadata.domain)) {
        throw conflict(
          'ConcurrentDomainMetadata',
          `domain '${action.domainMetadata.domain}' changed concurrently`,
        );
      }
      if ('add' in action && this.readWholeTable && action.add.dataChange && !winnerBlind) {
        throw conflict(
          'ConcurrentAppend',
          `file ${action.add.path} was added by a concurrent change to data this transaction read`,
        );
      }
      if ('remove' in action) {
        const key = logicalFileKey(action.remove);
        // Read-set conflicts first, as Spark's ConflictChecker does: a file this transaction read and removes
        // (OPTIMIZE, overwrite) that a concurrent commit removed is a ConcurrentDeleteRead.
        if (this.readKeys.has(key) || (this.readWholeTable && action.remove.dataChange)) {
          throw conflict(
            'ConcurrentDeleteRead',
            `file ${action.remove.path}, which this transaction read, was removed concurrently`,
          );
        }
        if (myRemoves.has(key))
          throw conflict('ConcurrentDeleteDelete', `file ${action.remove.path} was removed concurrently`);
      }
    }
  }

  private async postCommit(version: number): Promise<void> {
    const metadata = this.newMetadata ?? this.readSnapshot?.metadata;
    const configured = Number(metadata?.configuration['delta.checkpointInterval']);
    const interval = this.options.checkpointInterval ?? (configured > 0 ? configured : 10);
    if (version > 0 && version % interval === 0) {
      try {
        await writeCheckpoint(this.context, await Snapshot.load(this.context, version));
      } catch (err) {
        // A checkpoint is an optimisation: the commit stands without it, and the next interval tries again.
        // It is never silent: the warning says which version and why.
        const failure =
          err instanceof CheckpointFailed ? err : new CheckpointFailed(version, this.context.store.root, err);
        process.emitWarning(failure.message, { type: 'TweetlakeWarning', code: failure.code });
      }
    }
  }
}

/**
 * The in-commit timestamp of the commit at `version` (the floor of the next one's), or undefined when
 * it has none or its JSON is gone (log clean-up). Any other failure to read it fails the commit.
 */
async function previousInCommitTimestamp(ctx: TableContext, version: number): Promise<number | undefined> {
  const commit = await logReaderOf(ctx.store).readCommit(version);
  const ict = commit && commitInfoOf(commit.actions)?.inCommitTimestamp;
  return typeof ict === 'number' ? ict : undefined;
}

/** How many times a write is redone after a concurrent VACUUM started (ConcurrentVacuum). */
const VACUUM_RETRIES = 3;

/**
 * Runs a write that makes its own data files and commits them, again when the commit lost to a
 * concurrent VACUUM START (which may delete files written before it): each try writes new files.
 */
export async function retryAfterVacuum<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof CommitConflict && err.kind === 'ConcurrentVacuum') || attempt >= VACUUM_RETRIES)
        throw err;
    }
  }
}

/** Commits `txn`; when it conflicts (nothing was committed) the data files it would have added are deleted. */
export async function commitOrDiscard(txn: Transaction, adds: AddFile[]): Promise<CommitResult> {
  try {
    return await txn.commit();
  } catch (err) {
    if (err instanceof CommitConflict) {
      await Promise.all(adds.map((a) => txn.context.store.delete(decodeActionPath(a.path))));
    }
    throw err;
  }
}
