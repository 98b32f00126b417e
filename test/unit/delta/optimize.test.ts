import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable, planBins, type AddFile } from '../../../src/delta/index.js';
import {
  DV_SMALL,
  commitActions,
  copyConformanceTable,
  idRows,
  readRows,
  tempDirs,
} from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-optimize-');
afterAll(() => dirs.cleanup());

function file(
  path: string,
  size: number,
  partitionValues: Record<string, string | null> = {},
  dv = false,
): AddFile {
  return {
    path,
    size,
    partitionValues,
    modificationTime: 0,
    dataChange: true,
    ...(dv
      ? {
          deletionVector: DV_SMALL,
        }
      : {}),
  };
}

const names = (bins: AddFile[][]) => bins.map((b) => b.map((f) => f.path).sort());

describe('planBins', () => {
  it('packs small files of one partition into bins of at most the target size, smallest first', () => {
    const bins = planBins([file('a', 40), file('b', 10), file('c', 30), file('d', 20)], 60);
    // sorted by size: b10 d20 c30 | a40  (b+d+c = 60 fits; a would overflow)
    expect(names(bins)).toEqual([['b', 'c', 'd']]); // the bin with 'a' alone is not worth rewriting
  });

  it('leaves files at or above 3/4 of the target alone, and keeps partitions apart', () => {
    const bins = planBins(
      [
        file('big', 80),
        file('p1a', 5, { p: '1' }),
        file('p1b', 5, { p: '1' }),
        file('p2a', 5, { p: '2' }),
        file('pn', 5, { p: null }),
        file('pn2', 6, { p: null }),
      ],
      100,
    );
    expect(names(bins).sort()).toEqual([
      ['p1a', 'p1b'],
      ['pn', 'pn2'],
    ]);
  });

  it('rewrites a single file when it has a deletion vector (to drop the deleted rows)', () => {
    expect(names(planBins([file('dv', 500, {}, true)], 100))).toEqual([['dv']]);
    expect(planBins([file('lonely', 5)], 100)).toEqual([]);
  });
});

describe('OPTIMIZE', () => {
  it('compacts many small files into fewer, keeps every row, and logs dataChange=false', async () => {
    const dir = dirs.make();
    const t = await DeltaTable.forPath(dir);
    for (let i = 0; i < 6; i++) await t.write(idRows(i * 100, 5));
    const before = await t.snapshot();
    expect(before.numFiles).toBe(6);
    const rowsBefore = await readRows(t, before, 'id');
    const result = await t.optimize();
    expect(result).toMatchObject({ version: 6, numFilesRemoved: 6, numFilesAdded: 1, bins: 1 });
    expect(result.bytesRemoved).toBe(before.sizeInBytes);
    const after = await t.snapshot();
    expect(after.numFiles).toBe(1);
    expect(after.numRecords).toBe(30);
    expect(await readRows(t, after, 'id')).toEqual(rowsBefore);
    const actions = await commitActions(dir, 6);
    const adds = actions
      .filter((a) => 'add' in a)
      .map((a) => a.add as { dataChange: boolean; stats?: string });
    const removes = actions.filter((a) => 'remove' in a).map((a) => a.remove as { dataChange: boolean });
    expect(adds).toHaveLength(1);
    expect(removes).toHaveLength(6);
    expect([...adds, ...removes].every((a) => a.dataChange === false)).toBe(true);
    expect(JSON.parse(adds[0]!.stats!).numRecords).toBe(30);
    const info = actions.find((a) => 'commitInfo' in a)!.commitInfo as Record<string, unknown>;
    expect(info.operation).toBe('OPTIMIZE');
    // the previous version is still readable (files are only removed logically)
    expect(await readRows(t, await t.snapshot({ version: 5 }), 'id')).toEqual(rowsBefore);
  });

  it('does nothing (no commit) when there is nothing to compact, and commits nothing on a dry run', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 5));
    const nothing = await t.optimize();
    expect(nothing).toMatchObject({ numFilesRemoved: 0, bins: 0 });
    expect(nothing.version).toBeUndefined();
    await t.write(idRows(5, 5));
    const dry = await t.optimize({ dryRun: true });
    expect(dry).toMatchObject({ numFilesRemoved: 2, numFilesAdded: 0, bins: 1 });
    expect(dry.version).toBeUndefined();
    expect((await t.snapshot()).version).toBe(1);
  });

  it('rewrites a file with a deletion vector without the deleted rows (table-with-dv-small)', async () => {
    const dir = await copyConformanceTable('table-with-dv-small', dirs.make('dv'));
    const t = await DeltaTable.forPath(dir);
    const before = await readRows(t);
    expect(before.map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const r = await t.optimize();
    expect(r).toMatchObject({ version: 2, numFilesRemoved: 1, numFilesAdded: 1 });
    const s = await t.snapshot();
    expect(s.files.every((f) => !f.deletionVector)).toBe(true);
    expect(s.numRecords).toBe(8);
    expect(await readRows(t, s)).toEqual(before);
    // the remove action carries the deletion vector of the logical file it removes
    const remove = (await commitActions(dir, 2)).find((a) => 'remove' in a)!.remove as {
      deletionVector?: unknown;
    };
    expect(remove.deletionVector).toMatchObject({ storageType: 'u', cardinality: 2 });
  });

  it('compacts per partition and keeps partition values', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    for (let i = 0; i < 3; i++) {
      await t.write(
        {
          sql: `SELECT (${i} * 10 + j)::BIGINT AS id, CASE WHEN j % 2 = 0 THEN 'even' ELSE NULL END AS kind FROM range(4) t(j)`,
        },
        { partitionBy: ['kind'] },
      );
    }
    const before = await readRows(t, undefined, 'id');
    expect((await t.snapshot()).numFiles).toBe(6);
    const r = await t.optimize();
    expect(r).toMatchObject({ numFilesRemoved: 6, numFilesAdded: 2, bins: 2 });
    const s = await t.snapshot();
    expect(s.files.map((f) => f.partitionValues.kind).sort()).toEqual(['even', null]);
    expect(await readRows(t, s, 'id')).toEqual(before);
  });
});
