import { Admin, compatibilityPartitioner, Producer, stringSerializer } from '@platformatic/kafka';
import { GzipCursors } from '../engine/gzip-cursor.js';
import { lastingKafkaCause, type KafkaConnection } from '../engine/kafka-reader.js';
import type { KafkaLocation } from '../engine/kafka-uri.js';
import { DEFAULT_MAX_RECORD_BYTES } from '../engine/raw-records.js';
import { isGzipName, readRange, type FileRange, type RecordFormat } from '../engine/range-reader.js';
import type { RecordSink } from '../engine/record-sink.js';
import { errorMessage, TweetlakeError } from '../errors.js';
import type { ObjectStore } from '../storage/object-store.js';

/** The topic to produce to does not exist, and no partition count was given to create it. */
export class KafkaTopicMissing extends TweetlakeError {
  constructor(topic: string, brokers: string[]) {
    super(
      'KAFKA_TOPIC_MISSING',
      `the Kafka topic ${topic} does not exist on ${brokers.join(',')}: create it, or give --partitions N to create it`,
      { domain: 'user' },
    );
  }
}

/** A Kafka broker did not answer, or refused what was sent. */
export class KafkaProduceError extends TweetlakeError {
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super('KAFKA_PRODUCE', message, { domain: 'external', ...options });
  }
}

export interface ProduceOptions {
  /** The source folder's store, and the keys of its files (in the order they are sent). */
  store: ObjectStore;
  keys: string[];
  to: KafkaLocation;
  connection?: KafkaConnection;
  /** Create the topic with this many partitions when it does not exist. */
  partitions?: number;
  /** Bytes of a file read and sent at a time (one send; the default stays under a broker's 1 MB message limit). */
  chunkBytes?: number;
}

/** What `produce` sent. */
export interface ProduceResult {
  records: number;
  bytes: number;
  /** Records a file source would quarantine without their bytes (too long, an unreadable file): not sent. */
  skipped: number;
  createdTopic: boolean;
  elapsedMs: number;
}

/** One record to send: the tweet's JSON text, keyed by its user. */
interface Outgoing {
  key: string | undefined;
  value: Buffer;
}

const DEFAULT_CHUNK_BYTES = 256 << 10;

/** The tweet's author (the sample's `user` field), the record's key; none when the text is no such object. */
function userKey(value: Buffer): string | undefined {
  try {
    const user = (JSON.parse(value.toString('utf8')) as { user?: unknown } | null)?.user;
    return user === undefined || user === null ? undefined : String(user);
  } catch {
    return undefined;
  }
}

/** A record sink that keeps each record's bytes (copied: readers may reuse their chunks). */
function collectingSink(into: Outgoing[], skipped: { n: number }): RecordSink {
  const push = (bytes: Uint8Array) => {
    const value = Buffer.from(bytes);
    into.push({ key: userKey(value), value });
  };
  return {
    lines: (_offset, _line, _count, bytes) => {
      let start = 0;
      for (let i = 0; i <= bytes.length; i++) {
        if (i < bytes.length && bytes[i] !== 0x0a) continue;
        const end = i > start && bytes[i - 1] === 0x0d ? i - 1 : i;
        if (end > start) push(bytes.subarray(start, end));
        start = i + 1;
      }
    },
    record: (_offset, _line, bytes) => push(bytes),
    // a record that is not UTF-8 JSON text goes as its bytes: the Kafka source quarantines it as a file source would
    error: (_offset, _line, _reason, raw) => (raw ? push(raw) : skipped.n++),
  };
}

/** Reads a file range by range (`chunkBytes` each), handing each range's records to `send`. */
async function produceFile(
  store: ObjectStore,
  key: string,
  chunkBytes: number,
  skipped: { n: number },
  send: (records: Outgoing[]) => Promise<void>,
): Promise<void> {
  const meta = await store.head(key);
  const cursors = new GzipCursors(1);
  let start = 0;
  let line = 1;
  let format: RecordFormat | undefined;
  for (;;) {
    const range: FileRange = {
      key,
      path: store.location(key),
      start,
      end: start + chunkBytes,
      line,
      size: meta?.size ?? 0,
      mtime: meta?.lastModified ?? 0,
      gzip: isGzipName(key),
      ...(format ? { format } : {}),
    };
    const records: Outgoing[] = [];
    const read = await readRange(store, range, collectingSink(records, skipped), {
      chunkBytes: Math.min(chunkBytes, 4 << 20),
      maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
      gzipCursors: cursors,
    });
    format = read.format ?? format;
    if (records.length) await send(records);
    if (!read.next) return;
    ({ offset: start, line } = read.next);
  }
}

