import { isUtf8 } from 'node:buffer';
import type { DuckSession, JsonValue } from '../duck/session.js';
import type { ObjectStore } from '../storage/object-store.js';
import { CheckpointError, RECOVERY_HINT } from './checkpoint-file.js';
import { KafkaReader, type KafkaConnection } from './kafka-reader.js';
import { PartitionStarts } from './kafka-starts.js';
import {
  parseKafkaUri,
  parseStartingOffsets,
  type KafkaLocation,
  type StartingOffsets,
} from './kafka-uri.js';
import { DEFAULT_MAX_RECORD_BYTES, RawRecordsTable } from './raw-records.js';
import type { Source, SourceBatch, SourceTransaction } from './source.js';

export interface KafkaSourceOptions extends KafkaConnection {
  /** `kafka://host:port[,host:port]/topic`. */
  uri: string;
  /** Where partitions start the first time (default 'latest', as Spark). */
  startingOffsets?: string | StartingOffsets;
  /** Records per batch, shared among partitions by their backlog (default 100,000: bounds a batch). */
  maxOffsetsPerTrigger?: number;
  /** Bytes per fetch request (default 4 MiB; the broker sends at least one record batch). */
  maxFetchBytes?: number;
  /** A record value longer than this is quarantined without its bytes (default 10 MiB). */
  maxRecordBytes?: number;
  /** How long a broker may be unreachable before a call fails (default 120 s). */
  retryMs?: number;
}

/** The offset of a batch, as Spark's Kafka source writes it: {topic: {partition: next offset}}. */
type KafkaOffset = Record<string, Record<string, number>>;

export const DEFAULT_MAX_OFFSETS_PER_TRIGGER = 100_000;
const DEFAULT_FETCH_BYTES = 4 << 20;

/**
 * Spark's Kafka source: each batch reads, per partition, the offsets from the previous batch's end
 * to this one's, through fetches of a bounded size (no consumer group: the engine's offsets log says
 * what a batch read). The first offset of each partition is logged in the source's checkpoint
 * before a batch reads it, so a replay reads the same records. A batch is the raw-record relation
 * of the file source: one record per Kafka record, `source_file` = `kafka://…/topic/partition/offset`,
 * `line_number` = the offset; a value that is not UTF-8, is missing (a tombstone) or is too long
 * goes to quarantine with it. Each batch also names, per partition it read, the last offset as a
 * Delta txn (kafka-delta-ingest's exactly-once), and a partition the checkpoint does not know
 * starts after what the sink's tables hold, before startingOffsets.
 */
export class KafkaSource implements Source {
  readonly description: string;
  readonly location: KafkaLocation;
  private readonly starting: StartingOffsets;
  private reader!: KafkaReader;
  private session!: DuckSession;
  private log!: ObjectStore;
  /** The logged first offset of each partition the query has read. */
  private starts!: PartitionStarts;
  /** Per partition, the next offset after what the sink's tables hold (their txn). */
  private readonly held = new Map<number, number>();
  /** availableNow: the partitions' ends at start. */
  private fixedEnds?: number[];

  constructor(private readonly options: KafkaSourceOptions) {
    this.location = parseKafkaUri(options.uri);
    this.starting = parseStartingOffsets(options.startingOffsets, this.location.topic);
    this.description = `KafkaSource[${this.location.uri}]`;
  }

  private get topic(): string {
    return this.location.topic;
  }

  async initialize(checkpoint: ObjectStore, session: DuckSession): Promise<void> {
    this.session = session;
    this.log = checkpoint;
    this.reader = new KafkaReader(this.location, this.options, this.options.retryMs);
    this.starts = new PartitionStarts(checkpoint, this.topic, this.starting);
    await this.starts.load();
    await this.reader.partitions(); // a missing topic or an unreachable broker is said now
  }

  /** The Delta txn key of a partition (the app id is `<query id>-<key>`). */
  private key(partition: number): string {
    return `${this.topic}-${partition}`;
  }

  async resumeFrom(held: (key: string) => number | undefined): Promise<void> {
    const n = await this.reader.partitions();
    for (let p = 0; p < n; p++) {
      const last = held(this.key(p));
      if (last !== undefined) this.held.set(p, last + 1);
    }
  }

  async prepareForAvailableNow(): Promise<void> {
    this.fixedEnds = await this.reader.offsets('latest');
  }

  /** Where a partition starts for a batch after `start`: its end there, else its logged first offset. */
  private startOf(partition: number, start: JsonValue | undefined): number | undefined {
    const fromStart = (start as KafkaOffset | undefined)?.[this.topic]?.[String(partition)];
    return fromStart ?? this.starts.get(partition);
  }

  /** The first offset of a partition new to the query: after what the tables hold, else startingOffsets. */
  private async resolveStart(partition: number, firstBatch: boolean, latest: number[]): Promise<number> {
    return this.held.get(partition) ?? this.starts.resolve(partition, firstBatch, latest, this.reader);
  }

