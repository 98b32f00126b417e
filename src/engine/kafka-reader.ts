import {
  AuthenticationError,
  Consumer,
  IS_CONTROL,
  UnsupportedApiError,
  UnsupportedCompressionError,
  UnsupportedError,
  UnsupportedFormatError,
  UserError,
  type ConnectionOptions,
} from '@platformatic/kafka';
import { errorMessage } from '../errors.js';
import { KafkaSourceError, type KafkaLocation } from './kafka-uri.js';

/** Connection settings a Kafka source passes to its client: client id, SASL, TLS. */
export interface KafkaConnection {
  clientId?: string;
  sasl?: ConnectionOptions['sasl'];
  tls?: ConnectionOptions['tls'];
}

/** One record of a partition: its offset and value (null for a tombstone). */
export interface KafkaRecordRead {
  offset: number;
  value: Buffer | null;
}

/** Kafka's error codes the reader handles itself (the client reports them on each partition). */
const OFFSET_OUT_OF_RANGE = 1;
const LEADER_CHANGED = new Set([3, 5, 6, 74, 76]); // unknown partition, no leader, not leader, fenced/unknown epoch

/** How long a broker may stay unreachable before a read gives up (the engine's batch retries follow). */
const DEFAULT_RETRY_MS = 120_000;

/** A broker's answer that a retry may mend (a leader moving, a partial answer). */
function passing(message: string): KafkaSourceError {
  return new KafkaSourceError(message, { domain: 'external', retryable: true });
}

/** An error and what it wraps: the client reports a failed call as errors within errors. */
function causes(err: unknown, depth = 0): unknown[] {
  if (depth > 4 || !err || typeof err !== 'object') return [err];
  const e = err as { errors?: unknown; cause?: unknown };
  const nested = [...(Array.isArray(e.errors) ? (e.errors as unknown[]) : []), ...(e.cause ? [e.cause] : [])];
  return [err, ...nested.flatMap((n) => causes(n, depth + 1))];
}

/**
 * The cause no retry will mend (credentials the broker refused, a request the client refuses, an
 * unsupported broker), found however deep the client wrapped it; undefined when there is none.
 */
export function lastingKafkaCause(err: unknown): Error | undefined {
  const classes = [
    AuthenticationError,
    UserError,
    UnsupportedError,
    UnsupportedApiError,
    UnsupportedFormatError,
    UnsupportedCompressionError,
  ];
  return causes(err).find((c): c is Error => classes.some((k) => c instanceof k));
}

/**
 * Reads one topic with the client's low-level calls (metadata, list offsets, fetch), never through
 * a consumer group: which offsets a batch reads is the engine's decision, logged before it reads.
 * Every call is retried while the broker is unreachable, up to `retryMs`.
 */
export class KafkaReader {
  private readonly client: Consumer;

  constructor(
    private readonly location: KafkaLocation,
    connection: KafkaConnection,
    private readonly retryMs = DEFAULT_RETRY_MS,
  ) {
    const clientId = connection.clientId ?? 'tweetlake';
    this.client = new Consumer({
      clientId,
      // a group id is required by the client's options; no group call is made with it
      groupId: clientId,
      bootstrapBrokers: location.brokers,
      ...(connection.sasl ? { sasl: connection.sasl } : {}),
      ...(connection.tls ? { tls: connection.tls } : {}),
    });
  }

  /** Runs `op` until it succeeds, a lasting error, or `retryMs` of failures; errors become KafkaSourceError. */
  private async retrying<T>(what: string, op: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (err instanceof KafkaSourceError && !err.retryable) throw err;
        const lasting = lastingKafkaCause(err);
        const retryable = !lasting;
        if (!retryable || Date.now() >= deadline)
          throw new KafkaSourceError(
            `Kafka ${what} for ${this.location.uri} failed: ${errorMessage(lasting ?? err)}` +
              (retryable ? ' (is the broker running and reachable?)' : ''),
            { domain: 'external', retryable, cause: err },
          );
        this.client.clearMetadata();
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }

