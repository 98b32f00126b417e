/**
 * The Kafka source against a real broker: where partitions start (startingOffsets, the tables' txn),
 * that a batch's offsets read the same records again (also from a new source on the same
 * checkpoint), maxOffsetsPerTrigger, and reads that go on across a broker restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { DuckSession, type JsonValue } from '../../../src/duck/session.js';
import { KafkaSource, type KafkaSourceOptions } from '../../../src/engine/kafka-source.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { startKafkaServer, type KafkaTestServer } from '../../helpers/kafka-server.js';

let kafka: KafkaTestServer;
let session: DuckSession;
let work: string;
const open: KafkaSource[] = [];

beforeAll(async () => {
  kafka = await startKafkaServer();
  session = await DuckSession.create();
  work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kafka-source-'));
});

afterAll(async () => {
  for (const s of open) await s.close();
  session?.close();
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Sends `n` records {topic, i} to partition `i % partitions`. */
async function produce(topic: string, from: number, n: number, partitions: number): Promise<void> {
  const producer = new Producer({
    clientId: 'source-test',
    bootstrapBrokers: [kafka.bootstrap],
    serializers: stringSerializers,
    idempotent: true,
  });
  try {
    const messages = Array.from({ length: n }, (_, k) => ({
      topic,
      partition: (from + k) % partitions,
      key: String(from + k),
      value: JSON.stringify({ i: from + k }),
    }));
    await producer.send({ messages });
  } finally {
    await producer.close();
  }
}

/** A source on `topic` with its checkpoint in `checkpoint` (a folder name under the work folder). */
async function source(topic: string, checkpoint: string, options: Partial<KafkaSourceOptions> = {}) {
  const s = new KafkaSource({ uri: `kafka://${kafka.bootstrap}/${topic}`, retryMs: 60_000, ...options });
  open.push(s);
  await s.initialize(new LocalObjectStore(nodePath.join(work, checkpoint)), session);
  return s;
}

/** The batch's records as `partition/offset i` lines. */
async function read(s: KafkaSource, start: JsonValue | undefined, end: JsonValue): Promise<string[]> {
  const batch = await s.getBatch(start, end);
  try {
    const rows = await session.all(`SELECT source_file, line_number, line FROM (${batch.sql}) ORDER BY ALL`);
    return rows.map((r) => {
      const [p, o] = String(r.source_file).split('/').slice(-2);
      expect(Number(o)).toBe(Number(r.line_number));
      return `${p}/${o} ${JSON.parse(String(r.line)).i}`;
    });
  } finally {
    await batch.dispose();
  }
}

describe('KafkaSource', () => {
  it('starts at latest (logged), reads the same records again, and shares maxOffsetsPerTrigger', async () => {
    await kafka.createTopic('s1', 3);
    await produce('s1', 0, 30, 3);
    const s = await source('s1', 'c1', { maxOffsetsPerTrigger: 12 });
    expect(await s.latestOffset(undefined)).toBeUndefined(); // latest: the 30 are before the start
    await produce('s1', 30, 30, 3);
    const first = await s.latestOffset(undefined);
    expect(first).toEqual({ s1: { '0': 14, '1': 14, '2': 14 } });
    const records = await read(s, undefined, first!);
    expect(records.length).toBe(12);
    expect(records.every((r) => Number(r.split(' ')[1]) >= 30)).toBe(true);
    // the same offsets give the same records, also to a new source on the same checkpoint
    expect(await read(s, undefined, first!)).toEqual(records);
    expect(await read(await source('s1', 'c1'), undefined, first!)).toEqual(records);
    const second = await s.latestOffset(first);
    expect(await read(s, first, second!)).toHaveLength(12);
    const s2 = await source('s1', 'c1b', { startingOffsets: 'earliest' });
    const all = await s2.latestOffset(undefined);
    expect(await read(s2, undefined, all!)).toHaveLength(60);
    expect(await s2.latestOffset(all)).toEqual(all); // nothing new
  });

  it('starts per partition from Spark JSON, and after what the tables hold before that', async () => {
    await kafka.createTopic('s2', 2);
    await produce('s2', 0, 20, 2);
    const s = await source('s2', 'c2', { startingOffsets: '{"s2": {"0": 4}}' });
    const end = await s.latestOffset(undefined);
    expect(end).toEqual({ s2: { '0': 10, '1': 10 } }); // partition 1 unnamed: earliest
    expect(await read(s, undefined, end!)).toHaveLength(16);
    const resumed = await source('s2', 'c2b', { startingOffsets: 'earliest' });
    await resumed.resumeFrom((key) => ({ 's2-0': 6, 's2-1': 2 })[key]);
    const after = await resumed.latestOffset(undefined);
    const records = await read(resumed, undefined, after!);
    expect(records.filter((r) => r.startsWith('0/')).map((r) => r.split(' ')[0])).toEqual([
      '0/7',
      '0/8',
      '0/9',
    ]);
    expect(records.filter((r) => r.startsWith('1/'))).toHaveLength(7);
    expect(resumed.transactions(undefined, after!)).toEqual([
      { key: 's2-0', version: 9 },
      { key: 's2-1', version: 9 },
    ]);
  });

  it('goes on reading when the broker is killed and started again', async () => {
    await kafka.createTopic('s3', 2);
    await produce('s3', 0, 10, 2);
    const s = await source('s3', 'c3', { startingOffsets: 'earliest' });
    await kafka.kill();
    const restart = new Promise((resolve) => setTimeout(resolve, 3000)).then(() => kafka.start());
    const end = await s.latestOffset(undefined);
    await restart;
    expect(end).toEqual({ s3: { '0': 5, '1': 5 } });
    expect(await read(s, undefined, end!)).toHaveLength(10);
  });
});
