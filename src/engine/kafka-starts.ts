import type { ObjectStore } from '../storage/object-store.js';
import { ObjectExists } from '../storage/object-store.js';
import { CheckpointError, formatLogEntry, parseLogEntry, RECOVERY_HINT } from './checkpoint-file.js';
import type { KafkaReader } from './kafka-reader.js';
import type { StartingOffsets } from './kafka-uri.js';

const START_FILE = /^start-(\d+)$/;

/**
 * The first offset a query reads of each partition, logged once (`start-<partition>`, put-if-absent)
 * before the first batch that reads it, so that a replay, a restart or another worker of a group
 * starts the partition where the first reader did, whatever `latest` has become since.
 */
export class PartitionStarts {
  private readonly starts = new Map<number, number>();

  constructor(
    private readonly log: ObjectStore,
    private readonly topic: string,
    private readonly starting: StartingOffsets,
  ) {}

  /** Reads the logged starts. */
  async load(): Promise<void> {
    for (const entry of await this.log.list('')) {
      const m = START_FILE.exec(entry.path);
      if (m)
        this.starts.set(
          Number(m[1]),
          readStart(await this.log.get(entry.path), this.log.location(entry.path)),
        );
    }
  }

  /** The logged first offset of a partition (undefined before it was read the first time). */
  get(partition: number): number | undefined {
    return this.starts.get(partition);
  }

  /** Where the query reads a partition the first time: startingOffsets, as Spark resolves it. */
  async resolve(
    partition: number,
    firstBatch: boolean,
    latest: number[],
    reader: KafkaReader,
  ): Promise<number> {
    const given =
      this.starting === 'earliest' || this.starting === 'latest'
        ? undefined
        : this.starting[this.topic]?.[String(partition)];
    // Spark: a partition that appears after the first batch starts from the earliest
    const word =
      given === -1 || (given === undefined && this.starting === 'latest' && firstBatch)
        ? 'latest'
        : given === undefined || given === -2
          ? 'earliest'
          : undefined;
    if (word === 'latest') return latest[partition] ?? 0;
    if (word === 'earliest') return (await reader.offsets('earliest'))[partition] ?? 0;
    return given!;
  }

  /** Logs a partition's first offset; one logged before (by another process) wins and is returned. */
  async record(partition: number, offset: number): Promise<number> {
    const file = `start-${partition}`;
    try {
      await this.log.putIfAbsent(file, formatLogEntry({ offset }));
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
      const logged = readStart(await this.log.get(file), this.log.location(file));
      this.starts.set(partition, logged);
      return logged;
    }
    this.starts.set(partition, offset);
    return offset;
  }
}

/** The offset of a logged `start-<partition>` entry. */
function readStart(bytes: Uint8Array, file: string): number {
  const { offset } = parseLogEntry<{ offset?: unknown }>(bytes, file);
  if (!Number.isSafeInteger(offset))
    throw new CheckpointError(`checkpoint file ${file} has no first offset: ${RECOVERY_HINT}`);
  return offset as number;
}
