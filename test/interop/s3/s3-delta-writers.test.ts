/**
 * Many writers of one Delta table on a real S3 server: 4 processes × 50 appends (real Delta commits:
 * snapshot, data file, conditional PUT of the next version, conflict check and retry) give 200
 * contiguous versions with every row once; and the protocol's conflicts hold on S3 as on disk.
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitConflict, DeltaTable, Transaction } from '../../../src/delta/index.js';
import { field, type StructType } from '../../../src/delta/schema.js';
import { writeDataFiles } from '../../../src/delta/writer.js';
import { configureStorage } from '../../../src/storage/locations.js';
import { idRows, readRows, rejection } from '../../helpers/delta.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

const ROOT = nodePath.resolve(import.meta.dirname, '../../..');
const WRITER = nodePath.join(ROOT, 'test/helpers/append-writer.ts');
const WRITERS = 4;
const COMMITS = 50;
const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'string'), field('writer', 'string'), field('seq', 'long')],
};
let server: S3TestServer;

/** One append-writer process (test/helpers/append-writer.ts) on the S3 table. */
function runWriter(
  url: string,
  writer: string,
  startAt: number,
): Promise<{ writer: string; versions: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WRITER, url, writer, String(COMMITS), String(startAt)],
      { cwd: ROOT, env: { ...process.env, ...server.env() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`writer ${writer} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { writer: string; versions: number[] });
    });
  });
}

beforeAll(async () => {
  server = await startS3Server();
  await server.createBucket('race');
  Object.assign(process.env, server.env());
  configureStorage({});
}, 900_000);

afterAll(async () => {
  await server?.stop();
});

describe('many writer processes on one S3 Delta table', () => {
  it(
    `${WRITERS} processes × ${COMMITS} appends give ${WRITERS * COMMITS} contiguous versions and every row once`,
    { timeout: 600_000 },
    async () => {
      const url = 's3://race/appends';
      const table = await DeltaTable.forPath(url);
      expect(await table.create(SCHEMA)).toBe(0);
      const startAt = Date.now() + 6000; // every process loaded before the first commit
      const reports = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) => runWriter(url, `w${i}`, startAt)),
      );
      const total = WRITERS * COMMITS;
      for (const r of reports) {
        expect(r.versions).toHaveLength(COMMITS);
        expect([...r.versions].sort((a, b) => a - b)).toEqual(r.versions);
      }
      const versions = reports.flatMap((r) => r.versions).sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      // they raced: the first writer to finish did not commit a contiguous block
      expect(reports.some((r) => r.versions.at(-1)! - r.versions[0]! >= COMMITS)).toBe(true);
      const commits = (await table.store.list('_delta_log/'))
        .map((m) => /^_delta_log\/(\d{20})\.json$/.exec(m.path)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number);
      expect(commits).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
      const snapshot = await table.snapshot();
      expect(snapshot.version).toBe(total);
      const rows = await readRows(table, snapshot, 'id');
      expect(rows).toHaveLength(total);
      expect(new Set(rows.map((r) => r.id)).size).toBe(total);
      // checkpoints, written by whichever writer committed each tenth version, are objects on S3 too
      const checkpoints = (await table.store.list('_delta_log/')).filter((m) =>
        m.path.endsWith('.checkpoint.parquet'),
      );
      expect(checkpoints.map((m) => Number(/(\d{20})\.checkpoint/.exec(m.path)![1]))).toEqual(
        Array.from({ length: total / 10 }, (_, i) => (i + 1) * 10),
      );
    },
  );

  it('conflicts follow the protocol on S3: OPTIMIZE vs a concurrent delete, two writers of one txn app id', async () => {
    const t = await DeltaTable.forPath('s3://race/conflicts');
    await t.write(idRows(0, 2));
    await t.write(idRows(10, 2));
    const s = await t.snapshot();
    const schema: StructType = { type: 'struct', fields: [field('id', 'long'), field('v', 'string')] };
    const files = (start: number, n: number, dataChange = true) =>
      writeDataFiles(t, idRows(start, n).sql, { schema, partitionColumns: [], dataChange });
    // OPTIMIZE read version 1; a DELETE of one of its files commits first: the OPTIMIZE must fail
    const optimize = new Transaction(t, s, { operation: 'OPTIMIZE' })
      .markFilesRead(s.files)
      .removeFiles(s.files, false)
      .addFiles(await files(0, 2, false));
    await new Transaction(t, s, { operation: 'DELETE' }).removeFiles([s.files[0]!], true).commit();
    const lost = await rejection(optimize.commit());
    expect(lost).toBeInstanceOf(CommitConflict);
    expect((lost as unknown as CommitConflict).kind).toBe('ConcurrentDeleteRead');
    // two commits of one streaming application's batch: the second is refused, another app id is not
    const s2 = await t.snapshot();
    const a = new Transaction(t, s2, { operation: 'STREAMING UPDATE' })
      .setTransaction('app', 7)
      .addFiles(await files(100, 1));
    const b = new Transaction(t, s2, { operation: 'STREAMING UPDATE' })
      .setTransaction('app', 7)
      .addFiles(await files(100, 1));
    const other = new Transaction(t, s2, { operation: 'STREAMING UPDATE' })
      .setTransaction('other', 1)
      .addFiles(await files(900, 1));
    await a.commit();
    const dup = await rejection(b.commit());
    expect((dup as unknown as CommitConflict).kind).toBe('ConcurrentTransaction');
    await other.commit();
    expect((await readRows(t, undefined, 'id')).map((r) => Number(r.id))).toEqual([10, 11, 100, 900]);
    // two blind appends racing from one snapshot both land, at consecutive versions
    const s3 = await t.snapshot();
    const [x, y] = await Promise.all([
      new Transaction(t, s3, { operation: 'WRITE' }).addFiles(await files(200, 1)).commit(),
      new Transaction(t, s3, { operation: 'WRITE' }).addFiles(await files(300, 1)).commit(),
    ]);
    expect([x.version, y.version].sort()).toEqual([s3.version + 1, s3.version + 2]);
  }, 120_000);
});
