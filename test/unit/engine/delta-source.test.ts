import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession, type JsonValue } from '../../../src/duck/session.js';
import { DeltaSource, SourceDataRemoved, type DeltaSourceOptions } from '../../../src/engine/delta-source.js';
import { StreamingQueryException } from '../../../src/engine/query.js';
import { rejection, tempDirs } from '../../helpers/delta.js';
import {
  appendIds,
  failingSink,
  range,
  StreamTest,
  type QuerySpec,
} from '../../helpers/engine-stream-test.js';

let session: DuckSession;
const dirs = tempDirs('tweetlake-deltasource-');
beforeAll(async () => {
  session = await DuckSession.create();
});
afterAll(() => {
  session.close();
  dirs.cleanup();
});

/** A stream from a Delta table (`upstream`) to the sink table; rows pass through unchanged. */
function deltaStream(): {
  t: StreamTest;
  upstream: string;
  run: (o?: DeltaSourceOptions, spec?: QuerySpec) => ReturnType<StreamTest['run']>;
} {
  const t = new StreamTest(session, dirs.make());
  const upstream = nodePath.join(t.root, 'upstream');
  const run = (o: DeltaSourceOptions = {}, spec: QuerySpec = {}) =>
    t.run({ source: new DeltaSource(upstream, o), transform: null, sink: t.deltaSinkPlain(), ...spec });
  return { t, upstream, run };
}

