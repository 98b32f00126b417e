/**
 * A data file uploaded to S3 is kept as the file cache's copy: the next reader in the process (the
 * next stage of the pipeline) scans it without downloading it again. (The cache holds Delta data
 * files and checkpoints, which are never replaced: see src/storage/file-cache.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/table.js';
import { sharedSession } from '../../../src/duck/session.js';
import { configureStorage, s3Totals } from '../../../src/storage/locations.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

let server: S3TestServer;

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket('cache');
  configureStorage({ s3: server.options() });
}, 900_000);

afterAll(async () => {
  configureStorage({});
  await server?.stop();
});

describe('the S3 file cache keeps what this process uploaded', () => {
  it('a table written here is read back without downloading its data files', async () => {
    const session = await sharedSession();
    const table = await DeltaTable.forPath('s3://cache/t', session);
    await table.write({ sql: `SELECT i AS id, repeat('x', 50) || i AS v FROM range(50000) r(i)` });
    const snapshot = await table.snapshot();
    const dataBytes = snapshot.files.reduce((n, f) => n + f.size, 0);
    expect(dataBytes).toBeGreaterThan(200_000);
    const before = s3Totals.bytesReceived;
    const plan = await table.scan(snapshot);
    try {
      const [row] = await session.all(`SELECT count(*) AS n, sum(id) AS s FROM (${plan.sql})`);
      expect(Number(row!.n)).toBe(50_000);
      expect(Number(row!.s)).toBe((49_999 * 50_000) / 2);
    } finally {
      await plan.dispose();
    }
    // only the log came down, not the data file
    expect(s3Totals.bytesReceived - before).toBeLessThan(dataBytes / 10);
  });
});
