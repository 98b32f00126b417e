/**
 * Two processes append to one table at the same time (optimistic concurrency over put-if-absent):
 * no commit is lost or torn, versions are contiguous, every row is there exactly once, and the
 * checkpoints that either writer wrote describe the same table as the JSON log.
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { field, type StructType } from '../../../src/delta/schema.js';
import { buildLogSegment, readLastCheckpoint } from '../../../src/delta/log-segment.js';
import {
  commitActions,
  copyJsonLog,
  logNames,
  readRows,
  snapshotState,
  tempDirs,
} from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-concurrency-');
afterAll(() => dirs.cleanup());

const ROOT = nodePath.resolve(import.meta.dirname, '../../..');
const WRITER = nodePath.join(ROOT, 'test/helpers/append-writer.ts');
/** Commits per writer: npm test's smoke; npm run test:soak sets TWEETLAKE_CONCURRENT_COMMITS=100. */
const COMMITS = Number(process.env.TWEETLAKE_CONCURRENT_COMMITS ?? 30);

const SCHEMA: StructType = {
  type: 'struct',
  fields: [field('id', 'string'), field('writer', 'string'), field('seq', 'long')],
};

/** Runs the writer script in its own Node process; resolves with its JSON report. */
function runWriter(
  dir: string,
  name: string,
  count: number,
  startAt: number,
): Promise<{ writer: string; versions: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WRITER, dir, name, String(count), String(startAt)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`writer ${name} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { writer: string; versions: number[] });
    });
  });
}

describe('concurrent writers in separate processes', () => {
  it(
    `two processes appending ${COMMITS} commits each produce ${2 * COMMITS} contiguous versions and every row once`,
    { timeout: 180_000 },
    async () => {
      const dir = dirs.make();
      const table = await DeltaTable.forPath(dir);
      expect(await table.create(SCHEMA)).toBe(0);

      // both processes load first and start writing at the same moment
      const startAt = Date.now() + 3000;
      const [a, b] = await Promise.all([
        runWriter(dir, 'A', COMMITS, startAt),
        runWriter(dir, 'B', COMMITS, startAt),
      ]);

      // each writer committed its COMMITS versions in increasing order; together they are exactly 1..2*COMMITS
      for (const r of [a, b]) {
        expect(r.versions).toHaveLength(COMMITS);
        expect([...r.versions].sort((x, y) => x - y)).toEqual(r.versions);
      }
      const all = [...a.versions, ...b.versions].sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 2 * COMMITS }, (_, i) => i + 1));
      // they really raced: their versions interleave
      expect(a.versions[0]!).toBeLessThan(b.versions.at(-1)!);
      expect(b.versions[0]!).toBeLessThan(a.versions.at(-1)!);

      // the log: commits 0..200, no gap, no leftover temp file
      const names = await logNames(dir);
      const commits = names.filter((n) => /^\d{20}\.json$/.test(n)).map((n) => Number(n.slice(0, 20)));
      expect(commits).toEqual(Array.from({ length: 2 * COMMITS + 1 }, (_, i) => i));
      expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
      // one add of one row per commit, none torn
      for (const v of [1, Math.min(57, COMMITS), 2 * COMMITS]) {
        const actions = await commitActions(dir, v);
        expect(actions.filter((x) => 'add' in x)).toHaveLength(1);
      }

      // every row exactly once
      const snapshot = await table.snapshot();
      expect(snapshot.version).toBe(2 * COMMITS);
      expect(snapshot.numRecords).toBe(2 * COMMITS);
      const rows = await readRows(table, snapshot, 'id');
      expect(rows).toHaveLength(2 * COMMITS);
      expect(new Set(rows.map((r) => r.id)).size).toBe(2 * COMMITS);
      for (const w of ['A', 'B']) {
        const seqs = rows
          .filter((r) => r.writer === w)
          .map((r) => Number(r.seq))
          .sort((x, y) => x - y);
        expect(seqs).toEqual(Array.from({ length: COMMITS }, (_, i) => i));
      }

      // history: the create and 2*COMMITS writes
      const history = await table.history();
      expect(history).toHaveLength(2 * COMMITS + 1);
      expect(history.at(-1)!.operation).toBe('CREATE TABLE');
      expect(history.slice(0, -1).every((h) => h.operation === 'WRITE' && h.isBlindAppend === true)).toBe(
        true,
      );

      // checkpoints every 10 versions, written by whichever writer committed that version
      const checkpoints = names
        .filter((n) => n.endsWith('.checkpoint.parquet'))
        .map((n) => Number(n.slice(0, 20)));
      expect(checkpoints).toEqual(Array.from({ length: (2 * COMMITS) / 10 }, (_, i) => (i + 1) * 10));
      expect((await readLastCheckpoint(table.store))!.version).toBe(2 * COMMITS);
      expect((await buildLogSegment(table.store)).checkpoint?.version).toBe(2 * COMMITS);
      // and the checkpoint describes the same table as the JSON log
      const copy = dirs.make();
      await copyJsonLog(dir, copy);
      expect(snapshotState(await (await DeltaTable.forPath(copy)).snapshot())).toEqual(
        snapshotState(snapshot),
      );
      // an older version from an intermediate checkpoint holds exactly the rows committed up to it
      const older = 10 * Math.floor(COMMITS / 10) + 5; // 5 commits after a checkpoint (105 of 200)
      expect(await readRows(table, await table.snapshot({ version: older }))).toHaveLength(older);
    },
  );
});
