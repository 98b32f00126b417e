/**
 * A checkpoint lost or damaged, in part or whole: the Delta txn of the sink's tables is the source
 * of truth, so a restart either rebuilds what the checkpoint lost (exactly the same rows) or refuses
 * with a CheckpointError that names what is damaged and how to recover — never a duplicate row.
 */
import { existsSync, promises as fs, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { CheckpointError } from '../../../src/engine/checkpoint.js';
import { DeltaSink, ForeachBatchSink } from '../../../src/engine/sink.js';
import { rejection } from '../../helpers/delta.js';
import { range, StreamTest, streamTests } from '../../helpers/engine-stream-test.js';

const { stream, session } = streamTests('tweetlake-recovery-');

/** Three files, one per batch: ids 1..9 in the sink table. */
function threeBatches(t: StreamTest): void {
  t.addFile('a.json', range(1, 3));
  t.addFile('b.json', range(4, 6));
  t.addFile('c.json', range(7, 9));
}

const ONE_PER_BATCH = { maxFilesPerTrigger: 1 };

/**
 * A sink writing two tables, as bronze does (bronze + quarantine): every row to the main table, the
 * rows with id < 4 (all in a.json, batch 0) also to the side table — so later batches write nothing
 * there and the side table's txn stays at 0.
 */
function twoTableSink(t: StreamTest): ForeachBatchSink {
  const main = new DeltaSink(t.table);
  const side = new DeltaSink(`${t.table}-side`);
  return new ForeachBatchSink(
    'two tables',
    async (batch, ctx) => {
      const result = await main.addBatch(batch, ctx);
      const sideRows = `SELECT * FROM (${batch.sql}) WHERE id < 4`;
      await side.addBatch({ ...batch, sql: sideRows, numRows: 0 }, ctx);
      return result;
    },
    [t.table, `${t.table}-side`],
  );
}

async function sideIds(t: StreamTest): Promise<number[]> {
  const table = await DeltaTable.forPath(`${t.table}-side`, session());
  const plan = await table.scan();
  try {
    return (await session().all(`SELECT id FROM (${plan.sql}) ORDER BY id`)).map((r) => Number(r.id));
  } finally {
    await plan.dispose();
  }
}

const checkpointFile = (t: StreamTest, ...parts: string[]) => nodePath.join(t.checkpoint, ...parts);

describe('commits/ lost: the tables say which batches are in', () => {
  it('when the last batch wrote nothing to one of the tables, a restart duplicates nothing', async () => {
    const t = stream();
    threeBatches(t);
    await t.run({ sink: twoTableSink(t), limits: ONE_PER_BATCH });
    await fs.rm(checkpointFile(t, 'commits'), { recursive: true });
    t.addFile('d.json', [10]);
    const q = await t.run({ sink: twoTableSink(t), limits: ONE_PER_BATCH });
    expect(q.recentProgress.at(-1)!.batchId).toBe(3);
    await t.checkAnswer(range(1, 10));
    expect(await sideIds(t)).toEqual([1, 2, 3]);
  });

  it('the commit entries are written again from the txn, and no batch is replayed', async () => {
    const t = stream();
    threeBatches(t);
    const sink = () => new DeltaSink(t.table);
    await t.run({ sink: sink(), limits: ONE_PER_BATCH });
    const version = await t.tableVersion();
    await fs.rm(checkpointFile(t, 'commits'), { recursive: true });
    const q = await t.run({ sink: sink(), limits: ONE_PER_BATCH });
    expect(q.recentProgress).toEqual([]);
    expect(await t.tableVersion()).toBe(version);
    for (const b of [0, 1, 2]) {
      const text = readFileSync(checkpointFile(t, 'commits', String(b)), 'utf8');
      expect(JSON.parse(text.slice(3))).toEqual({ batchId: b, recoveredFromTables: true });
    }
    await t.checkAnswer(range(1, 9));
  });
});

describe('what the tables hold is lost from the checkpoint: the restart refuses', () => {
  const damages: [string, (t: StreamTest) => Promise<void>, RegExp][] = [
    [
      'sources/ deleted',
      (t) => fs.rm(checkpointFile(t, 'sources'), { recursive: true }),
      /file source log .*sources\/0 has lost the entries of batches 0, 1, 2.*tweetlake run --clear/,
    ],
    [
      'offsets/ deleted',
      (t) => fs.rm(checkpointFile(t, 'offsets'), { recursive: true }),
      /offsets log .*offsets is missing but the commits log has batch 2/,
    ],
    [
      'offsets/ and commits/ deleted',
      async (t) => {
        await fs.rm(checkpointFile(t, 'offsets'), { recursive: true });
        await fs.rm(checkpointFile(t, 'commits'), { recursive: true });
      },
      /offsets log .*offsets is missing, but the tables already hold batch 2 of streaming query 'test_stream'/,
    ],
    [
      'the whole checkpoint folder deleted',
      (t) => fs.rm(t.checkpoint, { recursive: true }),
      /checkpoint folder .*checkpoint of streaming query 'test_stream' is missing, but table .*table already holds batches that query wrote/,
    ],
    [
      'metadata deleted',
      (t) => fs.rm(checkpointFile(t, 'metadata')),
      /has lost its metadata file \(the query id\)/,
    ],
  ];
  for (const [what, damage, message] of damages) {
    it(`${what}: a CheckpointError says what is lost and how to recover; no row is written twice`, async () => {
      const t = stream();
      threeBatches(t);
      await t.run({ sink: new DeltaSink(t.table), limits: ONE_PER_BATCH });
      const version = await t.tableVersion();
      await damage(t);
      const err = await rejection(t.run({ sink: new DeltaSink(t.table), limits: ONE_PER_BATCH }));
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(
        /restore the checkpoint folder from a backup, or run `tweetlake run --clear`/i,
      );
      expect(await t.tableVersion()).toBe(version);
      await t.checkAnswer(range(1, 9));
    });
  }
});

describe('damaged checkpoint files', () => {
  const files: [string, string][] = [
    ['offsets', 'offsets/2'],
    ['commits', 'commits/2'],
    ['metadata', 'metadata'],
    ['source log', 'sources/0/1'],
  ];
  for (const [what, file] of files) {
    it(`a truncated ${what} file is an error naming the file and how to recover`, async () => {
      const t = stream();
      threeBatches(t);
      await t.run({ limits: ONE_PER_BATCH });
      const path = checkpointFile(t, ...file.split('/'));
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, text.slice(0, Math.floor(text.length / 2)));
      const err = await rejection(t.run({ limits: ONE_PER_BATCH }));
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err.message).toContain(`checkpoint file ${path} is damaged`);
      expect(err.message).toMatch(/tweetlake run --clear/);
      expect(err.message).not.toMatch(/Unexpected end of JSON input$/);
      await t.checkAnswer(range(1, 9));
    });
  }
});

