/**
 * Crash safety: a writer process is killed with SIGKILL at random moments (while writing data files,
 * committing, or writing a checkpoint). After every kill the table must load, every committed version
 * must read exactly the batches committed up to it (no half-visible commit), leftovers of the killed
 * writer (temp files in _delta_log, _tweetlake_staging) must not disturb readers, and a new writer must
 * continue from the latest version.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaTable, type Snapshot } from '../../../src/delta/index.js';
import { field, type StructType } from '../../../src/delta/schema.js';
import { logNames, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-crash-');
afterAll(() => dirs.cleanup());

const ROOT = nodePath.resolve(import.meta.dirname, '../../..');
const WRITER = nodePath.join(ROOT, 'test/helpers/crash-writer.ts');
const APP = 'crash-app';
const SCHEMA: StructType = { type: 'struct', fields: [field('batch', 'long'), field('i', 'long')] };
/** Delays (ms) between the writer being ready and SIGKILL, in random order. */
const DELAYS = [0, 35, 110, 240, 420, 700];
/**
 * Rounds of all DELAYS (npm run test:soak sets TWEETLAKE_CRASH_ROUNDS); without it, npm test's smoke:
 * one short, one middle and one long delay.
 */
const ROUNDS = Number(process.env.TWEETLAKE_CRASH_ROUNDS ?? 0);
const ROUND_DELAYS = ROUNDS > 0 ? Array.from({ length: ROUNDS }, () => DELAYS).flat() : [0, 240, 700];

const rowsOfBatch = (b: number) => (b % 4) + 1;

/** Starts the writer, waits until it is ready, lets it run `delayMs`, then kills it with SIGKILL. */
function runAndKill(dir: string, tmp: string, delayMs: number): Promise<{ firstBatch: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, APP], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    let out = '';
    let err = '';
    let firstBatch = -1;
    // never leave a writer running if it does not get ready (it would write until the machine stops it)
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m && firstBatch < 0) {
        firstBatch = Number(m[1]);
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL' && firstBatch >= 0) resolve({ firstBatch });
      else reject(new Error(`writer ended before it was killed (code ${code}, signal ${signal}): ${err}`));
    });
  });
}

/** Checks that a snapshot holds exactly batches 0..n-1, each with all its rows. */
async function checkBatches(table: DeltaTable, s: Snapshot, n: number): Promise<void> {
  const plan = await table.scan(s);
  try {
    const groups = await table.session.all(
      `SELECT batch, count(*) AS n, count(DISTINCT i) AS d FROM (${plan.sql}) GROUP BY batch ORDER BY batch`,
    );
    expect(
      groups.map((g) => Number(g.batch)),
      `batches of version ${s.version}`,
    ).toEqual(Array.from({ length: n }, (_, b) => b));
    for (const g of groups) {
      expect(Number(g.n), `rows of batch ${g.batch} at version ${s.version}`).toBe(
        rowsOfBatch(Number(g.batch)),
      );
      expect(Number(g.d)).toBe(Number(g.n));
    }
  } finally {
    await plan.dispose();
  }
  expect(s.numRecords).toBe(Array.from({ length: n }, (_, b) => rowsOfBatch(b)).reduce((a, x) => a + x, 0));
}

/** Checks the table after a crash: every version reads its batches. Returns the number of committed batches. */
async function verify(dir: string): Promise<number> {
  const table = await DeltaTable.forPath(dir);
  const latest = await table.snapshot();
  // version 0 creates the table; version v holds batches 0..v-1 (one commit per batch)
  const batches = (latest.txnVersion(APP) ?? -1) + 1;
  expect(latest.version).toBe(batches);
  const commits = (await logNames(dir))
    .filter((n) => /^\d{20}\.json$/.test(n))
    .map((n) => Number(n.slice(0, 20)));
  expect(commits).toEqual(Array.from({ length: latest.version + 1 }, (_, i) => i));
  for (let v = 0; v <= latest.version; v++)
    await checkBatches(table, await table.snapshot({ version: v }), v);
  return batches;
}

describe('a writer killed with SIGKILL', () => {
  it(
    'never leaves a torn or half-visible commit, and a new writer continues',
    { timeout: 180_000 * Math.max(1, ROUNDS) },
    async () => {
      const dir = dirs.make('table');
      const tmp = dirs.make(); // the writers' temporary files (row batches, checkpoint staging)
      const table = await DeltaTable.forPath(dir);
      await table.create(SCHEMA, { properties: { 'delta.checkpointInterval': '5' } });

      const delays = [...ROUND_DELAYS].sort(() => Math.random() - 0.5);
      let committed = 0;
      for (const delay of delays) {
        const { firstBatch } = await runAndKill(dir, tmp, delay);
        // the killed writer resumed exactly where the previous one stopped
        expect(firstBatch, `delay ${delay} ms`).toBe(committed);

        // leftovers of a killed writer (whether this kill left any is up to chance, so plant some too)
        // must not disturb readers
        await fs.writeFile(
          nodePath.join(
            dir,
            '_delta_log',
            `.${String(committed + 1).padStart(20, '0')}.json.${randomUUID()}.tmp`,
          ),
          '{"commitInfo":{"timestamp":1}}\n{"add":{"path":"half',
        );
        const staging = nodePath.join(dir, '_tweetlake_staging', randomUUID(), 'all');
        await fs.mkdir(staging, { recursive: true });
        await fs.writeFile(nodePath.join(staging, 'part-half.parquet'), 'PAR1 not really');

        const batches = await verify(dir);
        expect(batches, `delay ${delay} ms`).toBeGreaterThanOrEqual(committed);
        committed = batches;
      }
      // the writers did commit something over all the rounds (not only die at start-up)
      expect(committed).toBeGreaterThan(3);

      // a new writer in this process continues from the latest version, and replays are skipped
      const next = await table.write(
        {
          rows: Array.from({ length: rowsOfBatch(committed) }, (_, i) => ({ batch: committed, i })),
          schema: SCHEMA,
        },
        { txn: { appId: APP, version: committed } },
      );
      expect(next).toMatchObject({ version: committed + 1, skipped: false });
      const replay = await table.write(
        { rows: [{ batch: 0, i: 0 }], schema: SCHEMA },
        { txn: { appId: APP, version: 0 } },
      );
      expect(replay.skipped).toBe(true);
      expect(await verify(dir)).toBe(committed + 1);
      // VACUUM (default retention) after the crashes keeps everything committed; every version still reads
      await table.vacuum();
      const after = await table.snapshot();
      expect(after.version).toBe(committed + 3); // + VACUUM START, VACUUM END
      await checkBatches(table, after, committed + 1);
      for (let v = 0; v <= committed + 1; v++)
        await checkBatches(table, await table.snapshot({ version: v }), v);
    },
  );
});
