/**
 * The stage seam: a transform makes rows per table, DeltaTablesSink writes each table once with the
 * query's txn, and the engine checks the txn once before it runs a batch.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { field, type StructType } from '../../../src/delta/schema.js';
import { DeltaTable } from '../../../src/delta/table.js';
import { ManualClock } from '../../../src/engine/clock.js';
import { DeltaTablesSink } from '../../../src/engine/delta-tables-sink.js';
import type { BatchContext, BatchResult, Sink } from '../../../src/engine/sink.js';
import type { SourceBatch } from '../../../src/engine/source.js';
import { TweetlakeError } from '../../../src/errors.js';
import { streamTests, waitFor, type StreamTest } from '../../helpers/engine-stream-test.js';

const { stream } = streamTests('tweetlake-stage-sink-');

const SCHEMA: StructType = { type: 'struct', fields: [field('id', 'long')] };

/** Even ids go to `even`, odd ones to `odd`; counts the transform's calls. */
function evenOddSink(t: StreamTest): DeltaTablesSink<'even' | 'odd'> & { transforms: number } {
  const sink = new DeltaTablesSink(
    'even + odd',
    {
      even: { path: nodePath.join(t.root, 'even'), schema: SCHEMA },
      odd: { path: nodePath.join(t.root, 'odd'), schema: SCHEMA },
    },
    async (batch) => {
      sink.transforms++;
      return {
        rows: {
          even: { sql: `SELECT id FROM (${batch.sql}) WHERE id % 2 = 0` },
          odd: { sql: `SELECT id FROM (${batch.sql}) WHERE id % 2 = 1` },
        },
        numInputRows: batch.numRows ?? 0,
        metrics: (w) => ({ even: w.even, odd: w.odd }),
      };
    },
  ) as DeltaTablesSink<'even' | 'odd'> & { transforms: number };
  sink.transforms = 0;
  return sink;
}

async function tableIds(
  t: StreamTest,
  name: string,
): Promise<{ ids: number[]; txn?: number; queryTxns: number }> {
  const table = await DeltaTable.forPath(nodePath.join(t.root, name), t.session);
  const snapshot = await table.snapshot();
  const plan = await table.scan(snapshot);
  try {
    const rows = await t.session.all(`SELECT id FROM (${plan.sql}) ORDER BY id`);
    const [app] = snapshot.transactions;
    return { ids: rows.map((r) => Number(r.id)), txn: app?.version, queryTxns: snapshot.transactions.length };
  } finally {
    await plan.dispose();
  }
}

describe('DeltaTablesSink', () => {
  it('writes each table in one commit with the txn, even a table that gets no rows', async () => {
    const t = stream();
    t.addFile('a.json', [2, 4]);
    const q = await t.run({ sink: evenOddSink(t) });
    expect(await tableIds(t, 'even')).toEqual({ ids: [2, 4], txn: 0, queryTxns: 1 });
    expect(await tableIds(t, 'odd')).toEqual({ ids: [], txn: 0, queryTxns: 1 });
    expect(q.lastProgress?.metrics).toEqual({ even: 2, odd: 0 });
  });

  it('a batch that one table holds already is written to the other only', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2, 3]);
    await t.run({ sink: evenOddSink(t) });
    // A crash after the even table's commit: the odd table and the commits log lost the batch.
    await fs.rm(nodePath.join(t.root, 'odd'), { recursive: true });
    await fs.rm(nodePath.join(t.checkpoint, 'commits'), { recursive: true });
    const sink = evenOddSink(t);
    const q = await t.run({ sink });
    expect(sink.transforms).toBe(1);
    expect(await tableIds(t, 'even')).toEqual({ ids: [2], txn: 0, queryTxns: 1 });
    expect(await tableIds(t, 'odd')).toEqual({ ids: [1, 3], txn: 0, queryTxns: 1 });
    expect(q.lastProgress?.metrics).toEqual({ even: 1, odd: 2 });
  });
});

/** The sink whose answer is lost once after its tables committed (a retryable failure). */
function losesFirstAnswer(inner: Sink): Sink & { calls: number } {
  const sink = {
    description: inner.description,
    tables: inner.tables,
    calls: 0,
    holdsBatch: (ctx: BatchContext) => inner.holdsBatch!(ctx),
    async addBatch(batch: SourceBatch, ctx: BatchContext): Promise<BatchResult> {
      sink.calls++;
      const result = await inner.addBatch(batch, ctx);
      if (sink.calls === 1) throw new TweetlakeError('TEST_LOST', 'the answer was lost', { retryable: true });
      return result;
    },
  };
  return sink;
}

describe('the engine', () => {
  it('checks the txn once before a batch and skips, without transforming it, one every table holds', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    const stage = evenOddSink(t);
    const sink = losesFirstAnswer(stage);
    const clock = new ManualClock(0);
    const q = t.query({ sink, clock });
    await q.start();
    await waitFor(() => q.status.message.startsWith('Retrying batch 0'), 'the retry');
    clock.advance(1000);
    await q.awaitTermination();
    expect(sink.calls).toBe(1); // the retry found the batch in both tables: no second write
    expect(stage.transforms).toBe(1);
    expect(q.recentProgress.map((p) => [p.batchId, p.sink.numOutputRows])).toEqual([[0, 0]]);
    expect((await tableIds(t, 'even')).ids).toEqual([2]);
    expect((await tableIds(t, 'odd')).ids).toEqual([1]);
  });
});