describe('checkpoint log format', () => {
  it('writes offsets, commits and source logs as a v1 line and JSON; metadata as plain JSON (as Spark)', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    await t.run();
    for (const file of ['offsets/0', 'commits/0', 'sources/0/0']) {
      const text = readFileSync(checkpointFile(t, ...file.split('/')), 'utf8');
      expect(text.split('\n')[0], file).toBe('v1');
      expect(() => JSON.parse(text.slice(3)) as unknown).not.toThrow();
    }
    expect(JSON.parse(readFileSync(checkpointFile(t, 'metadata'), 'utf8'))).toEqual({
      id: expect.any(String),
    });
  });

  it('reads a checkpoint written by the tweetlake before versioned logs (plain JSON, whole files by path)', async () => {
    const t = stream();
    t.addFile('a.json', [1, 2]);
    t.addFile('b.json', [3]);
    await t.run({ limits: ONE_PER_BATCH });
    // Rewrite every log entry as the older tweetlake wrote it.
    for (const dir of ['offsets', 'commits']) {
      for (const f of readdirSync(checkpointFile(t, dir))) {
        const path = checkpointFile(t, dir, f);
        writeFileSync(path, readFileSync(path, 'utf8').slice(3));
      }
    }
    for (const f of readdirSync(checkpointFile(t, 'sources', '0'))) {
      const path = checkpointFile(t, 'sources', '0', f);
      const { ranges } = JSON.parse(readFileSync(path, 'utf8').slice(3)) as {
        ranges: { path: string; size: number; mtime: number }[];
      };
      writeFileSync(
        path,
        JSON.stringify({ files: ranges.map((r) => ({ path: r.path, size: r.size, mtime: r.mtime })) }),
      );
    }
    t.addFile('c.json', [4, 5]);
    const q = await t.run({ limits: ONE_PER_BATCH });
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([2]);
    expect(t.batchFiles.get(2)).toEqual(['c.json']);
    await t.checkAnswer(range(1, 5));
    expect(existsSync(checkpointFile(t, 'offsets', '2'))).toBe(true);
  });
});
