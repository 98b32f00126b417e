import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { ENGINE_INFO } from '../../../src/delta/version.js';
import { idRows, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-history-');
afterAll(() => dirs.cleanup());

describe('table history', () => {
  it('lists every commit newest first with operation, parameters, metrics and provenance', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    await t.write(idRows(0, 3));
    await t.write(idRows(3, 2));
    await t.write(idRows(3, 4), { mode: 'overwrite' });
    await t.write(idRows(10, 1), { operation: 'STREAMING UPDATE', operationParameters: { epochId: '4' } });
    await t.optimize();
    const h = await t.history();
    expect(h.map((e) => [e.version, e.operation])).toEqual([
      [4, 'OPTIMIZE'],
      [3, 'STREAMING UPDATE'],
      [2, 'WRITE'],
      [1, 'WRITE'],
      [0, 'CREATE TABLE AS SELECT'],
    ]);
    const [opt, stream, overwrite, append, create] = h;
    expect(create!.readVersion).toBeUndefined();
    expect(append!.readVersion).toBe(0);
    expect(append!.isBlindAppend).toBe(true);
    expect(append!.operationParameters).toEqual({ mode: 'Append', partitionBy: '[]' });
    expect(append!.operationMetrics).toMatchObject({
      numFiles: '1',
      numOutputRows: '2',
      numRemovedFiles: '0',
    });
    expect(overwrite!.isBlindAppend).toBe(false);
    expect(overwrite!.operationParameters).toMatchObject({ mode: 'Overwrite' });
    expect(overwrite!.operationMetrics).toMatchObject({
      numAddedFiles: '1',
      numRemovedFiles: '2',
      numOutputRows: '4',
    });
    expect(stream!.operationParameters).toEqual({ epochId: '4' });
    expect(opt!.isBlindAppend).toBe(false);
    expect(opt!.operationMetrics).toMatchObject({ numRemovedFiles: '2', numAddedFiles: '1' });
    for (const e of h) {
      expect(e.engineInfo).toBe(ENGINE_INFO);
      expect(e.isolationLevel).toBe('WriteSerializable');
      expect(e.timestamp).toBeGreaterThan(Date.now() - 60_000);
    }
    // newest first, timestamps not decreasing with the version
    for (let i = 1; i < h.length; i++) expect(h[i - 1]!.timestamp).toBeGreaterThanOrEqual(h[i]!.timestamp);
  });

  it('limits to the newest entries', async () => {
    const t = await DeltaTable.forPath(dirs.make());
    for (let i = 0; i < 4; i++) await t.write(idRows(i, 1));
    expect((await t.history(2)).map((e) => e.version)).toEqual([3, 2]);
    expect((await t.history(0)).length).toBe(0);
  });
});
