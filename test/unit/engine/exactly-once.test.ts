import * as nodePath from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { CheckpointError, StreamCheckpoint } from '../../../src/engine/checkpoint.js';
import { StreamingQueryException } from '../../../src/engine/query.js';
import { ForeachBatchSink } from '../../../src/engine/sink.js';
import { Trigger } from '../../../src/engine/trigger.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { commitActions, rejection } from '../../helpers/delta.js';
import { failingSink, range, StreamTest, streamTests } from '../../helpers/engine-stream-test.js';

const { stream, session, dir } = streamTests('tweetlake-exactly-once-');

describe('exactly-once: a batch planned but not committed is replayed', () => {
  it('a sink that fails after committing to Delta: the restart replays the same files and the txn skips them', async () => {
    const t = stream();
    t.addFile('a.json', range(1, 3));
    t.addFile('b.json', range(4, 6));
    const crashing = failingSink(t.deltaSink(), (id) => (id === 1 ? 'after' : 'no'));
    const err = await rejection(t.run({ sink: crashing, limits: { maxFilesPerTrigger: 1 } }));
    expect(err).toBeInstanceOf(StreamingQueryException);
    expect(err.message).toContain('injected failure after batch 1');
    expect(t.hasLog('offsets', 1)).toBe(true);
    expect(t.hasLog('commits', 1)).toBe(false);
    await t.checkAnswer(range(1, 6)); // batch 1 did reach the table
    const versionAfterCrash = await t.tableVersion();

    t.addFile('c.json', range(7, 9)); // arrives while the query is down
    t.batchFiles.clear();
    const q = await t.run({ limits: { maxFilesPerTrigger: 1 } });
    const [replay, next] = q.recentProgress;
    expect(replay?.batchId).toBe(1);
    expect(t.batchFiles.get(1)).toEqual(['b.json']); // the same files as planned, not c.json
    expect(replay?.sink.numOutputRows).toBe(0); // the Delta txn says batch 1 is in: skipped
    expect(next?.batchId).toBe(2);
    expect(t.batchFiles.get(2)).toEqual(['c.json']);
    expect(await t.tableVersion()).toBe(versionAfterCrash + 1);
    await t.checkAnswer(range(1, 9));
    expect(t.hasLog('commits', 1) && t.hasLog('commits', 2)).toBe(true);
  });

  it('a sink that fails before writing: the restart writes the planned batch once', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    const err = await rejection(t.run({ sink: failingSink(t.deltaSink(), () => 'before') }));
    expect(err).toBeInstanceOf(StreamingQueryException);
    expect(t.hasLog('offsets', 0)).toBe(true);
    await t.checkAnswer([]);
    t.addFile('b.json', [3]);
    const q = await t.run({ limits: { maxFilesPerTrigger: 5 } });
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([0, 1]);
    expect(t.batchFiles.get(0)).toEqual(['a.json']);
    expect(q.recentProgress[0]?.sink.numOutputRows).toBe(2);
    await t.checkAnswer([1, 2, 3]);
  });

  it('commits/N deleted after a clean run (died between the Delta commit and the commit log): no duplicate rows', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    t.addFile('b.json', [3, 4]);
    await t.run({ limits: { maxFilesPerTrigger: 1 } });
    const version = await t.tableVersion();
    await t.dropCommit(1);
    const q = await t.run({ limits: { maxFilesPerTrigger: 1 } });
    expect(q.recentProgress.map((p) => [p.batchId, p.sink.numOutputRows])).toEqual([[1, 0]]);
    expect(await t.tableVersion()).toBe(version);
    expect(t.hasLog('commits', 1)).toBe(true);
    await t.checkAnswer([1, 2, 3, 4]);
  });

  it('the Delta commit carries txn(appId = query id, version = batch id)', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    t.addFile('b.json', [2]);
    const q = await t.run({ limits: { maxFilesPerTrigger: 1 } });
    const table = await DeltaTable.forPath(t.table, session());
    expect((await table.snapshot()).txnVersion(q.id)).toBe(1);
    const txns = (await commitActions(t.table, 1)).filter((a) => 'txn' in a);
    expect(txns).toEqual([{ txn: expect.objectContaining({ appId: q.id, version: 1 }) }]);
  });

  it('Trigger.once after a crash replays the planned batch and stops', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    await rejection(t.run({ sink: failingSink(t.deltaSink(), () => 'after') }));
    t.addFile('b.json', [2]);
    const q = await t.run({ trigger: Trigger.once() });
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([0]);
    await t.checkAnswer([1]);
    await t.run({ trigger: Trigger.once() });
    await t.checkAnswer([1, 2]);
  });
});

