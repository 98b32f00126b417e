import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/engine/clock.js';
import { StreamingQueryManager } from '../../../src/engine/manager.js';
import { StreamingQuery, StreamingQueryException } from '../../../src/engine/query.js';
import { FileSource } from '../../../src/engine/file-source.js';
import { ForeachBatchSink } from '../../../src/engine/sink.js';
import { Trigger } from '../../../src/engine/trigger.js';
import { rejection } from '../../helpers/delta.js';
import {
  failingSink,
  ObservedClock,
  parseIdRecords,
  range,
  streamTests,
  waitFor,
} from '../../helpers/engine-stream-test.js';

const { stream, session } = streamTests('tweetlake-query-');

describe('processingTime trigger with a manual clock', () => {
  it('runs a batch per interval only when the clock moves, and stops on request', async () => {
    const t = stream();
    const clock = new ObservedClock(1_000_000);
    t.addFile('a.json', [1, 2]);
    const q = await t.start({ trigger: Trigger.processingTime(1000), clock });
    await clock.sleeping(1); // batch 0 done, waiting for the next trigger
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([0]);
    expect(q.status).toEqual({
      message: 'Waiting for next trigger',
      isDataAvailable: true,
      isTriggerActive: false,
    });
    await t.checkAnswer([1, 2]);

    t.addFile('b.json', [3]);
    clock.advance(999); // not yet time
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(q.recentProgress).toHaveLength(1);

    clock.advance(1); // AdvanceManualClock(1000 in all): the next trigger finds b.json
    await clock.sleeping(2);
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([0, 1]);
    await t.checkAnswer([1, 2, 3]);

    clock.advance(1000); // no new data: polls, then waits again
    await clock.sleeping(3);
    expect(q.status).toEqual({
      message: 'Waiting for data to arrive',
      isDataAvailable: false,
      isTriggerActive: false,
    });
    expect(q.recentProgress).toHaveLength(2);

    expect(q.isActive).toBe(true);
    await q.stop(); // wakes the sleeping query; no clock movement needed
    expect(q.isActive).toBe(false);
    expect(q.status.message).toBe('Stopped');
    await q.awaitTermination();
  });

  it('a batch that takes longer than the interval is followed at once by the next', async () => {
    const t = stream();
    const clock = new ObservedClock(0);
    t.addFile('a.json', [1]);
    t.addFile('b.json', [2]);
    const inner = t.deltaSink();
    const slow = new ForeachBatchSink('slow', async (batch, ctx) => {
      clock.advance(5000); // the batch "takes" 5 s of clock time
      return inner.addBatch(batch, ctx);
    });
    const q = await t.start({
      trigger: Trigger.processingTime(1000),
      clock,
      sink: slow,
      limits: { maxFilesPerTrigger: 1 },
    });
    await waitFor(() => q.recentProgress.length === 2, 'two batches');
    // Each batch's duration is measured on the injected clock.
    expect(q.recentProgress[0]?.durationMs.addBatch).toBe(5000);
    expect(q.recentProgress[0]?.durationMs.triggerExecution).toBe(5000);
    await q.stop();
    await t.checkAnswer([1, 2]);
  });
});