  /** The topic's partition count (a topic that does not exist is a user error). */
  async partitions(): Promise<number> {
    return this.retrying('metadata', async () => {
      const meta = await this.client
        .metadata({ topics: [this.location.topic], forceUpdate: true })
        .catch((err: unknown) => {
          if (
            /unknown topic/i.test(errorMessage(err)) ||
            /UNKNOWN_TOPIC/i.test(JSON.stringify((err as { errors?: unknown }).errors ?? ''))
          )
            throw new KafkaSourceError(
              `the Kafka topic ${this.location.topic} does not exist on ${this.location.brokers.join(',')}: create it first`,
            );
          throw err;
        });
      const topic = meta.topics.get(this.location.topic);
      if (!topic)
        throw new KafkaSourceError(`the Kafka topic ${this.location.topic} does not exist: create it first`);
      return topic.partitionsCount;
    });
  }

  /** Per partition, the earliest offset still held or the next offset to be written. */
  async offsets(which: 'earliest' | 'latest'): Promise<number[]> {
    return this.retrying('list offsets', async () => {
      const listed = await this.client.listOffsets({
        topics: [this.location.topic],
        timestamp: which === 'earliest' ? -2n : -1n,
      });
      return (listed.get(this.location.topic) ?? []).map(Number);
    });
  }

  /**
   * Calls `onRecord` for every record of `partition` with offset in [from, to), in offset order,
   * fetching at most `maxBytes` at a time. Offsets with no record (compacted, transaction markers)
   * are passed over; records no longer held (retention) are an error, not a gap.
   */
  async readRange(
    partition: number,
    from: number,
    to: number,
    maxBytes: number,
    onRecord: (r: KafkaRecordRead) => void,
  ): Promise<void> {
    let position = from;
    let empty = 0;
    while (position < to) {
      const fetched = await this.retrying('fetch', () => this.fetch(partition, position, maxBytes));
      const before = position;
      for (const batch of fetched.records ?? []) {
        const first = Number(batch.firstOffset);
        const last = first + batch.lastOffsetDelta;
        if (!(batch.attributes & IS_CONTROL))
          for (const record of batch.records) {
            const offset = first + record.offsetDelta;
            if (offset >= position && offset < to) onRecord({ offset, value: record.value });
          }
        position = Math.max(position, Math.min(last + 1, to));
      }
      if (position > before) empty = 0;
      else if (Number(fetched.highWatermark) <= position || ++empty > 20)
        throw new KafkaSourceError(
          `Kafka partition ${this.location.topic}/${partition} holds no records at offset ${position} (its end ` +
            `is ${fetched.highWatermark}), but the batch was planned up to ${to}: records were lost on the broker`,
          { domain: 'external' },
        );
    }
  }

  /** One fetch of a partition from its leader, from `offset`. */
  private async fetch(partition: number, offset: number, maxBytes: number) {
    const meta = await this.client.metadata({ topics: [this.location.topic] });
    const topic = meta.topics.get(this.location.topic);
    const leader = topic?.partitions[partition];
    if (!topic || !leader || leader.leader < 0)
      throw passing(`no leader for ${this.location.topic}/${partition}`);
    const response = await this.client.fetch({
      node: leader.leader,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes,
      topics: [
        {
          topicId: topic.id,
          partitions: [
            {
              partition,
              currentLeaderEpoch: leader.leaderEpoch,
              fetchOffset: BigInt(offset),
              lastFetchedEpoch: -1,
              partitionMaxBytes: maxBytes,
            },
          ],
        },
      ],
    });
    const answer = response.responses[0]?.partitions.find((p) => p.partitionIndex === partition);
    if (!answer) throw passing(`the broker's fetch answer has no partition ${partition}`);
    if (answer.errorCode === OFFSET_OUT_OF_RANGE)
      throw new KafkaSourceError(
        `offset ${offset} of Kafka partition ${this.location.topic}/${partition} is out of range (the broker ` +
          `holds ${answer.logStartOffset}..${answer.highWatermark}): the records were deleted (retention) before they were read`,
        { domain: 'external' },
      );
    if (LEADER_CHANGED.has(answer.errorCode))
      throw passing(`the leader of ${this.location.topic}/${partition} moved (error ${answer.errorCode})`);
    if (answer.errorCode !== 0)
      throw passing(
        `fetch of ${this.location.topic}/${partition} failed with Kafka error ${answer.errorCode}`,
      );
    return answer;
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    await this.client.close(true);
  }
}
