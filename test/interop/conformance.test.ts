/**
 * Delta conformance: every table in test/fixtures/delta-conformance (written by Spark, delta-rs and
 * others) is either read by tweetlake exactly as delta-rs reads it, or refused with an
 * UnsupportedReaderFeature that names the feature. Writes test-artifacts/conformance.json.
 */
import { readdirSync, statSync, existsSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable, parseSchema, UnsupportedReaderFeature, type Snapshot } from '../../src/delta/index.js';
import {
  compareCodePoints,
  ARTIFACTS_DIR,
  dataFilesPresent,
  deltaRsDump,
  rowsDiff,
  schemaSignature,
  tweetlakeRows,
  type DeltaRsDump,
  type RowsSummary,
} from './helpers.js';
import { CONFORMANCE_DIR } from '../helpers/fixtures.js';

const ROOT = CONFORMANCE_DIR;

/** Tables compared at every version their log can still rebuild, not only the latest. */
const TIME_TRAVEL = ['simple_table', 'checkpoint-cdf-table', 'table_with_deletion_logs'];

/**
 * Tables where delta-rs' default (DataFusion) reader is known to be wrong; tweetlake must then agree
 * with delta-rs' pyarrow-dataset reader instead (a second, independent Parquet reader).
 * table_with_edge_timestamps: INT96 timestamps in year 9999 overflow delta-rs' nanosecond cast (1816-03-28).
 */
const DELTA_RS_SECOND_OPINION: Record<string, string> = {
  table_with_edge_timestamps: "delta-rs' DataFusion reader overflows INT96 year-9999 timestamps to 1816",
};

function isTable(dir: string): boolean {
  return existsSync(nodePath.join(dir, '_delta_log'));
}

/** Table folders (one level deeper under folders that hold tables) and folders that are not tables. */
function discover(): { tables: string[]; notTables: string[] } {
  const tables: string[] = [];
  const notTables: string[] = [];
  for (const name of readdirSync(ROOT).sort()) {
    const dir = nodePath.join(ROOT, name);
    if (!statSync(dir).isDirectory()) continue;
    if (isTable(dir)) {
      tables.push(name);
      continue;
    }
    const inner = readdirSync(dir)
      .filter((n) => statSync(nodePath.join(dir, n)).isDirectory() && isTable(nodePath.join(dir, n)))
      .map((n) => `${name}/${n}`);
    if (inner.length) tables.push(...inner);
    else notTables.push(name);
  }
  return { tables, notTables };
}

interface ConformanceResult {
  table: string;
  status: 'read' | 'refused' | 'not-a-table';
  /** The feature named by the refusal. */
  feature?: string;
  version?: number;
  /** The table ships its log only: files, version and schema compared instead of rows. */
  logOnly?: boolean;
  numRows?: number;
  numFiles?: number;
  deltaRs: { loads: boolean; readsRows: boolean; error?: string };
  /** rows: same rows as delta-rs; files: same version and file list (log only); none: nothing to compare. */
  agreement:
    | 'rows'
    | 'rows (second opinion)'
    | 'files'
    | 'delta-rs cannot read rows'
    | 'refused; delta-rs reads it'
    | 'refused; delta-rs fails too'
    | 'n/a';
  note?: string;
  versionsCompared?: number[];
}

// The tables are part of the repository (test/fixtures): their absence is a broken checkout, not a skip.
if (!existsSync(ROOT))
  throw new Error(`conformance tables not found at ${ROOT} (see test/fixtures/README.md)`);
const { tables, notTables } = discover();
const results = new Map<string, ConformanceResult>();
const dumps = new Map<string, DeltaRsDump>();
const key = (table: string, version?: number) => `${table}@${version ?? 'latest'}`;

async function loadVersions(table: string): Promise<number[]> {
  const log = await fs.readdir(nodePath.join(ROOT, table, '_delta_log'));
  const versions = log
    .map((n) => /^(\d{20})\.json$/.exec(n)?.[1])
    .filter((v): v is string => !!v)
    .map(Number);
  return versions.sort((a, b) => a - b);
}

