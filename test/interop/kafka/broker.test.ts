/**
 * The Kafka test broker and the client against it: a real KRaft broker (test/helpers/kafka-server.ts)
 * takes 1,000 keyed records on 6 partitions; a consumer group reads them all back in each
 * partition's order and commits half; after the broker is killed and started again, the group goes
 * on from its committed offsets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Consumer,
  Producer,
  stringDeserializers,
  stringSerializers,
  type Message,
} from '@platformatic/kafka';
import { startKafkaServer, type KafkaTestServer } from '../../helpers/kafka-server.js';

const TOPIC = 'probe';
const PARTITIONS = 6;
const RECORDS = 1000;

let kafka: KafkaTestServer;

beforeAll(async () => {
  kafka = await startKafkaServer();
});

afterAll(async () => {
  await kafka?.stop();
});

type Received = Message<string, string, string, string>;

/** Reads `count` records through a consumer of group `group` (from `mode`), then closes it. */
async function consume(group: string, mode: 'earliest' | 'committed', count: number): Promise<Received[]> {
  const consumer = new Consumer({
    clientId: `probe-${group}`,
    groupId: group,
    bootstrapBrokers: [kafka.bootstrap],
    deserializers: stringDeserializers,
  });
  const out: Received[] = [];
  try {
    const stream = await consumer.consume({ topics: [TOPIC], mode, autocommit: false, maxWaitTime: 200 });
    stream.on('data', (m) => out.push(m as Received));
    const deadline = Date.now() + 60_000;
    while (out.length < count && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    // and nothing more arrives within a short wait
    await new Promise((resolve) => setTimeout(resolve, 1500));
    if (mode === 'earliest') {
      // commit the first half of each partition's records (the offset after the last one read)
      const byPartition = groupByPartition(out);
      const offsets = [...byPartition].map(([partition, list]) => ({
        topic: TOPIC,
        partition,
        offset: list[Math.floor(list.length / 2) - 1]!.offset + 1n,
        leaderEpoch: 0,
      }));
      await consumer.commit({ offsets });
    }
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return out;
}

function groupByPartition(messages: Received[]): Map<number, Received[]> {
  const out = new Map<number, Received[]>();
  for (const m of messages) {
    const list = out.get(m.partition) ?? [];
    list.push(m);
    out.set(m.partition, list);
  }
  return out;
}

describe('Kafka test broker (KRaft, one node)', () => {
  it('keeps per-partition order, and committed offsets across a broker restart', async () => {
    await kafka.createTopic(TOPIC, PARTITIONS);
    const producer = new Producer({
      clientId: 'probe',
      bootstrapBrokers: [kafka.bootstrap],
      serializers: stringSerializers,
      idempotent: true,
    });
    try {
      for (let from = 0; from < RECORDS; from += 100) {
        const messages = [];
        for (let i = from; i < from + 100; i++)
          messages.push({ topic: TOPIC, key: `user-${i % 37}`, value: JSON.stringify({ i }) });
        await producer.send({ messages });
      }
    } finally {
      await producer.close();
    }

    // the idempotent producer wrote each record once (a plain one wrote some twice on retries)
    const admin = new Consumer({
      clientId: 'probe-offsets',
      groupId: 'unused',
      bootstrapBrokers: [kafka.bootstrap],
    });
    const ends = (await admin.listOffsets({ topics: [TOPIC] })).get(TOPIC)!;
    await admin.close();
    expect(ends.reduce((a, b) => a + b, 0n)).toBe(BigInt(RECORDS));
    const all = await consume('probe-group', 'earliest', RECORDS);
    expect(all.length).toBe(RECORDS);
    expect(new Set(all.map((m) => JSON.parse(m.value).i)).size).toBe(RECORDS);
    const byPartition = groupByPartition(all);
    expect(byPartition.size).toBe(PARTITIONS);
    const partitionOfKey = new Map<string, number>();
    for (const [partition, list] of byPartition) {
      // offsets 0..n-1 in order, and each key's records in the order they were sent
      expect(list.map((m) => m.offset)).toEqual(list.map((_, i) => BigInt(i)));
      const lastOfKey = new Map<string, number>();
      for (const m of list) {
        const i = JSON.parse(m.value).i as number;
        expect(i).toBeGreaterThan(lastOfKey.get(m.key) ?? -1);
        lastOfKey.set(m.key, i);
        expect(partitionOfKey.get(m.key) ?? partition).toBe(partition);
        partitionOfKey.set(m.key, partition);
      }
    }

    await kafka.kill();
    await kafka.start();

    const expected = [...byPartition.values()]
      .flatMap((list) => list.slice(Math.floor(list.length / 2)))
      .map((m) => `${m.partition}/${m.offset}`)
      .sort();
    const rest = await consume('probe-group', 'committed', expected.length);
    expect(rest.map((m) => `${m.partition}/${m.offset}`).sort()).toEqual(expected);
  });
});
