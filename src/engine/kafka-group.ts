import { Consumer } from '@platformatic/kafka';
import { errorMessage } from '../errors.js';
import { logFor } from '../log.js';
import type { KafkaConnection } from './kafka-reader.js';
import { KafkaSourceError, type KafkaLocation } from './kafka-uri.js';

const log = logFor('kafka-group');

/** How a member keeps its place in the group (Kafka's classic protocol). */
export interface GroupTiming {
  /** A member not heard from for this long is dropped and its partitions move (default 10 s). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to join again (default 30 s). */
  rebalanceTimeoutMs?: number;
}

/**
 * Membership of a Kafka consumer group, and nothing else: Kafka's group coordinator decides which
 * partitions of the topic this member holds (JoinGroup/SyncGroup, heartbeats, a rebalance when a
 * member comes or goes). Records are read with KafkaReader from offsets the tables' txns give; the
 * offsets committed to the group are advisory (for Kafka's lag tools), never where reading starts.
 */
export class KafkaGroupMember {
  private readonly consumer: Consumer;
  private assigned: number[] = [];
  private closing = false;
  private rejoining?: NodeJS.Timeout;
  /** Called when the member's partitions change. */
  onAssignment?: (partitions: number[]) => void;

  constructor(
    private readonly location: KafkaLocation,
    readonly group: string,
    connection: KafkaConnection,
    private readonly timing: GroupTiming = {},
  ) {
    this.consumer = new Consumer({
      clientId: connection.clientId ?? 'tweetlake',
      groupId: group,
      bootstrapBrokers: location.brokers,
      sessionTimeout: timing.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: timing.heartbeatIntervalMs ?? 1_000,
      rebalanceTimeout: timing.rebalanceTimeoutMs ?? 30_000,
      ...(connection.sasl ? { sasl: connection.sasl } : {}),
      ...(connection.tls ? { tls: connection.tls } : {}),
    });
    this.consumer.on(
      'consumer:group:join',
      (p: { assignments?: { topic: string; partitions: number[] }[] }) => this.update(p.assignments),
    );
    this.consumer.on('consumer:group:leave', () => this.update([]));
    // the client gave up rejoining (the broker was away longer than its retries): join again later
    this.consumer.on('error', (err: unknown) => {
      log.warn({ group, err: errorMessage(err) }, 'consumer group error; joining again');
      this.scheduleRejoin();
    });
    this.consumer.on('consumer:heartbeat:error', (p: { error?: unknown }) =>
      log.info({ group, err: errorMessage(p.error) }, 'heartbeat failed'),
    );
  }

  /** The member's id in the group (after `join`). */
  get memberId(): string {
    return this.consumer.memberId ?? '';
  }

  /** The group generation of the current assignment. */
  get generation(): number {
    return this.consumer.generationId;
  }

  /** The topic's partitions this member holds now, in order. */
  get partitions(): readonly number[] {
    return this.assigned;
  }

  private update(assignments: { topic: string; partitions: number[] }[] | null | undefined): void {
    const next = [...(assignments?.find((a) => a.topic === this.location.topic)?.partitions ?? [])].sort(
      (a, b) => a - b,
    );
    if (next.join(',') === this.assigned.join(',')) return;
    this.assigned = next;
    this.onAssignment?.(next);
  }

  /** Joins the group (retried while the broker is unreachable, up to `retryMs`). */
  async join(retryMs = 120_000): Promise<void> {
    this.consumer.topics.track(this.location.topic);
    const deadline = Date.now() + retryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.consumer.joinGroup({});
        this.update(this.consumer.assignments);
        return;
      } catch (err) {
        if (Date.now() >= deadline)
          throw new KafkaSourceError(
            `could not join the consumer group ${this.group} on ${this.location.brokers.join(',')}: ${errorMessage(err)}`,
            { domain: 'external', retryable: true, cause: err },
          );
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5_000)));
      }
    }
  }

  private scheduleRejoin(): void {
    if (this.closing || this.rejoining) return;
    this.rejoining = setTimeout(() => {
      this.rejoining = undefined;
      if (this.closing) return;
      this.update([]); // hold nothing until the coordinator says again
      this.join().catch((err: unknown) => {
        log.warn({ group: this.group, err: errorMessage(err) }, 'could not join the consumer group again');
        this.scheduleRejoin();
      });
    }, 2_000);
    this.rejoining.unref();
  }

  /**
   * Commits `next` (per partition, the next offset to read) to the group: advisory, so that
   * `kafka-consumer-groups.sh --describe` shows the group's lag. A failure (a rebalance) is logged.
   */
  async commitAdvisory(next: ReadonlyMap<number, number>): Promise<void> {
    if (!next.size || !this.consumer.memberId) return;
    try {
      await this.consumer.commit({
        offsets: [...next].map(([partition, offset]) => ({
          topic: this.location.topic,
          partition,
          offset: BigInt(offset),
          leaderEpoch: -1,
        })),
      });
    } catch (err) {
      log.info({ group: this.group, err: errorMessage(err) }, 'advisory offset commit failed');
    }
  }

  /** Leaves the group (its partitions move to the others at once) and closes the client. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.rejoining) clearTimeout(this.rejoining);
    try {
      await this.consumer.leaveGroup(true);
    } catch (err) {
      log.info({ group: this.group, err: errorMessage(err) }, 'leaving the consumer group failed');
    }
    await this.consumer.close(true);
  }
}
