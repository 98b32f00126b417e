import { randomUUID } from 'node:crypto';
import type { JsonValue } from '../duck/session.js';
import { ObjectExists, ObjectNotFound, type ObjectStore } from '../storage/object-store.js';
import { CheckpointError, formatLogEntry, parseLogEntry, RECOVERY_HINT } from './checkpoint-file.js';

export { CheckpointError } from './checkpoint-file.js';

/** What the offsets log holds for one batch: each source's end offset, and when the batch was planned. */
export interface OffsetEntry {
  batchId: number;
  /** Source end offsets, in source order. */
  sources: JsonValue[];
  batchTimestampMs: number;
}

/** Failed attempts of a batch that has not committed yet (kept across restarts). */
export interface BatchFailures {
  batchId: number;
  attempts: number;
  lastError: string;
  retryable: boolean;
  at: string;
}

const BATCH_FILE = /^(\d+)$/;

/**
 * A query's checkpoint directory, laid out as Spark's: `metadata` (query id), `offsets/<batch>`
 * (write-ahead log, written before a batch runs), `commits/<batch>` (written after the sink
 * committed), `sources/<i>/...` (source-private logs), and ours, `failures/<batch>` (failed attempts
 * of a batch). Log entries are a `v1` line and JSON, created with put-if-absent, so two runs of one
 * query cannot both own a batch.
 */
export class StreamCheckpoint {
  constructor(readonly store: ObjectStore) {}

  private file(path: string): string {
    return this.store.location(path);
  }

  private async read<T>(path: string): Promise<T> {
    return parseLogEntry<T>(await this.store.get(path), this.file(path));
  }

  /** The query id stored in `metadata`, or undefined when there is no metadata file. */
  async readQueryId(): Promise<string | undefined> {
    if (!(await this.store.head('metadata'))) return undefined;
    let parsed: { id?: unknown };
    try {
      parsed = await this.read<{ id?: unknown }>('metadata');
    } catch (err) {
      if (err instanceof ObjectNotFound) return undefined;
      throw err;
    }
    if (typeof parsed.id !== 'string' || parsed.id === '')
      throw new CheckpointError(`checkpoint file ${this.file('metadata')} has no query id; ${RECOVERY_HINT}`);
    return parsed.id;
  }

  /** The query id stored in `metadata`, creating it on first use. */
  async queryId(): Promise<string> {
    const existing = await this.readQueryId();
    if (existing) return existing;
    const id = randomUUID();
    try {
      // As Spark's metadata file: plain JSON, no version line.
      await this.store.putIfAbsent('metadata', JSON.stringify({ id }));
      return id;
    } catch (err) {
      if (err instanceof ObjectExists) return this.queryId();
      throw err;
    }
  }

  /** Batch ids that have an entry in `dir` (offsets, commits or failures), ascending. */
  async batchIds(dir: 'offsets' | 'commits' | 'failures'): Promise<number[]> {
    const ids: number[] = [];
    for (const e of await this.store.list(`${dir}/`)) {
      const m = BATCH_FILE.exec(e.path.slice(dir.length + 1));
      if (m) ids.push(Number(m[1]));
    }
    return ids.sort((a, b) => a - b);
  }

  /** Whether anything but `metadata` is in the checkpoint (logs of batches, source logs). */
  async hasLogs(): Promise<boolean> {
    return (await this.store.list('')).some((e) => e.path !== 'metadata' && !e.path.endsWith('.tmp'));
  }

  /** The highest batch id in the offsets log. */
  async latestOffsetBatch(): Promise<number | undefined> {
    return (await this.batchIds('offsets')).at(-1);
  }

  /** The highest batch id in the commits log. */
  async latestCommittedBatch(): Promise<number | undefined> {
    return (await this.batchIds('commits')).at(-1);
  }

  async hasOffsets(batchId: number): Promise<boolean> {
    return (await this.store.head(`offsets/${batchId}`)) !== undefined;
  }

  async readOffsets(batchId: number): Promise<OffsetEntry> {
    const entry = await this.read<OffsetEntry>(`offsets/${batchId}`);
    if (!Array.isArray(entry.sources))
      throw new CheckpointError(
        `checkpoint file ${this.file(`offsets/${batchId}`)} has no source offsets; ${RECOVERY_HINT}`,
      );
    return entry;
  }

  /** Reads a commit entry (to check that it is readable). */
  async readCommit(batchId: number): Promise<Record<string, JsonValue>> {
    return this.read<Record<string, JsonValue>>(`commits/${batchId}`);
  }

  /** Records the batch's offsets before it runs. Fails if another run already planned this batch. */
  async writeOffsets(entry: OffsetEntry): Promise<void> {
    try {
      await this.store.putIfAbsent(`offsets/${entry.batchId}`, formatLogEntry(entry));
    } catch (err) {
      if (err instanceof ObjectExists) {
        throw new CheckpointError(
          `batch ${entry.batchId} of checkpoint ${this.store.root} was planned by another run of this query: ` +
            `only one run of a query may use a checkpoint at a time`,
        );
      }
      throw err;
    }
  }

  /** Marks the batch done (after the sink committed). */
  async writeCommit(batchId: number, extra: Record<string, JsonValue> = {}): Promise<void> {
    try {
      await this.store.putIfAbsent(`commits/${batchId}`, formatLogEntry({ batchId, ...extra }));
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
    }
  }

  /** Failed attempts of a batch so far (none when it never failed, or when it committed since). */
  async readFailures(batchId: number): Promise<BatchFailures | undefined> {
    if (!(await this.store.head(`failures/${batchId}`))) return undefined;
    return this.read<BatchFailures>(`failures/${batchId}`);
  }

  /** Counts one more failed attempt of a batch; returns the record now stored. */
  async recordFailure(batchId: number, error: string, retryable: boolean): Promise<BatchFailures> {
    const before = await this.readFailures(batchId);
    const record: BatchFailures = {
      batchId,
      attempts: (before?.attempts ?? 0) + 1,
      lastError: error,
      retryable,
      at: new Date().toISOString(),
    };
    await this.store.put(`failures/${batchId}`, formatLogEntry(record));
    return record;
  }

  /** Forgets the failed attempts of a batch (it committed, or the user asked to try again). */
  async clearFailures(batchId: number): Promise<void> {
    await this.store.delete(`failures/${batchId}`);
  }

  /** Deletes log entries of batches older than `keep` batches before `latest` (Spark's minBatchesToRetain). */
  async purge(latest: number, keep = 100): Promise<void> {
    for (const dir of ['offsets', 'commits'] as const) {
      for (const id of await this.batchIds(dir)) {
        if (id < latest - keep) await this.store.delete(`${dir}/${id}`);
      }
    }
  }
}