describe('restart equivalence', () => {
  const FILES = 6;
  const addAll = (t: StreamTest) => {
    for (let f = 0; f < FILES; f++) t.addFile(`part-${f}.json`, range(f * 100, f * 100 + f + 1));
  };
  const expected = Array.from({ length: FILES }, (_, f) => range(f * 100, f * 100 + f + 1)).flat();
  const limits = { maxFilesPerTrigger: 2 };

  it('one uninterrupted run equals runs stopped and restarted after every batch', async () => {
    const once = stream();
    addAll(once);
    const q = await once.run({ limits });
    expect(q.recentProgress).toHaveLength(3);
    const golden = await once.rows();
    expect(golden.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(expected);

    const stepwise = stream();
    addAll(stepwise);
    let runs = 0;
    for (;;) {
      // StopStream right after the first batch of each run: the sink asks its query to stop, which
      // takes effect before the next batch is planned.
      const inner = stepwise.deltaSink();
      const sink = new ForeachBatchSink('stops after one batch', async (batch, ctx) => {
        const result = await inner.addBatch(batch, ctx);
        void query.stop();
        return result;
      });
      const query = stepwise.query({ limits, sink });
      await query.start();
      await query.awaitTermination();
      if (query.recentProgress.length === 0) break;
      expect(query.recentProgress).toHaveLength(1);
      runs++;
      expect(runs).toBeLessThan(10);
    }
    expect(runs).toBe(3);
    const names = (rows: typeof golden) =>
      rows.map((r) => ({ ...r, source_file: nodePath.basename(String(r.source_file)) }));
    expect(names(await stepwise.rows())).toEqual(names(golden));
  });

  it('property: crashing after any set of Delta commits and restarting gives the uninterrupted answer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.boolean(),
        async (crashAfter, crashBefore) => {
          const t = stream();
          addAll(t);
          const crashed = new Set<number>();
          const sink = failingSink(t.deltaSink(), (id) => {
            if (crashed.has(id)) return 'no';
            crashed.add(id);
            if (crashAfter[id]) return 'after';
            return crashBefore && id === 1 ? 'before' : 'no';
          });
          for (let attempt = 0; attempt < 8; attempt++) {
            const q = await t.start({ sink, limits });
            try {
              await q.awaitTermination();
              break;
            } catch (err) {
              expect(err).toBeInstanceOf(StreamingQueryException);
            }
          }
          expect(await t.ids()).toEqual(expected);
          expect(t.hasLog('commits', 2)).toBe(true);
          expect(t.hasLog('offsets', 3)).toBe(false);
        },
      ),
      { numRuns: 6, seed: 20_240_601 },
    );
  });
});

describe('StreamCheckpoint', () => {
  it('keeps its query id across instances', async () => {
    const folder = dir();
    const a = await new StreamCheckpoint(new LocalObjectStore(folder)).queryId();
    const b = await new StreamCheckpoint(new LocalObjectStore(folder)).queryId();
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toBe(a);
  });

  it('refuses to plan a batch twice (two runs of one query)', async () => {
    const cp = new StreamCheckpoint(new LocalObjectStore(dir()));
    await cp.writeOffsets({ batchId: 0, sources: [0], batchTimestampMs: 1 });
    const err = await rejection(cp.writeOffsets({ batchId: 0, sources: [1], batchTimestampMs: 2 }));
    expect(err).toBeInstanceOf(CheckpointError);
    expect((await cp.readOffsets(0)).sources).toEqual([0]);
  });

  it('tracks the latest planned and committed batch, and purges old entries', async () => {
    const cp = new StreamCheckpoint(new LocalObjectStore(dir()));
    expect(await cp.latestOffsetBatch()).toBeUndefined();
    for (let b = 0; b <= 12; b++) await cp.writeOffsets({ batchId: b, sources: [b], batchTimestampMs: b });
    for (let b = 0; b <= 11; b++) await cp.writeCommit(b);
    await cp.writeCommit(11); // idempotent
    expect(await cp.latestOffsetBatch()).toBe(12);
    expect(await cp.latestCommittedBatch()).toBe(11);
    await cp.purge(12, 5);
    const left = (await cp.store.list('offsets/'))
      .map((e) => Number(e.path.split('/')[1]))
      .sort((x, y) => x - y);
    expect(left).toEqual(range(7, 12));
  });
});