describe('Delta conformance tables vs delta-rs', () => {
  beforeAll(async () => {
    const specs: { table: string; version?: number }[] = tables.map((t) => ({
      table: nodePath.join(ROOT, t),
    }));
    for (const t of TIME_TRAVEL) {
      for (const v of await loadVersions(t)) specs.push({ table: nodePath.join(ROOT, t), version: v });
      specs.push({ table: nodePath.join(ROOT, t), version: 0 }); // may be gone from the log: both must say so
    }
    for (const d of await deltaRsDump(specs)) {
      dumps.set(key(nodePath.relative(ROOT, d.table), d.requestedVersion), d);
    }
  });

  afterAll(async () => {
    await fs.mkdir(ARTIFACTS_DIR, { recursive: true });
    const list = [...results.values()].sort((a, b) => a.table.localeCompare(b.table));
    await fs.writeFile(
      nodePath.join(ARTIFACTS_DIR, 'conformance.json'),
      JSON.stringify({ root: ROOT, generated: new Date().toISOString(), tables: list }, null, 2) + '\n',
    );
    const lines = list.map(
      (r) =>
        `${r.table.padEnd(42)} ${(r.status + (r.feature ? ` (${r.feature})` : '')).padEnd(44)} ` +
        `delta-rs: ${r.agreement}${r.note ? ` [${r.note}]` : ''}`,
    );
    console.log(`conformance summary (${list.length} folders):\n${lines.join('\n')}`);
  });

  it('finds the conformance tables', () => {
    expect(tables.length).toBeGreaterThan(40);
  });

  for (const name of notTables) {
    it(`${name}: not a table`, async () => {
      const table = await DeltaTable.forPath(nodePath.join(ROOT, name));
      expect(await table.exists()).toBe(false);
      await expect(table.snapshot()).rejects.toMatchObject({ code: 'DELTA_TABLE_NOT_FOUND' });
      results.set(name, {
        table: name,
        status: 'not-a-table',
        deltaRs: { loads: false, readsRows: false },
        agreement: 'n/a',
      });
    });
  }

  for (const name of tables) {
    it(name, async () => {
      const py = dumps.get(key(name))!;
      expect(py, 'delta-rs dump missing').toBeDefined();
      const deltaRs = {
        loads: !py.error,
        readsRows: !py.error && !py.rowsError,
        ...(py.error || py.rowsError
          ? { error: (py.error ?? py.rowsError)!.split('\n')[0]!.slice(0, 300) }
          : {}),
      };
      const table = await DeltaTable.forPath(nodePath.join(ROOT, name));
      let snapshot: Snapshot;
      let rows: RowsSummary | undefined;
      const refused = (err: unknown): boolean => {
        if (!(err instanceof UnsupportedReaderFeature)) return false;
        expect(err.code).toBe('DELTA_UNSUPPORTED_READER_FEATURE');
        expect(err.feature.length).toBeGreaterThan(0);
        expect(err.message).toContain(err.feature);
        results.set(name, {
          table: name,
          status: 'refused',
          feature: err.feature,
          deltaRs,
          agreement: deltaRs.readsRows ? 'refused; delta-rs reads it' : 'refused; delta-rs fails too',
          ...(deltaRs.readsRows ? {} : { note: `delta-rs: ${deltaRs.error}` }),
        });
        return true;
      };
      try {
        snapshot = await table.snapshot();
      } catch (err) {
        if (refused(err)) return;
        throw err;
      }
      const logOnly = !dataFilesPresent(table, snapshot);
      if (!logOnly) {
        try {
          rows = await tweetlakeRows(table, snapshot);
        } catch (err) {
          if (refused(err)) return;
          throw err;
        }
      }
      const result: ConformanceResult = {
        table: name,
        status: 'read',
        version: snapshot.version,
        logOnly,
        numFiles: snapshot.numFiles,
        ...(rows ? { numRows: rows.numRows } : {}),
        deltaRs,
        agreement: 'files',
      };
      results.set(name, result);

      // tweetlake reads it: delta-rs must see the same table.
      expect(py.error, `delta-rs cannot load a table tweetlake reads: ${py.error}`).toBeUndefined();
      expect(snapshot.version).toBe(py.version);
      expect(snapshot.files.map((f) => f.path).sort(compareCodePoints)).toEqual(py.files);
      expect(snapshot.partitionColumns).toEqual(py.partitionColumns);
      expect(schemaSignature(snapshot.schema)).toEqual(schemaSignature(parseSchema(py.schema!)));
      if (logOnly) {
        expect(py.rowsError, 'delta-rs reads rows whose files are missing').toBeDefined();
        return;
      }
      if (py.rowsError) {
        result.agreement = 'delta-rs cannot read rows';
        result.note = `delta-rs cannot read the rows: ${deltaRs.error}`;
        return;
      }
      const diff = rowsDiff(rows!, py);
      if (diff && DELTA_RS_SECOND_OPINION[name]) {
        const [second] = await deltaRsDump([{ table: nodePath.join(ROOT, name), reader: 'pyarrow' }]);
        expect(rowsDiff(rows!, second!), `tweetlake vs delta-rs pyarrow reader`).toBeUndefined();
        result.agreement = 'rows (second opinion)';
        result.note = DELTA_RS_SECOND_OPINION[name];
        return;
      }
      expect(diff).toBeUndefined();
      result.agreement = 'rows';
    });
  }

  for (const name of TIME_TRAVEL) {
    it(`${name}: time travel`, async () => {
      const table = await DeltaTable.forPath(nodePath.join(ROOT, name));
      const versions = [0, ...(await loadVersions(name))].filter((v, i, a) => a.indexOf(v) === i);
      const compared: number[] = [];
      for (const version of versions) {
        const py = dumps.get(key(name, version))!;
        expect(py, `delta-rs dump of version ${version}`).toBeDefined();
        if (py.error) {
          // Version no longer reconstructible from the log: tweetlake must refuse it as well.
          await expect(table.snapshot({ version }), `version ${version}`).rejects.toMatchObject({
            code: expect.stringMatching(/DELTA_VERSION_NOT_FOUND|DELTA_CORRUPT_LOG/),
          });
          continue;
        }
        const snapshot = await table.snapshot({ version });
        expect(snapshot.version).toBe(version);
        expect(
          snapshot.files.map((f) => f.path).sort(compareCodePoints),
          `files at version ${version}`,
        ).toEqual(py.files);
        expect(py.rowsError, `delta-rs rows at version ${version}`).toBeUndefined();
        const rows = await tweetlakeRows(table, snapshot);
        expect(rowsDiff(rows, py), `rows at version ${version}`).toBeUndefined();
        compared.push(version);
      }
      expect(compared.length).toBeGreaterThanOrEqual(3);
      const r = results.get(name);
      if (r) r.versionsCompared = compared;
    });
  }
});