describe('QueryProgress', () => {
  it('fills batch id, input rows, durations, source offsets and sink output rows', async () => {
    const t = stream();
    t.addFile('a.json', range(1, 3));
    t.addFile('b.json', range(4, 8));
    const seen: number[] = [];
    const q = new StreamingQuery({
      name: 'progress_test',
      source: new FileSource({ path: t.source }),
      sink: t.deltaSink(),
      transform: parseIdRecords,
      checkpointLocation: t.checkpoint,
      trigger: Trigger.availableNow(),
      limits: { maxFilesPerTrigger: 1 },
      session: session(),
      onProgress: (p) => seen.push(p.batchId),
    });
    await q.start();
    await q.awaitTermination();
    expect(seen).toEqual([0, 1]);
    const [p0, p1] = q.recentProgress;
    expect(q.lastProgress).toBe(p1);
    const meta = JSON.parse(readFileSync(nodePath.join(t.checkpoint, 'metadata'), 'utf8')) as { id: string };
    expect(p0).toMatchObject({
      id: meta.id,
      runId: q.runId,
      name: 'progress_test',
      batchId: 0,
      numInputRows: 3,
      sources: [
        {
          description: expect.stringContaining('FileSource['),
          startOffset: null,
          endOffset: 0,
          numInputRows: 3,
          batch: '1 file(s)',
        },
      ],
      sink: { description: expect.stringContaining('DeltaSink['), numOutputRows: 3 },
    });
    expect(p1).toMatchObject({
      batchId: 1,
      numInputRows: 5,
      sources: [{ startOffset: 0, endOffset: 1 }],
      sink: { numOutputRows: 5 },
    });
    expect(Object.keys(p0!.durationMs).sort()).toEqual([
      'addBatch',
      'commitOffsets',
      'getBatch',
      'latestOffset',
      'triggerExecution',
      'walCommit',
    ]);
    for (const v of Object.values(p0!.durationMs)) expect(v).toBeGreaterThanOrEqual(0);
    expect(p0!.durationMs.triggerExecution).toBeGreaterThanOrEqual(p0!.durationMs.addBatch);
    expect(p0!.processedRowsPerSecond).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(p0!.timestamp))).toBe(false);
  });

  it('reports a metric map from the sink', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    const sink = new ForeachBatchSink('counts', async () => ({
      numInputRows: 1,
      numOutputRows: 0,
      metrics: { quarantinedRows: 1 },
    }));
    const q = await t.run({ sink });
    expect(q.lastProgress?.metrics).toEqual({ quarantinedRows: 1 });
    expect(q.lastProgress?.sink).toEqual({ description: 'counts', numOutputRows: 0 });
  });
});

describe('StreamingQueryManager', () => {
  it('lists active queries, refuses a second run of a name, stops one by name and all', async () => {
    const manager = new StreamingQueryManager();
    const clock = new ObservedClock(0);
    const a = stream();
    const b = stream();
    const qa = await manager.start({
      ...a.queryOptions(),
      name: 'a_stream',
      trigger: Trigger.processingTime(1000),
      clock,
    });
    const qb = await manager.start({
      ...b.queryOptions(),
      name: 'b_stream',
      trigger: Trigger.processingTime(1000),
      clock,
    });
    expect(manager.active.map((q) => q.name).sort()).toEqual(['a_stream', 'b_stream']);
    const dup = await rejection(
      manager.start({ ...a.queryOptions(), name: 'a_stream', trigger: Trigger.once() }),
    );
    expect((dup as { code?: string }).code).toBe('STREAM_ALREADY_ACTIVE');

    expect(await manager.stop('a_stream')).toBe(true);
    expect(qa.isActive).toBe(false);
    expect(manager.active.map((q) => q.name)).toEqual(['b_stream']);
    expect(await manager.stop('nope')).toBe(false);
    expect(manager.get('b_stream')).toBe(qb);

    await manager.stopAll();
    expect(manager.active).toEqual([]);
    expect(manager.all.map((q) => q.name).sort()).toEqual(['a_stream', 'b_stream']);
    await manager.awaitAll();
  });

  it('a failing sink surfaces as StreamingQueryException from awaitTermination', async () => {
    const manager = new StreamingQueryManager();
    const t = stream();
    t.addFile('a.json', [1]);
    const q = await manager.start({
      ...t.queryOptions(),
      name: 'broken',
      sink: failingSink(t.deltaSink(), () => 'before'),
      trigger: Trigger.processingTime(1000),
      clock: systemClock,
    });
    const err = await rejection(q.awaitTermination());
    expect(err).toBeInstanceOf(StreamingQueryException);
    expect((err as StreamingQueryException).queryName).toBe('broken');
    expect(err.message).toContain("streaming query 'broken' failed: injected failure before batch 0");
    expect((err.cause as Error).message).toBe('injected failure before batch 0');
    expect(q.exception).toBe(err);
    expect(q.isActive).toBe(false);
    expect(q.status.message).toMatch(/^Terminated with exception/);
    expect(manager.active).toEqual([]);
    await expect(manager.awaitAll()).rejects.toBeInstanceOf(StreamingQueryException);
    // The name may run again once the failed run has ended.
    const again = await manager.start({
      ...t.queryOptions(),
      name: 'broken',
      trigger: Trigger.availableNow(),
    });
    await again.awaitTermination();
    await t.checkAnswer([1]);
  });
});
