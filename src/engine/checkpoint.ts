import { randomUUID } from 'node:crypto';
import type { JsonValue } from '../duck/session.js';
import { ObjectExists, type ObjectStore } from '../storage/object-store.js';
import { TweetlakeError } from '../errors.js';

/** What the offsets log holds for one batch: each source's end offset, and when the batch was planned. */
export interface OffsetEntry {
  batchId: number;
  /** Source end offsets, in source order. */
  sources: JsonValue[];
  batchTimestampMs: number;
}

/** The checkpoint belongs to another query, or is damaged. */
export class CheckpointError extends TweetlakeError {
  constructor(message: string) {
    super('STREAM_CHECKPOINT', message, { domain: 'user' });
  }
}

const BATCH_FILE = /^(\d+)$/;

/**
 * A query's checkpoint directory, laid out as Spark's: `metadata` (query id), `offsets/<batch>`
 * (write-ahead log, written before a batch runs), `commits/<batch>` (written after the sink
 * committed), `sources/<i>/...` (source-private logs). Entries are created with put-if-absent, so
 * two runs of one query cannot both own a batch.
 */
export class StreamCheckpoint {
  constructor(readonly store: ObjectStore) {}

  /** The query id stored in `metadata`, creating it on first use. */
  async queryId(): Promise<string> {
    const meta = await this.store.head('metadata');
    if (meta) {
      const parsed = JSON.parse(new TextDecoder().decode(await this.store.get('metadata'))) as {
        id?: string;
      };
      if (!parsed.id)
        throw new CheckpointError(`checkpoint ${this.store.root} has a metadata file without an id`);
      return parsed.id;
    }
    const id = randomUUID();
    try {
      await this.store.putIfAbsent('metadata', JSON.stringify({ id }));
      return id;
    } catch (err) {
      if (err instanceof ObjectExists) return this.queryId();
      throw err;
    }
  }

  private async latest(dir: string): Promise<number | undefined> {
    const entries = await this.store.list(`${dir}/`);
    let max: number | undefined;
    for (const e of entries) {
      const m = BATCH_FILE.exec(e.path.slice(dir.length + 1));
      if (m) max = Math.max(max ?? -1, Number(m[1]));
    }
    return max;
  }

  /** The highest batch id in the offsets log. */
  latestOffsetBatch(): Promise<number | undefined> {
    return this.latest('offsets');
  }

  /** The highest batch id in the commits log. */
  latestCommittedBatch(): Promise<number | undefined> {
    return this.latest('commits');
  }

  async readOffsets(batchId: number): Promise<OffsetEntry> {
    const text = new TextDecoder().decode(await this.store.get(`offsets/${batchId}`));
    return JSON.parse(text) as OffsetEntry;
  }

  /** Records the batch's offsets before it runs. Fails if another run already planned this batch. */
  async writeOffsets(entry: OffsetEntry): Promise<void> {
    try {
      await this.store.putIfAbsent(`offsets/${entry.batchId}`, JSON.stringify(entry));
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
      await this.store.putIfAbsent(`commits/${batchId}`, JSON.stringify({ batchId, ...extra }));
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
    }
  }

  /** Deletes log entries of batches older than `keep` batches before `latest` (Spark's minBatchesToRetain). */
  async purge(latest: number, keep = 100): Promise<void> {
    for (const dir of ['offsets', 'commits']) {
      for (const e of await this.store.list(`${dir}/`)) {
        const m = BATCH_FILE.exec(e.path.slice(dir.length + 1));
        if (m && Number(m[1]) < latest - keep) await this.store.delete(e.path);
      }
    }
  }
}