  /** Each partition's start for the batch after `start`, logging the first offset of new ones. */
  private async fromOffsets(start: JsonValue | undefined, latest: number[]): Promise<number[]> {
    const from: number[] = [];
    for (let p = 0; p < latest.length; p++) {
      const known = this.startOf(p, start);
      const held = this.held.get(p);
      if (known !== undefined && held !== undefined && held > known)
        throw new CheckpointError(
          `the checkpoint of the Kafka source ${this.location.uri} starts partition ${p} at offset ${known}, but ` +
            `the tables already hold its records up to offset ${held - 1}: they would be written twice. ${RECOVERY_HINT}`,
        );
      from.push(
        known ?? (await this.starts.record(p, await this.resolveStart(p, start === undefined, latest))),
      );
    }
    return from;
  }

  async latestOffset(start: JsonValue | undefined): Promise<JsonValue | undefined> {
    let latest = await this.reader.offsets('latest');
    if (this.fixedEnds) latest = latest.map((e, p) => Math.min(e, this.fixedEnds![p] ?? e));
    const from = await this.fromOffsets(start, latest);
    const take = share(
      from.map((f, p) => Math.max(0, (latest[p] ?? f) - f)),
      this.options.maxOffsetsPerTrigger ?? DEFAULT_MAX_OFFSETS_PER_TRIGGER,
    );
    if (take.every((t) => t === 0)) return start;
    const end: Record<string, number> = {};
    from.forEach((f, p) => (end[String(p)] = f + take[p]!));
    return { [this.topic]: end };
  }

  getBatch(start: JsonValue | undefined, end: JsonValue): Promise<SourceBatch> {
    return readKafkaRanges(this.reader, this.session, this.location, this.ranges(start, end), this.options);
  }

  /** The offsets a batch (start, end] reads, per partition. */
  private ranges(start: JsonValue | undefined, end: JsonValue): KafkaRange[] {
    const ends = (end as KafkaOffset)[this.topic] ?? {};
    return Object.entries(ends).map(([p, to]) => {
      const from = this.startOf(Number(p), start);
      if (from === undefined)
        throw new CheckpointError(
          `the Kafka source's log ${this.log.location('')} has no first offset of partition ${p}, which a logged ` +
            `batch reads: what it read is unknown. ${RECOVERY_HINT}`,
        );
      return { partition: Number(p), from, to };
    });
  }

  transactions(start: JsonValue | undefined, end: JsonValue): SourceTransaction[] {
    return this.ranges(start, end)
      .filter((r) => r.to > r.from)
      .map((r) => ({ key: this.key(r.partition), version: r.to - 1 }));
  }

  async backlog(start: JsonValue | undefined): Promise<{ rows: number }> {
    const latest = await this.reader.offsets('latest');
    let rows = 0;
    latest.forEach((e, p) => (rows += Math.max(0, e - (this.startOf(p, start) ?? this.held.get(p) ?? e))));
    return { rows };
  }

  async close(): Promise<void> {
    await this.reader?.close();
  }
}

/** Offsets [from, to) of one partition. */
export interface KafkaRange {
  partition: number;
  from: number;
  to: number;
}

/**
 * Reads the records of `ranges` into the raw-record relation of the file source: one record per
 * Kafka record, `source_file` = `kafka://…/topic/partition/offset`, `line_number` = the offset; a
 * value that is not UTF-8, is missing (a tombstone) or is too long goes to quarantine with it.
 */
export async function readKafkaRanges(
  reader: KafkaReader,
  session: DuckSession,
  location: KafkaLocation,
  ranges: readonly KafkaRange[],
  options: Pick<KafkaSourceOptions, 'maxFetchBytes' | 'maxRecordBytes'> = {},
): Promise<SourceBatch> {
  const maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const raw = await RawRecordsTable.read(session, async (table) => {
    for (const { partition, from, to } of ranges) {
      const prefix = `${location.uri}/${partition}/`;
      await reader.readRange(
        partition,
        from,
        to,
        options.maxFetchBytes ?? DEFAULT_FETCH_BYTES,
        ({ offset, value }) => {
          const sink = table.sink(prefix + offset);
          if (value === null) sink.error(0, offset, 'a Kafka record with no value (a tombstone)');
          else if (value.length > maxRecord)
            sink.error(
              0,
              offset,
              `a record of ${value.length} bytes, longer than the ${maxRecord}-byte limit`,
            );
          else if (!isUtf8(value)) sink.error(0, offset, 'not UTF-8 text', value);
          else sink.record(0, offset, value);
        },
      );
    }
  });
  const read = ranges.filter((r) => r.to > r.from);
  return {
    ...raw,
    description: `${location.uri} ${read.map((r) => `${r.partition}:[${r.from},${r.to})`).join(' ') || '(nothing)'}`,
  };
}

/** Splits `limit` among partitions in proportion to their backlog (all of it when it fits). */
export function share(backlog: number[], limit: number): number[] {
  const total = backlog.reduce((a, b) => a + b, 0);
  if (total <= limit) return backlog;
  const take = backlog.map((b) => Math.floor((b * limit) / total));
  let left = limit - take.reduce((a, b) => a + b, 0);
  for (let p = 0; left > 0; p = (p + 1) % backlog.length)
    if (take[p]! < backlog[p]!) {
      take[p] = take[p]! + 1;
      left--;
    }
  return take;
}