describe('DeltaSource', () => {
  it('reads the snapshot present at start (in one batch without limits), then each new version', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1, 2]); // version 0
    await appendIds(session, upstream, [3]); // version 1
    const q1 = await run();
    expect(q1.recentProgress).toHaveLength(1);
    expect(q1.recentProgress[0]?.sources[0]?.endOffset).toEqual({
      version: 1,
      initial: true,
      index: 2,
      order: 'time',
    });
    expect(q1.recentProgress[0]?.sources[0]?.startOffset).toBeNull();
    await t.checkAnswer([1, 2, 3]);

    await appendIds(session, upstream, [4]); // version 2
    await appendIds(session, upstream, [5, 6]); // version 3
    const q2 = await run({}, { limits: { maxFilesPerTrigger: 1 } });
    expect(q2.recentProgress.map((p) => p.sources[0]?.endOffset)).toEqual([{ version: 2 }, { version: 3 }]);
    expect(q2.recentProgress.map((p) => p.numInputRows)).toEqual([1, 2]);
    await t.checkAnswer(range(1, 6));

    const q3 = await run();
    expect(q3.recentProgress).toEqual([]);
    await t.checkAnswer(range(1, 6));
  });

  it('reads a large starting snapshot in batches of maxFilesPerTrigger files, across restarts', async () => {
    const { t, upstream, run } = deltaStream();
    for (const id of [1, 2, 3, 4, 5]) await appendIds(session, upstream, [id]); // versions 0..4, one file each
    const q1 = await run({}, { limits: { maxFilesPerTrigger: 2 } });
    expect(q1.recentProgress.map((p) => p.sources[0]?.endOffset)).toEqual([
      { version: 4, initial: true, index: 2, order: 'time' },
      { version: 4, initial: true, index: 4, order: 'time' },
      { version: 4, initial: true, index: 5, order: 'time' },
    ]);
    expect(q1.recentProgress.map((p) => p.numInputRows)).toEqual([2, 2, 1]);
    await t.checkAnswer([1, 2, 3, 4, 5]);
    await appendIds(session, upstream, [6]); // version 5
    const q2 = await run({}, { limits: { maxFilesPerTrigger: 2 } });
    expect(q2.recentProgress.map((p) => p.sources[0]?.endOffset)).toEqual([{ version: 5 }]);
    await t.checkAnswer([1, 2, 3, 4, 5, 6]);
  });

  it('cuts a starting snapshot in the order its files were written, not by their (random) names', async () => {
    const upstream = nodePath.join(dirs.make(), 'upstream');
    for (const id of range(1, 8)) await appendIds(session, upstream, [id]); // one file per version
    const source = new DeltaSource(upstream);
    await source.initialize(undefined as never, session);
    const batches: number[][] = [];
    let offset: JsonValue | undefined;
    for (;;) {
      const next = await source.latestOffset(offset, { maxFilesPerTrigger: 3 });
      if (JSON.stringify(next) === JSON.stringify(offset)) break;
      const batch = await source.getBatch(offset, next!);
      batches.push((await session.all(`SELECT id FROM (${batch.sql}) ORDER BY id`)).map((r) => Number(r.id)));
      await batch.dispose();
      offset = next;
    }
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  it('resumes an offset written before the order was recorded (no `order`) in file-name order', async () => {
    const upstream = nodePath.join(dirs.make(), 'upstream');
    for (const id of range(1, 6)) await appendIds(session, upstream, [id]);
    const table = await DeltaTable.forPath(upstream, session);
    const byName = [...(await table.snapshot()).files].sort((a, b) => (a.path < b.path ? -1 : 1));
    const idOf = async (path: string) =>
      Number((await session.all(`SELECT id FROM read_parquet('${nodePath.join(upstream, path)}')`))[0]!.id);
    const source = new DeltaSource(upstream);
    await source.initialize(undefined as never, session);
    const old = { version: 5, initial: true, index: 2 };
    const next = await source.latestOffset(old, { maxFilesPerTrigger: 2 });
    expect(next).toEqual({ version: 5, initial: true, index: 4 });
    const batch = await source.getBatch(old, next!);
    const ids = (await session.all(`SELECT id FROM (${batch.sql}) ORDER BY id`)).map((r) => Number(r.id));
    await batch.dispose();
    expect(ids).toEqual(
      (await Promise.all(byName.slice(2, 4).map((f) => idOf(f.path)))).sort((a, b) => a - b),
    );
  });

  it('without limits reads every new version in one batch', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1]);
    await run();
    for (const id of [2, 3, 4]) await appendIds(session, upstream, [id]);
    const q = await run();
    expect(q.recentProgress.map((p) => p.sources[0]?.endOffset)).toEqual([{ version: 3 }]);
    await t.checkAnswer([1, 2, 3, 4]);
  });

  it('startingVersion reads the changes from that version on, not the snapshot', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1]); // v0
    await appendIds(session, upstream, [2]); // v1
    await appendIds(session, upstream, [3, 4]); // v2
    await appendIds(session, upstream, [5]); // v3
    await run({ startingVersion: 2 });
    await t.checkAnswer([3, 4, 5]);
  });

  it('startingVersion beyond the latest version waits for that version', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1]); // v0
    const q = await run({ startingVersion: 1 });
    expect(q.recentProgress).toEqual([]);
    await appendIds(session, upstream, [2]); // v1
    await run({ startingVersion: 1 });
    await t.checkAnswer([2]);
  });

  it('OPTIMIZE (dataChange=false) brings no duplicate rows', async () => {
    const { t, upstream, run } = deltaStream();
    for (const id of [1, 2, 3, 4]) await appendIds(session, upstream, [id]);
    await run();
    const table = await DeltaTable.forPath(upstream, session);
    const optimized = await table.optimize();
    expect(optimized.version).toBeDefined();
    expect(optimized.numFilesRemoved).toBe(4);
    await appendIds(session, upstream, [5]);
    const q = await run();
    expect(q.recentProgress.map((p) => p.numInputRows)).toEqual([1]);
    await t.checkAnswer([1, 2, 3, 4, 5]);

    // A stream started after OPTIMIZE reads the compacted snapshot once.
    const fresh = deltaStream();
    const fresh2 = await fresh.t.run({
      source: new DeltaSource(upstream),
      transform: null,
      sink: fresh.t.deltaSinkPlain(),
    });
    expect(fresh2.recentProgress).toHaveLength(1);
    await fresh.t.checkAnswer([1, 2, 3, 4, 5]);
  });

  it('a commit that removes data (overwrite) fails the query with SourceDataRemoved', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1, 2]);
    await run();
    await appendIds(session, upstream, [10], 'overwrite');
    const err = await rejection(run());
    expect(err).toBeInstanceOf(StreamingQueryException);
    expect(err.cause).toBeInstanceOf(SourceDataRemoved);
    expect((err.cause as SourceDataRemoved).code).toBe('STREAM_SOURCE_REMOVED_DATA');
    expect(err.message).toMatch(/version 1 of source table .* removes data/);
    await t.checkAnswer([1, 2]);
  });

  it('skipChangeCommits skips the whole commit that removes data and follows the appends after it', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1, 2]); // v0
    await run({ skipChangeCommits: true });
    await appendIds(session, upstream, [10], 'overwrite'); // v1: removes 1, 2 and adds 10
    await appendIds(session, upstream, [11]); // v2
    await run({ skipChangeCommits: true });
    await t.checkAnswer([1, 2, 11]);
  });

  it('a crash after the sink committed a batch of versions: the restart finds it in the table (txn) and goes on', async () => {
    const { t, upstream, run } = deltaStream();
    await appendIds(session, upstream, [1]);
    await run();
    await appendIds(session, upstream, [2]);
    await appendIds(session, upstream, [3]);
    const err = await rejection(run({}, { sink: failingSink(t.deltaSinkPlain(), () => 'after') }));
    expect(err).toBeInstanceOf(StreamingQueryException);
    await t.checkAnswer([1, 2, 3]);
    await appendIds(session, upstream, [4]);
    expect(t.hasLog('commits', 1)).toBe(false);
    const q = await run();
    // The DeltaSink's table holds batch 1 (its txn): the commit entry is written again, nothing replayed.
    expect(t.hasLog('commits', 1)).toBe(true);
    expect(q.recentProgress.map((p) => [p.batchId, p.sources[0]?.endOffset, p.sink.numOutputRows])).toEqual([
      [2, { version: 3 }, 1],
    ]);
    await t.checkAnswer([1, 2, 3, 4]);
  });

  it('a source table that does not exist yet gives no batch until it is created', async () => {
    const { t, upstream, run } = deltaStream();
    const q = await run();
    expect(q.recentProgress).toEqual([]);
    await appendIds(session, upstream, [7]);
    await run();
    await t.checkAnswer([7]);
  });
});
