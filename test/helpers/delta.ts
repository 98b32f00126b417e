/** Shared helpers of the Delta tests: temporary table directories and reading a snapshot's rows. */
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { JsonRow } from '../../src/duck/session.js';
import { DeltaTable, type Snapshot } from '../../src/delta/index.js';
import { CONFORMANCE_DIR } from './fixtures.js';

/** Root of the Delta conformance tables (test/fixtures; treat as read-only). */
export { CONFORMANCE_DIR } from './fixtures.js';

/** The on-disk deletion vector of the conformance table table-with-dv-small: rows 0 and 9 deleted. */
export const DV_SMALL = {
  storageType: 'u',
  pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA',
  offset: 1,
  sizeInBytes: 36,
  cardinality: 2,
};

/** Creates temporary directories and removes them all on `cleanup()` (call it in afterAll / afterEach). */
export function tempDirs(prefix = 'tweetlake-test-'): {
  make: (name?: string) => string;
  cleanup: () => void;
} {
  const made: string[] = [];
  return {
    make(name?: string) {
      const dir = mkdtempSync(nodePath.join(tmpdir(), prefix));
      made.push(dir);
      return name ? nodePath.join(dir, name) : dir;
    },
    cleanup() {
      for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Every row of a snapshot (the latest when none is given), sorted by `orderBy` (default: all columns). */
export async function readRows(table: DeltaTable, snapshot?: Snapshot, orderBy = 'ALL'): Promise<JsonRow[]> {
  const plan = await table.scan(snapshot ?? (await table.snapshot()));
  try {
    return await table.session.all(`SELECT * FROM (${plan.sql}) ORDER BY ${orderBy}`);
  } finally {
    await plan.dispose();
  }
}

/** Number of rows a snapshot's scan returns. */
export async function countRows(table: DeltaTable, snapshot?: Snapshot): Promise<number> {
  const plan = await table.scan(snapshot ?? (await table.snapshot()));
  try {
    const [row] = await table.session.all(`SELECT count(*) AS n FROM (${plan.sql})`);
    return Number(row?.n ?? -1);
  } finally {
    await plan.dispose();
  }
}

/** The actions of one commit file, parsed. */
export async function commitActions(tableDir: string, version: number): Promise<Record<string, unknown>[]> {
  const text = await fs.readFile(
    nodePath.join(tableDir, '_delta_log', `${String(version).padStart(20, '0')}.json`),
    'utf8',
  );
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Names in `_delta_log`, sorted. */
export async function logNames(tableDir: string): Promise<string[]> {
  return (await fs.readdir(nodePath.join(tableDir, '_delta_log'))).sort();
}

/** A small SQL source of `n` rows with ids from `start`: columns id BIGINT, v VARCHAR. */
export function idRows(start: number, n: number): { sql: string } {
  return { sql: `SELECT (${start} + i)::BIGINT AS id, 'v' || (${start} + i) AS v FROM range(${n}) t(i)` };
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The expected error of a rejected promise (fails the test if it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; kind?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string; kind?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** A comparable summary of a snapshot's state (what a checkpoint must preserve). */
export function snapshotState(s: Snapshot): Record<string, unknown> {
  const byPath = (a: { path?: unknown }, b: { path?: unknown }) =>
    String(a.path) < String(b.path) ? -1 : String(a.path) > String(b.path) ? 1 : 0;
  return {
    version: s.version,
    protocol: {
      minReaderVersion: s.protocol.minReaderVersion,
      minWriterVersion: s.protocol.minWriterVersion,
      readerFeatures: s.protocol.readerFeatures ?? null,
      writerFeatures: s.protocol.writerFeatures ?? null,
    },
    metadata: stripNulls(s.metadata),
    // a checkpoint stores adds with dataChange=false
    files: s.files.map(({ dataChange: _d, ...f }) => stripNulls(f)).sort(byPath),
    tombstones: s.tombstones
      .map((t) => ({ path: t.path, deletionTimestamp: t.deletionTimestamp }))
      .sort(byPath),
    txns: s.transactions
      .map((t) => ({ appId: t.appId, version: t.version }))
      .sort((a, b) => (a.appId < b.appId ? -1 : 1)),
    domains: [...s.domainMetadata.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1)),
    numRecords: s.numRecords,
  };
}

function stripNulls(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

/** Copies only the JSON commits of a table's log to a new directory (so replay cannot use a checkpoint). */
export async function copyJsonLog(tableDir: string, targetDir: string): Promise<void> {
  await fs.mkdir(nodePath.join(targetDir, '_delta_log'), { recursive: true });
  for (const name of await logNames(tableDir)) {
    if (/^\d{20}\.json$/.test(name)) {
      await fs.copyFile(
        nodePath.join(tableDir, '_delta_log', name),
        nodePath.join(targetDir, '_delta_log', name),
      );
    }
  }
}

/** A writable copy of a conformance table (the fixtures must stay as they are). */
export async function copyConformanceTable(name: string, targetDir: string): Promise<string> {
  await fs.cp(nodePath.join(CONFORMANCE_DIR, name), targetDir, { recursive: true });
  const makeWritable = async (p: string): Promise<void> => {
    const st = await fs.stat(p);
    await fs.chmod(p, st.mode | 0o200);
    if (st.isDirectory()) for (const e of await fs.readdir(p)) await makeWritable(nodePath.join(p, e));
  };
  await makeWritable(targetDir);
  return targetDir;
}
