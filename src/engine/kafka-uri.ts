import { TweetlakeError } from '../errors.js';

/** A Kafka source URI or option is malformed, or the topic does not exist. */
export class KafkaSourceError extends TweetlakeError {
  constructor(
    message: string,
    options: { domain?: 'user' | 'external'; retryable?: boolean; cause?: unknown } = {},
  ) {
    super('KAFKA_SOURCE', message, { domain: options.domain ?? 'user', ...options });
  }
}

/** What `kafka://host:port[,host:port]/topic` names. */
export interface KafkaLocation {
  brokers: string[];
  topic: string;
  /** The URI as written (normalized), the prefix of every record's provenance. */
  uri: string;
}

/** True for a `kafka://` source URI. */
export function isKafkaUri(source: string): boolean {
  return /^kafka:\/\//i.test(source);
}

/** Parses `kafka://host:port[,host:port]/topic`. */
export function parseKafkaUri(uri: string): KafkaLocation {
  const m = /^kafka:\/\/([^/]+)\/([^/]+)\/?$/.exec(uri);
  const hint = 'write it as kafka://host:port[,host:port]/topic';
  if (!m) throw new KafkaSourceError(`the Kafka source ${uri} is not a valid URI: ${hint}`);
  const brokers = m[1]!.split(',').map((b) => b.trim());
  for (const b of brokers)
    if (!/^[^:\s]+:\d{1,5}$/.test(b))
      throw new KafkaSourceError(`the Kafka source ${uri} names broker '${b}' without host:port: ${hint}`);
  const topic = decodeURIComponent(m[2]!);
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic))
    throw new KafkaSourceError(
      `the Kafka source ${uri} names topic '${topic}', which is not a valid Kafka topic name ` +
        `(letters, digits, '.', '_' and '-', at most 249)`,
    );
  return { brokers, topic, uri: `kafka://${brokers.join(',')}/${topic}` };
}

/**
 * Where a query starts reading a partition the first time (Spark's startingOffsets): 'earliest',
 * 'latest', or per partition as Spark writes it, `{"topic": {"0": 23, "1": -2}}` (-2 earliest,
 * -1 latest; partitions not named start from the earliest).
 */
export type StartingOffsets = 'earliest' | 'latest' | Record<string, Record<string, number>>;

/** Parses the startingOffsets option (a word or Spark's per-partition JSON) for `topic`. */
export function parseStartingOffsets(
  value: string | StartingOffsets | undefined,
  topic: string,
): StartingOffsets {
  if (value === undefined) return 'latest';
  if (value === 'earliest' || value === 'latest') return value;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  const hint = `give earliest, latest, or per partition as {"${topic}": {"0": 23, "1": -2}} (-2 earliest, -1 latest)`;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new KafkaSourceError(`startingOffsets ${JSON.stringify(value)} is not valid: ${hint}`);
  const perTopic = (parsed as Record<string, unknown>)[topic];
  if (!perTopic || typeof perTopic !== 'object' || Array.isArray(perTopic))
    throw new KafkaSourceError(`startingOffsets names no offsets for topic ${topic}: ${hint}`);
  for (const [p, o] of Object.entries(perTopic))
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(o) || (o as number) < -2)
      throw new KafkaSourceError(`startingOffsets has ${JSON.stringify(p)}: ${JSON.stringify(o)}: ${hint}`);
  return { [topic]: perTopic as Record<string, number> };
}
