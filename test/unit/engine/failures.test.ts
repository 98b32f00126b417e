/**
 * A batch that fails: a retryable error is retried by the query with backoff; an error that will not
 * go away stops the query, and after maxBatchAttempts failed attempts (counted in the checkpoint,
 * across restarts) the batch is not replayed again until the user says so.
 */
import { existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { TweetlakeError } from '../../../src/errors.js';
import { BatchFailedRepeatedly, StreamingQueryException } from '../../../src/engine/query.js';
import { ForeachBatchSink, type Sink } from '../../../src/engine/sink.js';
import { rejection } from '../../helpers/delta.js';
import { ObservedClock, streamTests, waitFor, type StreamTest } from '../../helpers/engine-stream-test.js';

const { stream } = streamTests('tweetlake-failures-');

/** A sink that throws `error()` on its first `failures` calls, then writes; counts its calls. */
function flakySink(t: StreamTest, failures: number, error: () => Error): Sink & { calls: number } {
  const inner = t.deltaSink();
  const sink = new ForeachBatchSink('flaky', async (batch, ctx) => {
    sink.calls++;
    if (sink.calls <= failures) throw error();
    return inner.addBatch(batch, ctx);
  }) as ForeachBatchSink & { calls: number };
  sink.calls = 0;
  return sink;
}

const permanent = () => new TweetlakeError('TEST_PERMANENT', 'the input is wrong', { domain: 'user' });
const transient = () =>
  new TweetlakeError('TEST_TRANSIENT', 'the store is busy', { domain: 'external', retryable: true });

describe('a batch that fails for a reason that will not change', () => {
  it('fails the run each time, and after 3 attempts across restarts is not replayed again', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    const sink = flakySink(t, Infinity, permanent);
    for (const attempt of [1, 2]) {
      const err = await rejection(t.run({ sink }));
      expect(err).toBeInstanceOf(StreamingQueryException);
      expect(err.cause).toBeInstanceOf(TweetlakeError);
      expect(sink.calls).toBe(attempt);
    }
    const third = await rejection(t.run({ sink }));
    expect(third.cause).toBeInstanceOf(BatchFailedRepeatedly);
    expect(third.message).toMatch(
      /batch 0 of streaming query 'test_stream' has failed 3 times in a row \(last error: the input is wrong\)/,
    );
    expect(third.message).toMatch(/fix it .*then run again with --retry-failed/);
    expect(sink.calls).toBe(3);

    // A fourth run refuses at once: the sink is not called again.
    const fourth = await rejection(t.run({ sink }));
    expect(fourth.cause).toBeInstanceOf(BatchFailedRepeatedly);
    expect(sink.calls).toBe(3);
    await t.checkAnswer([]);

    // Once the cause is fixed, --retry-failed (retryFailedBatches) runs it again; the count is cleared.
    const fixed = t.deltaSink();
    const q = await t.start({ sink: fixed });
    await q.awaitTermination().catch(() => undefined);
    expect(q.exception?.cause).toBeInstanceOf(BatchFailedRepeatedly);
    await t.run({ sink: fixed, retryFailedBatches: true });
    await t.checkAnswer([1, 2]);
    expect(existsSync(nodePath.join(t.checkpoint, 'failures', '0'))).toBe(false);
  });

  it('a batch that succeeds on a later run forgets its failed attempts', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    const sink = flakySink(t, 2, permanent);
    await rejection(t.run({ sink }));
    await rejection(t.run({ sink }));
    expect(existsSync(nodePath.join(t.checkpoint, 'failures', '0'))).toBe(true);
    await t.run({ sink });
    expect(existsSync(nodePath.join(t.checkpoint, 'failures', '0'))).toBe(false);
    t.addFile('b.json', [2]);
    await t.run({ sink });
    await t.checkAnswer([1, 2]);
  });
});

describe('a retryable error', () => {
  it('is retried by the query after a backoff that doubles, and the batch then commits once', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    const clock = new ObservedClock(0);
    const sink = flakySink(t, 2, transient);
    const q = t.query({ sink, clock });
    await q.start();
    await clock.sleeping(1);
    expect(q.status.message).toMatch(/^Retrying batch 0 in 1000 ms after: the store is busy/);
    clock.advance(999);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(sink.calls).toBe(1);
    clock.advance(1);
    await clock.sleeping(2);
    expect(q.status.message).toMatch(/^Retrying batch 0 in 2000 ms/);
    clock.advance(2000);
    await q.awaitTermination();
    expect(sink.calls).toBe(3);
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([0]);
    await t.checkAnswer([1, 2]);
    expect(existsSync(nodePath.join(t.checkpoint, 'failures', '0'))).toBe(false);
  });

  it('that keeps failing stops the query after maxBatchAttempts, saying what to do', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    const clock = new ObservedClock(0);
    const sink = flakySink(t, Infinity, transient);
    const q = t.query({ sink, clock });
    await q.start();
    for (let n = 1; n <= 2; n++) {
      await clock.sleeping(n);
      clock.advance(10_000);
    }
    await waitFor(() => !q.isActive, 'the query to stop');
    expect(sink.calls).toBe(3);
    expect(q.exception?.cause).toBeInstanceOf(BatchFailedRepeatedly);
    expect(q.exception?.message).toMatch(/has failed 3 times in a row \(last error: the store is busy\)/);
    expect(q.exception?.message).toMatch(
      /passing one \(retried with backoff\); once the cause is fixed .*run again/,
    );

    // The next run (the store answers again) tries the batch afresh, without --retry-failed: a server
    // that was down is not a batch that cannot succeed.
    const back = t.deltaSink();
    await t.run({ sink: back });
    await t.checkAnswer([1]);
    expect(existsSync(nodePath.join(t.checkpoint, 'failures', '0'))).toBe(false);
  });
});
