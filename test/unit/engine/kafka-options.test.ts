/** The Kafka source's URI and options, and how a batch's offsets are shared among partitions. */
import { describe, expect, it } from 'vitest';
import { share } from '../../../src/engine/kafka-source.js';
import {
  isKafkaUri,
  KafkaSourceError,
  parseKafkaUri,
  parseStartingOffsets,
} from '../../../src/engine/kafka-uri.js';

describe('kafka:// URIs', () => {
  it('names brokers and a topic', () => {
    expect(parseKafkaUri('kafka://a:9092,b:9093/tweets')).toEqual({
      brokers: ['a:9092', 'b:9093'],
      topic: 'tweets',
      uri: 'kafka://a:9092,b:9093/tweets',
    });
    expect(isKafkaUri('kafka://a:1/t')).toBe(true);
    expect(isKafkaUri('data/sample')).toBe(false);
  });

  it.each([
    'kafka://a:9092',
    'kafka://a/tweets',
    'kafka://a:9092/two/parts',
    'kafka://a:9092/bad topic',
    'kafka:///t',
  ])('refuses %s with a KafkaSourceError', (uri) => {
    expect(() => parseKafkaUri(uri)).toThrow(KafkaSourceError);
  });
});

describe('startingOffsets', () => {
  it('takes a word or Spark per-partition JSON', () => {
    expect(parseStartingOffsets(undefined, 't')).toBe('latest');
    expect(parseStartingOffsets('earliest', 't')).toBe('earliest');
    expect(parseStartingOffsets('{"t": {"0": 5, "1": -2}}', 't')).toEqual({ t: { '0': 5, '1': -2 } });
  });

  it.each(['soonest', '{"other": {"0": 1}}', '{"t": {"0": -3}}', '{"t": {"x": 1}}', '{"t": [1]}'])(
    'refuses %s',
    (value) => {
      expect(() => parseStartingOffsets(value, 't')).toThrow(KafkaSourceError);
    },
  );
});

describe('maxOffsetsPerTrigger shared among partitions', () => {
  it('takes everything when it fits', () => {
    expect(share([3, 0, 5], 10)).toEqual([3, 0, 5]);
  });

  it('shares the limit by backlog, exactly the limit, never more than a partition has', () => {
    for (const [backlog, limit] of [
      [[100, 0, 50], 30],
      [[1, 1, 1, 1], 3],
      [[7, 1000, 3], 11],
      [[0, 0, 9], 4],
    ] as [number[], number][]) {
      const take = share(backlog, limit);
      expect(take.reduce((a, b) => a + b, 0)).toBe(limit);
      take.forEach((t, p) => expect(t).toBeLessThanOrEqual(backlog[p]!));
    }
    expect(share([100, 0, 50], 30)).toEqual([20, 0, 10]);
  });
});
