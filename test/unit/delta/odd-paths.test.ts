/**
 * Tables at odd locations and with odd partition values: every operation reads and writes exactly the
 * table's own files, with decoy folders beside the table that a globbed path would also match.
 */
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable, decodeActionPath } from '../../../src/delta/index.js';
import { buildLogSegment } from '../../../src/delta/log-segment.js';
import { copyConformanceTable, idRows, readRows, tempDirs } from '../../helpers/delta.js';
import { linkDecoys, ODD_NAMES } from '../../helpers/odd-names.js';

const dirs = tempDirs('tweetlake-odd-');
afterAll(() => dirs.cleanup());

const ids = async (t: DeltaTable, version?: number): Promise<number[]> =>
  (await readRows(t, await t.snapshot(version === undefined ? {} : { version }), 'id')).map((r) =>
    Number(r.id),
  );
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('a table at an odd location, beside folders a glob of its name would match', () => {
  for (const entry of ODD_NAMES) {
    it(`${JSON.stringify(entry.name)}: create, append, checkpoint, time travel, OPTIMIZE, VACUUM`, async () => {
      const parent = dirs.make();
      const dir = nodePath.join(parent, entry.name);
      mkdirSync(dir);
      linkDecoys(parent, entry);
      const t = await DeltaTable.forPath(dir);
      await t.write(idRows(0, 3), { properties: { 'delta.checkpointInterval': '2' } }); // v0
      await t.write(idRows(3, 2)); // v1
      await t.write(idRows(5, 2)); // v2: checkpoint
      expect((await buildLogSegment(t.store)).checkpoint?.version).toBe(2);
      expect(await ids(t)).toEqual(range(0, 7));
      expect(await ids(t, 0)).toEqual(range(0, 3));
      expect(await ids(t, 1)).toEqual(range(0, 5));
      expect((await t.optimize()).numFilesAdded).toBe(1); // v3
      expect(await ids(t)).toEqual(range(0, 7));
      const vacuumed = await t.vacuum({
        retentionHours: 0,
        enforceRetentionDuration: false,
        now: Date.now() + 1000,
      });
      expect(vacuumed.files).toHaveLength(3);
      expect(await ids(t)).toEqual(range(0, 7));
      expect(await ids(t, 3)).toEqual(range(0, 7));
      // the id column is the files' own, not one made up from a folder named id=7
      expect((await readRows(t)).every((r) => Object.keys(r).join() === 'id,v')).toBe(true);
    });
  }
});

describe('odd partition values', () => {
  it('write, append, OPTIMIZE and read back partitions named like the corpus', async () => {
    const parent = dirs.make();
    const dir = nodePath.join(parent, 'b[12]');
    mkdirSync(dir);
    linkDecoys(parent, { name: 'b[12]', decoys: ['b1'] });
    const t = await DeltaTable.forPath(dir);
    const values = ODD_NAMES.map((e) => e.name);
    const source = (from: number) =>
      `SELECT (${from} + i)::BIGINT AS id, p FROM (VALUES ${values.map((v) => `('${v.replace(/'/g, "''")}')`).join(', ')}) v(p), range(2) t(i)`;
    await t.write({ sql: source(0) }, { partitionBy: ['p'] });
    await t.write({ sql: source(10) });
    await t.optimize();
    const rows = await readRows(t, undefined, 'p, id');
    expect(rows).toHaveLength(values.length * 4);
    for (const v of values) {
      expect(
        rows.filter((r) => r.p === v).map((r) => Number(r.id)),
        v,
      ).toEqual([0, 1, 10, 11]);
    }
    // Spark-style escaping: no partition folder holds a glob character
    const folders = readdirSync(dir).filter((n) => n.startsWith('p='));
    expect(folders).toHaveLength(values.length);
    expect(folders.filter((f) => /[*?[\]]/.test(f))).toEqual([]);
    const s = await t.snapshot();
    expect(new Set(s.files.map((f) => f.partitionValues.p))).toEqual(new Set(values));
    for (const f of s.files) expect(decodeActionPath(f.path).startsWith('p=')).toBe(true);
  });
});

describe('deletion vectors in an odd folder', () => {
  it('table-with-dv-small copied to dv[1] beside dv1 reads 8 of its 10 rows', async () => {
    const parent = dirs.make();
    const dir = await copyConformanceTable('table-with-dv-small', nodePath.join(parent, 'dv[1]'));
    symlinkSync(dir, nodePath.join(parent, 'dv1'));
    const t = await DeltaTable.forPath(dir);
    expect((await readRows(t)).map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await t.optimize();
    expect((await readRows(t)).map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('a temporary folder with glob characters (TMPDIR)', () => {
  it('rows written from JS and the checkpoint pass through it once', async () => {
    const parent = dirs.make();
    const tmp = nodePath.join(parent, 'tmp*');
    mkdirSync(tmp);
    symlinkSync(tmp, nodePath.join(parent, 'tmpX'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const t = await DeltaTable.forPath(nodePath.join(dirs.make(), 'table'));
      const rows = (from: number) =>
        Array.from({ length: 3 }, (_, i) => ({ id: from + i, v: `v${from + i}` }));
      await t.write({ rows: rows(0) }, { properties: { 'delta.checkpointInterval': '2' } });
      await t.write({ rows: rows(3) });
      await t.write({ rows: rows(6) }); // v2: checkpoint, through a temporary JSON file
      expect((await buildLogSegment(t.store)).checkpoint?.version).toBe(2);
      expect(await ids(t)).toEqual(range(0, 9));
      expect((await t.snapshot()).numFiles).toBe(3);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