/** Wraps a client failure: a refused request stays as the client said, anything else is an unreachable broker. */
function brokerFailure(to: KafkaLocation, what: string, err: unknown): Error {
  if (err instanceof TweetlakeError) return err;
  // refused credentials or a refused request, however deep the client wrapped it: said as it is
  const lasting = lastingKafkaCause(err);
  return new KafkaProduceError(
    `${what} on ${to.brokers.join(',')} failed: ${errorMessage(lasting ?? err)}` +
      (lasting ? '' : ' (is the broker running and reachable?)'),
    { retryable: !lasting, cause: err },
  );
}

/** Makes sure the topic exists (creating it with `partitions` if asked) and every partition has a leader. */
async function ensureTopic(o: ProduceOptions): Promise<boolean> {
  const admin = new Admin({
    clientId: o.connection?.clientId ?? 'tweetlake-produce',
    bootstrapBrokers: o.to.brokers,
    retries: 3,
    ...(o.connection?.sasl ? { sasl: o.connection.sasl } : {}),
    ...(o.connection?.tls ? { tls: o.connection.tls } : {}),
  });
  try {
    let created = false;
    const topics = await admin.listTopics().catch((err: unknown) => {
      throw brokerFailure(o.to, 'listing the topics', err);
    });
    if (!topics.includes(o.to.topic)) {
      if (o.partitions === undefined) throw new KafkaTopicMissing(o.to.topic, o.to.brokers);
      await admin.createTopics({ topics: [o.to.topic], partitions: o.partitions }).catch((err: unknown) => {
        throw brokerFailure(o.to, `creating topic ${o.to.topic}`, err);
      });
      created = true;
    }
    for (const deadline = Date.now() + 30_000; ;) {
      const meta = await admin.metadata({ topics: [o.to.topic], forceUpdate: true }).catch(() => undefined);
      const parts = meta?.topics.get(o.to.topic)?.partitions ?? [];
      if (parts.length > 0 && parts.every((p) => p.leader >= 0)) return created;
      if (Date.now() > deadline)
        throw new KafkaProduceError(`topic ${o.to.topic} has no leader for every partition after 30 s`, {
          retryable: true,
        });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.close();
  }
}

/**
 * Sends every record of the files to the topic, the record's JSON text as the value and its user as
 * the key (partitioned as Java's default partitioner does). The producer is idempotent, so its
 * retries write nothing twice; one send is in flight at a time (this client numbers an idempotent
 * batch's records only when the previous answer came back), while the next range is read.
 */
export async function produceFiles(o: ProduceOptions): Promise<ProduceResult> {
  const t0 = performance.now();
  const createdTopic = await ensureTopic(o);
  const producer = new Producer({
    clientId: o.connection?.clientId ?? 'tweetlake-produce',
    bootstrapBrokers: o.to.brokers,
    serializers: { key: stringSerializer },
    idempotent: true,
    partitioner: compatibilityPartitioner,
    retries: 5,
    ...(o.connection?.sasl ? { sasl: o.connection.sasl } : {}),
    ...(o.connection?.tls ? { tls: o.connection.tls } : {}),
  });
  const result = { records: 0, bytes: 0, skipped: 0, createdTopic, elapsedMs: 0 };
  const skipped = { n: 0 };
  let inFlight: Promise<void> = Promise.resolve();
  const send = async (records: Outgoing[]) => {
    await inFlight;
    inFlight = producer
      .send({ messages: records.map((r) => ({ topic: o.to.topic, key: r.key, value: r.value })) })
      .then(
        () => {
          result.records += records.length;
          for (const r of records) result.bytes += r.value.length;
        },
        (err: unknown) => {
          throw brokerFailure(o.to, `sending to topic ${o.to.topic}`, err);
        },
      );
    // a failure surfaces at the next send or at the end, never unhandled
    inFlight.catch(() => undefined);
  };
  try {
    for (const key of o.keys)
      await produceFile(o.store, key, o.chunkBytes ?? DEFAULT_CHUNK_BYTES, skipped, send);
    await inFlight;
  } finally {
    await inFlight.catch(() => undefined);
    await producer.close();
  }
  return { ...result, skipped: skipped.n, elapsedMs: performance.now() - t0 };
}
