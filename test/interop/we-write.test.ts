/**
 * We write, they read: tables written by tweetlake (appends, overwrite, partitions with null and
 * special-character values, OPTIMIZE, checkpoints, schema evolution, VACUUM, idempotent txn
 * writes) are read by delta-rs and by Spark with the same rows, versions and history; Spark's
 * data skipping over our file statistics gives the same answers as full scans; Spark streams
 * every appended row of our table exactly once.
 */
import { cpSync, existsSync, promises as fs, readdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../src/duck/session.js';
import { DeltaTable, field, parseSchema, type StructType } from '../../src/delta/index.js';
import { HookedStore } from '../helpers/hooked-store.js';
import { EVERY_TYPE, EVERY_TYPE_ROWS, PARTITIONS } from '../helpers/partition-types.js';
import {
  compareCodePoints,
  deltaRsDump,
  rowsDiff,
  schemaSignature,
  sparkJob,
  tempDir,
  tweetlakeRows,
  type DeltaRsDump,
  type RowsSummary,
  type SparkRead,
  type SparkTask,
  typedRows,
} from './helpers.js';

const PARTS = ['a', 'b c', 'd/e', 'f=g', 'h%i', 'ü€', '#x?', 'q:r', null, ''];

/** Rows for a table partitioned by a string, a date and a timestamp (nulls and special characters included). */
function partitionedRows(batch: number): string {
  const values = PARTS.flatMap((p, j) =>
    [0, 1, 2].map((k) => {
      const id = batch * 1000 + j * 10 + k;
      const part = p === null ? 'NULL' : `'${p.replace(/'/g, "''")}'`;
      const day = k === 2 ? 'NULL' : `DATE '2024-03-0${k + 1}'`;
      const ts = k === 1 ? 'NULL' : `TIMESTAMPTZ '2024-01-01 10:00:0${k}.123456+00'`;
      return `(${id}, ${part}, ${day}, ${ts}, 'v${id}')`;
    }),
  );
  return `SELECT col0::BIGINT AS id, col1::VARCHAR AS part, col2::DATE AS day, col3::TIMESTAMPTZ AS ts_part, col4 AS value
    FROM (VALUES ${values.join(', ')})`;
}

let root: string;
const paths = {
  types: '',
  typesFromCheckpoint: '',
  parts: '',
  partsFromCheckpoint: '',
  stream: '',
  vacuum: '',
  sink: '',
  sinkCheckpoint: '',
  memCheckpoint: '',
  allParts: '',
  smallMemory: '',
  smallMemoryFromCheckpoint: '',
  vacuumRace: '',
  odd: '',
};
/** Versions of the table VACUUMed while another writer committed (every one after version 0 must read). */
let vacuumRaceVersions: number[] = [];
const tl = new Map<string, RowsSummary>(); // `${table}@${version}` -> tweetlake rows
const rs = new Map<string, DeltaRsDump>();
let spark: Awaited<ReturnType<typeof sparkJob>>;
let typesVersions: number[] = [];

async function rowsAt(path: string, version?: number): Promise<RowsSummary> {
  const k = `${path}@${version ?? 'latest'}`;
  if (!tl.has(k)) {
    const t = await DeltaTable.forPath(path);
    tl.set(k, await tweetlakeRows(t, await t.snapshot(version === undefined ? {} : { version })));
  }
  return tl.get(k)!;
}

describe('tweetlake writes, delta-rs and Spark read', () => {
  beforeAll(async () => {
    root = await tempDir('we-write');
    for (const k of Object.keys(paths) as (keyof typeof paths)[]) paths[k] = nodePath.join(root, k);
    paths.odd = nodePath.join(root, 'odd', 'odd-b[1] x*');

    // 1. Many types: create, 11 appends (checkpoint at 10), overwrite, appends, OPTIMIZE, mergeSchema.
    const types = await DeltaTable.forPath(paths.types);
    await types.write({ sql: typedRows(0, 20) }, { name: 'types' }); // v0
    for (let b = 1; b <= 11; b++) await types.write({ sql: typedRows(b * 100, b * 100 + 7) }); // v1..v11
    await types.write({ sql: typedRows(5000, 5030) }, { mode: 'overwrite' }); // v12
    await types.write({ sql: typedRows(6000, 6005) }); // v13
    await types.write({ sql: typedRows(7000, 7005) }); // v14
    const opt = await types.optimize(); // v15
    expect(opt.version).toBe(15);
    await types.write({ sql: typedRows(8000, 8010, true) }, { mergeSchema: true }); // v16
    await types.write({ sql: typedRows(9000, 9004, true) }); // v17
    typesVersions = Array.from({ length: 18 }, (_, i) => i);
    expect(
      existsSync(nodePath.join(paths.types, '_delta_log', '00000000000000000010.checkpoint.parquet')),
    ).toBe(true);

    // The same table as a reader sees it after log clean-up: commits before the checkpoint are gone.
    cpSync(paths.types, paths.typesFromCheckpoint, { recursive: true });
    for (let v = 0; v < 10; v++) {
      await fs.rm(
        nodePath.join(paths.typesFromCheckpoint, '_delta_log', `${String(v).padStart(20, '0')}.json`),
      );
    }

    // 2. Partitioned by string, date and timestamp, with null, empty and special-character values.
    const parts = await DeltaTable.forPath(paths.parts);
    await parts.write(
      { sql: partitionedRows(0) },
      { partitionBy: ['part', 'day', 'ts_part'], properties: { 'delta.checkpointInterval': '2' } },
    );
    await parts.write({ sql: partitionedRows(1) });
    await parts.write({ sql: partitionedRows(2) }); // v2: checkpoint
    await parts.optimize();
    cpSync(paths.parts, paths.partsFromCheckpoint, { recursive: true });
    for (let v = 0; v < 2; v++) {
      await fs.rm(
        nodePath.join(paths.partsFromCheckpoint, '_delta_log', `${String(v).padStart(20, '0')}.json`),
      );
    }

    // 3. Append-only table for streaming: CREATE TABLE, idempotent appends (txn), OPTIMIZE, more appends.
    const schema: StructType = {
      type: 'struct',
      fields: [field('id', 'long'), field('msg', 'string'), field('ts', 'timestamp')],
    };
    const stream = await DeltaTable.forPath(paths.stream);
    await stream.create(schema, { properties: { 'delta.checkpointInterval': '3' } });
    const batch = (b: number) =>
      `SELECT (${b} * 100 + i)::BIGINT AS id, 'msg ' || ${b} || '/' || i AS msg,
              TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(${b} * 1000000 + i) AS ts FROM range(0, 4) t(i)`;
    for (let b = 0; b < 7; b++)
      await stream.write({ sql: batch(b) }, { txn: { appId: 'interop-app', version: b } });
    const skipped = await stream.write({ sql: batch(6) }, { txn: { appId: 'interop-app', version: 6 } });
    expect(skipped.skipped).toBe(true);
    await stream.optimize();
    for (let b = 7; b < 9; b++) await stream.write({ sql: batch(b) });

    // 4. VACUUM after an overwrite: the files the overwrite removed are deleted.
    const vac = await DeltaTable.forPath(paths.vacuum);
    await vac.write({ sql: typedRows(0, 10) });
    await vac.write({ sql: typedRows(10, 20) });
    await vac.write({ sql: typedRows(20, 25) }, { mode: 'overwrite' });
    await vac.write({ sql: typedRows(25, 30) });
    const vacuumed = await vac.vacuum({ retentionHours: 0, enforceRetentionDuration: false });
    expect(vacuumed.files.length).toBe(2);

    // 5. Partitioned by a column of every type but timestamp_ntz (edge values, binary with emoji and control bytes).
    const allParts = await DeltaTable.forPath(paths.allParts);
    const noNtz = EVERY_TYPE.fields.filter((f) => f.name !== 'ntz');
    await allParts.create(
      { type: 'struct', fields: noNtz },
      { partitionBy: PARTITIONS.filter((p) => p !== 'ntz') },
    );
    await allParts.write({ sql: `SELECT * EXCLUDE (ntz) FROM (${EVERY_TYPE_ROWS})` });

    // 6. Streaming appends (txn per batch) past version 10 at the default 512 MB DuckDB limit; a copy
    //    without the commits before the checkpoint.
    const small = await DuckSession.create({ memoryLimit: '512MB' });
    try {
      const t = await DeltaTable.forPath(paths.smallMemory, small);
      for (let b = 0; b < 12; b++) {
        await t.write(
          { sql: typedRows(b * 100, b * 100 + 5) },
          { txn: { appId: 'small-memory', version: b } },
        );
      }
    } finally {
      small.close();
    }
    expect(
      existsSync(nodePath.join(paths.smallMemory, '_delta_log', '00000000000000000010.checkpoint.parquet')),
    ).toBe(true);
    cpSync(paths.smallMemory, paths.smallMemoryFromCheckpoint, { recursive: true });
    for (let v = 0; v < 10; v++) {
      await fs.rm(
        nodePath.join(paths.smallMemoryFromCheckpoint, '_delta_log', `${String(v).padStart(20, '0')}.json`),
      );
    }

    // 7. VACUUM (retention 0, check disabled) while another writer commits between VACUUM START and the deletes.
    vacuumRaceVersions = await vacuumWithConcurrentWriter(paths.vacuumRace);

    // 8. A table at a folder whose name has glob characters, beside a folder a glob of it would match.
    await fs.mkdir(nodePath.dirname(paths.odd), { recursive: true });
    await fs.mkdir(paths.odd);
    await fs.symlink(paths.odd, nodePath.join(nodePath.dirname(paths.odd), 'odd-b1 x'));
    const odd = await DeltaTable.forPath(paths.odd);
    await odd.write(
      { sql: partitionedRows(0) },
      { partitionBy: ['part'], properties: { 'delta.checkpointInterval': '2' } },
    );
    await odd.write({ sql: partitionedRows(1) });
    await odd.write({ sql: partitionedRows(2) });
    await odd.optimize();

    // Spark: reads, history, details, data skipping, streaming (memory and Delta sinks), VACUUM dry run.
    const sparkVersions = [0, 10, 12, 15, 16];
    const tasks: SparkTask[] = [
      { id: 'types.read', op: 'read', path: paths.types, versions: [null, ...sparkVersions] },
      { id: 'types.history', op: 'history', path: paths.types },
      { id: 'types.detail', op: 'detail', path: paths.types },
      { id: 'typesFromCheckpoint.read', op: 'read', path: paths.typesFromCheckpoint, versions: [null] },
      {
        id: 'types.skipping',
        op: 'skipping',
        path: paths.types,
        predicates: [
          'id = 8003',
          'id > 9000',
          "ts_col = TIMESTAMP '2024-01-01 00:00:05.000615'",
          "ts_col > TIMESTAMP '2024-01-01 01:40:06.000000'",
          "ts_col <= TIMESTAMP '2024-01-01 01:23:20.615000'",
          "str_col = 'str-5000'",
          `str_col = '${'long'.repeat(12)}5002'`,
          "str_col > 'zzz'",
          "str_col = 'üñí€😀-5001'",
          'double_col > 1000',
          'isnan(double_col)',
          'double_col < -1000',
          'double_col = 0',
          'float_col > 1000',
          'dec_col = 6247.00',
          'big_dec_col > 10000000000',
          "date_col = DATE '2037-11-04'",
          'struct_col.a = 5003',
          'struct_col.c.d > 4000',
          'int_col IS NULL',
          'extra IS NULL',
          "extra = 'extra-8001'",
          'bool_col = false',
          'struct_col IS NULL',
          'struct_col.b IS NULL',
          'arr_col IS NULL',
          'bin_col IS NULL',
        ],
      },
      {
        id: 'types.boundaries',
        op: 'boundaries',
        path: paths.types,
        columns: [
          'id',
          'short_col',
          'byte_col',
          'double_col',
          'float_col',
          'dec_col',
          'big_dec_col',
          'str_col',
          'date_col',
          'ts_col',
        ],
      },
      { id: 'parts.read', op: 'read', path: paths.parts, versions: [null, 0, 2] },
      { id: 'parts.history', op: 'history', path: paths.parts },
      { id: 'partsFromCheckpoint.read', op: 'read', path: paths.partsFromCheckpoint, versions: [null] },
      { id: 'parts.detail', op: 'detail', path: paths.parts },
      {
        id: 'parts.skipping',
        op: 'skipping',
        path: paths.parts,
        predicates: [
          "part = 'd/e'",
          "part = 'h%i'",
          "part = 'ü€'",
          'part IS NULL',
          'day IS NULL',
          "day = DATE '2024-03-02'",
          "ts_part = TIMESTAMP '2024-01-01 10:00:02.123456'",
          'ts_part IS NULL',
          'id = 2012',
        ],
      },
      { id: 'stream.read', op: 'read', path: paths.stream, versions: [null] },
      { id: 'stream.boundaries', op: 'boundaries', path: paths.stream, columns: ['id', 'msg', 'ts'] },
      { id: 'stream.history', op: 'history', path: paths.stream },
      { id: 'stream.detail', op: 'detail', path: paths.stream },
      {
        id: 'stream.memory',
        op: 'stream',
        path: paths.stream,
        sink: 'memory',
        checkpoint: paths.memCheckpoint,
      },
      {
        id: 'stream.delta',
        op: 'stream',
        path: paths.stream,
        sink: 'delta',
        sinkPath: paths.sink,
        checkpoint: paths.sinkCheckpoint,
      },
      { id: 'vacuum.read', op: 'read', path: paths.vacuum, versions: [null] },
      { id: 'allParts.read', op: 'read', path: paths.allParts, versions: [null] },
      {
        id: 'smallMemoryFromCheckpoint.read',
        op: 'read',
        path: paths.smallMemoryFromCheckpoint,
        versions: [null],
      },
      { id: 'vacuumRace.read', op: 'read', path: paths.vacuumRace, versions: [null] },
      { id: 'vacuum.history', op: 'history', path: paths.vacuum },
      {
        id: 'vacuum.dryRun',
        op: 'sql',
        statements: [`VACUUM delta.\`${paths.vacuum}\` RETAIN 0 HOURS DRY RUN`],
      },
    ];
    spark = await sparkJob(tasks);

    // delta-rs: every version of the typed table, the others at their latest (with history).
    const specs = [
      ...typesVersions.map((version) => ({ table: paths.types, version })),
      { table: paths.types, history: true },
      { table: paths.typesFromCheckpoint },
      { table: paths.parts, history: true },
      { table: paths.parts, version: 0 },
      { table: paths.partsFromCheckpoint },
      { table: paths.stream, history: true },
      { table: paths.vacuum, history: true, vacuumDryRun: true },
      { table: paths.sink },
      { table: paths.allParts },
      { table: paths.smallMemoryFromCheckpoint },
      ...vacuumRaceVersions.map((version) => ({ table: paths.vacuumRace, version })),
      { table: paths.odd },
    ];
    for (const d of await deltaRsDump(specs)) {
      rs.set(`${d.table}@${d.requestedVersion ?? 'latest'}`, d);
    }
  });

  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('delta-rs reads every version of the typed table as tweetlake does', async () => {
    for (const version of [...typesVersions, undefined]) {
      const py = rs.get(`${paths.types}@${version ?? 'latest'}`)!;
      expect(py.error, `delta-rs load v${version}`).toBeUndefined();
      expect(py.rowsError, `delta-rs rows v${version}`).toBeUndefined();
      const t = await DeltaTable.forPath(paths.types);
      const snap = await t.snapshot(version === undefined ? {} : { version });
      expect(py.version).toBe(snap.version);
      expect(py.files).toEqual(snap.files.map((f) => f.path).sort(compareCodePoints));
      expect(schemaSignature(parseSchema(py.schema!))).toEqual(schemaSignature(snap.schema));
      expect(rowsDiff(await rowsAt(paths.types, version), py), `rows at version ${version}`).toBeUndefined();
    }
    const latest = await rowsAt(paths.types);
    expect(latest.numRows).toBe(30 + 5 + 5 + 10 + 4);
  });

  it('delta-rs and Spark read the table from our checkpoint alone (commits before it removed)', async () => {
    const expected = await rowsAt(paths.types);
    const py = rs.get(`${paths.typesFromCheckpoint}@latest`)!;
    expect(py.error).toBeUndefined();
    expect(py.version).toBe(17);
    expect(rowsDiff(expected, py)).toBeUndefined();
    const [sp] = spark.get<SparkRead[]>('typesFromCheckpoint.read');
    expect(sp!.error).toBeUndefined();
    expect(rowsDiff(expected, sp!)).toBeUndefined();
    expect(rowsDiff(await rowsAt(paths.typesFromCheckpoint), py)).toBeUndefined();
  });

  it('Spark reads the typed table at the latest and older versions as tweetlake does', async () => {
    const reads = spark.get<SparkRead[]>('types.read');
    for (const r of reads) {
      expect(r.error, `Spark read of version ${r.requestedVersion}`).toBeUndefined();
      const version = r.requestedVersion ?? undefined;
      const t = await DeltaTable.forPath(paths.types);
      const snap = await t.snapshot(version === undefined ? {} : { version });
      expect(schemaSignature(parseSchema(r.schema!))).toEqual(schemaSignature(snap.schema));
      expect(
        rowsDiff(await rowsAt(paths.types, version), r),
        `Spark rows at version ${version}`,
      ).toBeUndefined();
    }
  });

  it("Spark's DESCRIBE HISTORY and delta-rs' history list our commits and operations", async () => {
    for (const [id, path] of [
      ['types', paths.types],
      ['parts', paths.parts],
      ['stream', paths.stream],
      ['vacuum', paths.vacuum],
    ] as const) {
      const t = await DeltaTable.forPath(path);
      const ours = (await t.history()).reverse().map((h) => ({ version: h.version, operation: h.operation }));
      const theirs = spark.get<{ version: number; operation: string; engineInfo: string }[]>(`${id}.history`);
      expect(
        theirs.map((h) => ({ version: h.version, operation: h.operation })),
        `Spark history of ${id}`,
      ).toEqual(ours);
      expect(theirs.every((h) => h.engineInfo?.startsWith('tweetlake/'))).toBe(true);
      const py = rs.get(`${path}@latest`)!;
      expect(py.history, `delta-rs history of ${id}`).toEqual(ours);
    }
    const ops = (await (await DeltaTable.forPath(paths.types)).history()).map((h) => h.operation);
    expect(new Set(ops)).toEqual(new Set(['CREATE TABLE AS SELECT', 'WRITE', 'OPTIMIZE']));
    const vacOps = (await (await DeltaTable.forPath(paths.vacuum)).history()).map((h) => h.operation);
    expect(vacOps.slice(0, 2)).toEqual(['VACUUM END', 'VACUUM START']);
  });

  it("Spark's DESCRIBE DETAIL agrees on files and partitioning", async () => {
    for (const [id, path] of [
      ['types', paths.types],
      ['parts', paths.parts],
      ['stream', paths.stream],
    ] as const) {
      const snap = await (await DeltaTable.forPath(path)).snapshot();
      const detail = spark.get<{
        numFiles: number;
        partitionColumns: string[];
        properties: Record<string, string>;
      }>(`${id}.detail`);
      expect(detail.numFiles, id).toBe(snap.numFiles);
      expect(detail.partitionColumns, id).toEqual(snap.partitionColumns);
    }
  });

  it('Spark data skipping over our file statistics returns what full scans return', () => {
    for (const id of ['types.skipping', 'parts.skipping', 'types.boundaries', 'stream.boundaries']) {
      const checks = spark.get<{ predicate: string; withSkipping: number; withoutSkipping: number }[]>(id);
      for (const c of checks) expect(c.withSkipping, `${id}: ${c.predicate}`).toBe(c.withoutSkipping);
      expect(checks.some((c) => c.withoutSkipping > 0)).toBe(true);
    }
    // Spark did use our statistics: a point lookup reads the one file that holds the row.
    const types = spark.get<{ predicate: string; filesRead: number }[]>('types.skipping');
    expect(types.find((c) => c.predicate === 'id = 8003')!.filesRead).toBe(1);
    const total = spark.get<{ numFiles: number }>('types.detail').numFiles;
    expect(types.filter((c) => c.filesRead < total).length).toBeGreaterThan(5);
  });

  it('delta-rs and Spark read the partitioned table (null, empty and special-character values)', async () => {
    const ours = await rowsAt(paths.parts);
    expect(ours.numRows).toBe(PARTS.length * 3 * 3);
    const py = rs.get(`${paths.parts}@latest`)!;
    expect(py.error).toBeUndefined();
    expect(py.partitionColumns).toEqual(['part', 'day', 'ts_part']);
    expect(rowsDiff(ours, py)).toBeUndefined();
    expect(rowsDiff(await rowsAt(paths.parts, 0), rs.get(`${paths.parts}@0`)!)).toBeUndefined();
    for (const r of spark.get<SparkRead[]>('parts.read')) {
      expect(r.error).toBeUndefined();
      const rows = await rowsAt(paths.parts, r.requestedVersion ?? undefined);
      expect(rowsDiff(rows, r), `Spark rows of version ${r.requestedVersion}`).toBeUndefined();
    }
    // From our checkpoint of a partitioned table (partition values with nulls), without the commits before it.
    expect(rowsDiff(ours, rs.get(`${paths.partsFromCheckpoint}@latest`)!)).toBeUndefined();
    const [fromCp] = spark.get<SparkRead[]>('partsFromCheckpoint.read');
    expect(rowsDiff(ours, fromCp!)).toBeUndefined();
    // Spark-style directories: escaped values and __HIVE_DEFAULT_PARTITION__ for null (and '').
    const dirs = readdirSync(paths.parts).filter((d) => d.startsWith('part='));
    expect(dirs).toContain('part=__HIVE_DEFAULT_PARTITION__');
    expect(dirs).toContain('part=d%2Fe');
  });

  it('Spark readStream (availableNow) sees every appended row exactly once', async () => {
    const ours = await rowsAt(paths.stream);
    expect(ours.numRows).toBe(9 * 4);
    const [read] = spark.get<SparkRead[]>('stream.read');
    expect(rowsDiff(ours, read!)).toBeUndefined();
    const memory = spark.get<RowsSummary & { numInputRows: number }>('stream.memory');
    expect(memory.numInputRows).toBe(36);
    expect(rowsDiff(ours, memory)).toBeUndefined();
    const py = rs.get(`${paths.stream}@latest`)!;
    expect(rowsDiff(ours, py)).toBeUndefined();
  });

  it("tweetlake reads the Delta table Spark's stream wrote from ours", async () => {
    const sink = spark.get<RowsSummary>('stream.delta');
    const ours = await rowsAt(paths.sink);
    expect(rowsDiff(ours, sink)).toBeUndefined();
    expect(rowsDiff(ours, rs.get(`${paths.sink}@latest`)!)).toBeUndefined();
    const snap = await (await DeltaTable.forPath(paths.sink)).snapshot();
    expect(snap.transactions.length).toBe(1); // Spark's streaming sink records its batches as txn actions
  });

  it('after our VACUUM, Spark and delta-rs read the table and find nothing left to delete', async () => {
    const ours = await rowsAt(paths.vacuum);
    expect(ours.numRows).toBe(10);
    const [read] = spark.get<SparkRead[]>('vacuum.read');
    expect(rowsDiff(ours, read!)).toBeUndefined();
    const py = rs.get(`${paths.vacuum}@latest`)!;
    expect(rowsDiff(ours, py)).toBeUndefined();
    // delta-rs lists expired tombstones whether or not the files still exist: none may exist.
    const left = py.vacuumDryRun!.filter((p) =>
      existsSync(nodePath.join(paths.vacuum, decodeURIComponent(p))),
    );
    expect(left).toEqual([]);
    expect(py.vacuumDryRun!.length).toBe(2);
    const dry = spark.get<{ results: { path: string }[][] }>('vacuum.dryRun');
    expect(dry.results[0]).toEqual([]);
  });

  it('delta-rs and Spark read partition values of every type as we write them', async () => {
    const ours = await rowsAt(paths.allParts);
    expect(ours.numRows).toBe(5);
    const py = rs.get(`${paths.allParts}@latest`)!;
    expect(py.error).toBeUndefined();
    expect(py.rowsError).toBeUndefined();
    expect(rowsDiff(ours, py), 'delta-rs').toBeUndefined();
    const [sp] = spark.get<SparkRead[]>('allParts.read');
    expect(sp!.error).toBeUndefined();
    expect(rowsDiff(ours, sp!), 'Spark').toBeUndefined();
  });

  it('delta-rs and Spark read the checkpoint written under the 512 MB limit, alone', async () => {
    const ours = await rowsAt(paths.smallMemory);
    expect(ours.numRows).toBe(12 * 5);
    const py = rs.get(`${paths.smallMemoryFromCheckpoint}@latest`)!;
    expect(py.error).toBeUndefined();
    expect(py.version).toBe(11);
    expect(rowsDiff(ours, py), 'delta-rs').toBeUndefined();
    const [sp] = spark.get<SparkRead[]>('smallMemoryFromCheckpoint.read');
    expect(sp!.error).toBeUndefined();
    expect(rowsDiff(ours, sp!), 'Spark').toBeUndefined();
  });

  it('after a VACUUM that raced a writer, delta-rs reads every later version as we do, Spark the latest', async () => {
    expect(vacuumRaceVersions.length).toBeGreaterThanOrEqual(4);
    for (const version of vacuumRaceVersions) {
      const py = rs.get(`${paths.vacuumRace}@${version}`)!;
      expect(py.error, `delta-rs load of v${version}`).toBeUndefined();
      expect(py.rowsError, `delta-rs rows of v${version}`).toBeUndefined();
      expect(rowsDiff(await rowsAt(paths.vacuumRace, version), py), `v${version}`).toBeUndefined();
    }
    const [sp] = spark.get<SparkRead[]>('vacuumRace.read');
    expect(sp!.error).toBeUndefined();
    expect(rowsDiff(await rowsAt(paths.vacuumRace), sp!)).toBeUndefined();
    expect((await rowsAt(paths.vacuumRace)).numRows).toBe(4);
  });

  it('delta-rs reads the table at a folder with glob characters as we do (its files once)', async () => {
    const ours = await rowsAt(paths.odd);
    expect(ours.numRows).toBe(PARTS.length * 3 * 3);
    const py = rs.get(`${paths.odd}@latest`)!;
    expect(py.error).toBeUndefined();
    expect(rowsDiff(ours, py)).toBeUndefined();
  });
});

/**
 * Builds a table, then VACUUMs it (retention 0) while a writer that wrote its files before the
 * VACUUM started commits between VACUUM START and the deletes. Returns the versions that must read.
 */
async function vacuumWithConcurrentWriter(dir: string): Promise<number[]> {
  const t = await DeltaTable.forPath(dir);
  await t.write({ sql: typedRows(0, 2) }); // v0
  await t.write({ sql: typedRows(10, 12) }, { mode: 'overwrite' }); // v1: v0's file is garbage
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let atCommit!: () => void;
  const reachedCommit = new Promise<void>((resolve) => (atCommit = resolve));
  const writerStore = new HookedStore(t.store, async (op, path) => {
    if (op === 'putIfAbsent' && /^_delta_log\/\d{20}\.json$/.test(path)) {
      atCommit();
      await gate;
    }
  });
  const writing = new DeltaTable(writerStore, t.session).write({ sql: typedRows(20, 22) });
  void writing.then(atCommit, atCommit); // a write that never reaches its commit must not hang the suite
  await reachedCommit;
  await new Promise((resolve) => setTimeout(resolve, 20));
  let released = false;
  const vacuumStore = new HookedStore(t.store, async (op, path) => {
    if (!released && op === 'delete' && !path.startsWith('_delta_log/')) {
      released = true;
      release();
      await writing;
    }
  });
  await new DeltaTable(vacuumStore, t.session).vacuum({ retentionHours: 0, enforceRetentionDuration: false });
  expect(released).toBe(true);
  await writing;
  await t.write({ sql: typedRows(30, 30) }, { txn: { appId: 'after-vacuum', version: 0 } }); // an empty batch
  const latest = (await t.snapshot()).version;
  return Array.from({ length: latest }, (_, i) => i + 1);
}
