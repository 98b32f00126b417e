import { describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { sharedSession } from '../../../src/duck/session.js';
import { MemoryObjectStore } from '../../../src/storage/index.js';
import { readRows } from '../../helpers/delta.js';

describe('a Delta table on a store without local files (in memory)', () => {
  it('writes, reads, checkpoints, optimizes and vacuums through the ObjectStore alone', async () => {
    const store = new MemoryObjectStore();
    const table = new DeltaTable(store, await sharedSession());
    for (let i = 0; i < 3; i++) {
      await table.write(
        { sql: `SELECT range AS id, 'p' || (range % 2) AS part FROM range(${i * 10}, ${i * 10 + 10})` },
        { partitionBy: ['part'] },
      );
    }
    await table.checkpoint();
    const paths = (await store.list('')).map((m) => m.path);
    expect(paths).toContain('_delta_log/00000000000000000002.checkpoint.parquet');
    expect(paths.some((p) => p.startsWith('part=p0/') && p.endsWith('.snappy.parquet'))).toBe(true);
    expect(paths.some((p) => p.startsWith('_tweetlake_staging'))).toBe(false);
    // a fresh table object reads the checkpoint (Parquet, through the download cache) and the data
    const reread = new DeltaTable(store, table.session);
    const rows = await readRows(reread, undefined, 'id');
    expect(rows.map((r) => Number(r.id))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((await reread.snapshot()).numRecords).toBe(30);
    await reread.optimize();
    const result = await reread.vacuum({
      retentionHours: 0,
      enforceRetentionDuration: false,
      now: Date.now() + 1000,
    });
    expect(result.files.length).toBeGreaterThan(0);
    expect((await readRows(new DeltaTable(store, table.session), undefined, 'id')).length).toBe(30);
  });
});
