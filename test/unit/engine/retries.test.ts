/**
 * StreamingQuery retries a batch that failed with a retryable error, here a real one: the Delta
 * sink's store refuses writes (EBUSY) a few times. Offsets are logged first and the sink is
 * idempotent, so a retry after a commit whose acknowledgement was lost writes nothing twice.
 */
import { describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/table.js';
import { ManualClock } from '../../../src/engine/clock.js';
import { BatchFailedRepeatedly } from '../../../src/engine/query.js';
import { ForeachBatchSink, type Sink } from '../../../src/engine/sink.js';
import { LocalObjectStore, StoreIOError, type ObjectStore } from '../../../src/storage/index.js';
import { HookedStore } from '../../helpers/hooked-store.js';
import { streamTests, waitFor, type StreamTest } from '../../helpers/engine-stream-test.js';

const { stream } = streamTests('tweetlake-retries-');

const isCommit = (path: string) => /^_delta_log\/\d{20}\.json$/.test(path);
const busy = (path: string) =>
  new StoreIOError(
    'writing',
    path,
    'EBUSY',
    Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' }),
  );

/**
 * The sink table's store, failing its first `n` commit writes with EBUSY: before the write
 * ('before'), or after it, as when the store committed but the answer was lost ('after').
 */
function faultyStore(t: StreamTest, n: number, when: 'before' | 'after'): ObjectStore & { faults: number } {
  const inner = new LocalObjectStore(t.table);
  const store = new HookedStore(inner, (op, path) => {
    if (op === 'putIfAbsent' && isCommit(path) && when === 'before' && store.faults < n) {
      store.faults++;
      throw busy(path);
    }
  }) as HookedStore & { faults: number };
  store.faults = 0;
  if (when === 'after') {
    const put = store.putIfAbsent.bind(store);
    store.putIfAbsent = async (path, data) => {
      await put(path, data);
      if (isCommit(path) && store.faults < n) {
        store.faults++;
        throw busy(path);
      }
    };
  }
  return store;
}

/** A Delta sink (append with the query's txn) writing through `store`. */
function sinkOn(t: StreamTest, store: ObjectStore): Sink & { calls: number } {
  const table = new DeltaTable(store, t.session);
  const sink = new ForeachBatchSink(
    'delta through a faulty store',
    async (batch, ctx) => {
      sink.calls++;
      const r = await table.write(
        { sql: batch.sql },
        { mode: 'append', txn: { appId: ctx.queryId, version: ctx.batchId }, operation: 'STREAMING UPDATE' },
      );
      return { numInputRows: batch.numRows ?? 0, numOutputRows: r.numRows };
    },
    [t.table],
  ) as ForeachBatchSink & { calls: number };
  sink.calls = 0;
  return sink;
}

/** A manual clock whose jitter is always `r`; counts the sleeps and keeps their lengths. */
class JitterClock extends ManualClock {
  readonly waits: number[] = [];
  constructor(private readonly r: number) {
    super(0);
  }
  random(): number {
    return this.r;
  }
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.waits.push(ms);
    return super.sleep(ms, signal);
  }
}

/** Lets the query run until it sleeps for the `n`-th time, then wakes it. */
async function wakeAfter(clock: JitterClock, n: number): Promise<void> {
  await waitFor(() => clock.waits.length >= n, `sleep #${n}`);
  clock.advance(clock.waits[n - 1]!);
}

describe('a batch whose store fails with a retryable error', () => {
  it('is retried with exponential backoff and jitter, and commits once', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    const store = faultyStore(t, 2, 'before');
    const sink = sinkOn(t, store);
    const clock = new JitterClock(0.5);
    const q = t.query({ sink, clock });
    await q.start();
    await wakeAfter(clock, 1);
    await wakeAfter(clock, 2);
    await q.awaitTermination();
    expect(store.faults).toBe(2);
    expect(sink.calls).toBe(3);
    // 1000 ms, then 2000 ms, each with 10% jitter (half of the 20% at most)
    expect(clock.waits).toEqual([1100, 2200]);
    await t.checkAnswer([1, 2]);
  });

  it('whose commit landed before the error is not written twice on the retry', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2, 3]);
    const store = faultyStore(t, 1, 'after');
    const sink = sinkOn(t, store);
    const clock = new JitterClock(0);
    const q = t.query({ sink, clock });
    await q.start();
    await wakeAfter(clock, 1);
    await q.awaitTermination();
    expect(sink.calls).toBe(2);
    await t.checkAnswer([1, 2, 3]);
  });

  it('gives up after maxBatchAttempts with the last error', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    const store = faultyStore(t, Infinity, 'before');
    const sink = sinkOn(t, store);
    const clock = new JitterClock(0);
    const q = t.query({ sink, clock });
    await q.start();
    await wakeAfter(clock, 1);
    await wakeAfter(clock, 2);
    await waitFor(() => !q.isActive, 'the query to stop');
    expect(sink.calls).toBe(3);
    expect(q.exception?.cause).toBeInstanceOf(BatchFailedRepeatedly);
    expect((q.exception?.cause as BatchFailedRepeatedly).cause).toBeInstanceOf(StoreIOError);
    expect(q.exception?.message).toMatch(
      /has failed 3 times in a row \(last error: writing .* failed: EBUSY/,
    );
    expect(await t.tableVersion()).toBe(-1);
  });
});
