/**
 * Interop on S3 (versitygw on loopback): tables tweetlake writes through its S3 store are read by
 * delta-rs (storage_options) and by Spark (s3a://, hadoop-aws) with the same versions, schema and rows;
 * tweetlake reads the tables delta-rs and Spark write on S3; tweetlake and delta-rs (lock-free commits
 * by conditional put) append to one S3 table at the same moment without losing or doubling a commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedSession } from '../../../src/duck/session.js';
import { DeltaTable, field, parseSchema } from '../../../src/delta/index.js';
import { S3ObjectStore } from '../../../src/storage/s3-store.js';
import { startFaultProxy } from '../../helpers/s3-fault-proxy.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';
import {
  compareCodePoints,
  deltaRsDump,
  rowsDiff,
  runPythonJson,
  schemaSignature,
  sparkJob,
  sparkTypedRows,
  tweetlakeRows,
  typedRows,
  type DeltaRsDump,
  type RowsSummary,
  type SparkRead,
} from '../helpers.js';

const BUCKET = 'engines';
/** Appends each writer makes in the race. */
const N = 30;
let server: S3TestServer;
const stores: S3ObjectStore[] = [];
const url = (path: string) => `s3://${BUCKET}/${path}`;
const s3a = (s3Url: string) => s3Url.replace(/^s3:/, 's3a:');
const sparkTable = (path: string) => `delta.\`${s3a(url(path))}\``;

/** delta-rs storage_options for the test server (commits by conditional put unless `extra` says otherwise). */
function rsOptions(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ALLOW_HTTP: 'true',
    conditional_put: 'etag',
    ...extra,
  };
}

/** A tweetlake table at an s3:// URL of the test server. */
async function s3Table(s3Url: string): Promise<DeltaTable> {
  const store = new S3ObjectStore(s3Url, server.options());
  stores.push(store);
  return new DeltaTable(store, await sharedSession());
}

async function rowsOf(s3Url: string, version?: number): Promise<RowsSummary> {
  const t = await s3Table(s3Url);
  return tweetlakeRows(t, await t.snapshot(version === undefined ? {} : { version }));
}

/** Rows of a table partitioned by a string (null, empty and special characters) and a date (null). */
function partitionedRows(batch: number): string {
  return `SELECT (${batch} * 1000 + i)::BIGINT AS id,
      CASE i % 6 WHEN 0 THEN 'a' WHEN 1 THEN 'b c' WHEN 2 THEN 'd/e=f' WHEN 3 THEN 'ü€ %#?' WHEN 4 THEN '' ELSE NULL END AS part,
      CASE WHEN i % 4 = 3 THEN NULL ELSE DATE '2024-03-01' + (i % 3)::INTEGER END AS day,
      'v' || ${batch} || '-' || i AS value
    FROM range(0, 18) t(i)`;
}

const TL_TYPES = url('tl/types');
const TL_PARTS = url('tl/parts');
/** Versions of tl/types the engines read: the first, the checkpoint, the overwrite, OPTIMIZE, the last. */
const TYPES_VERSIONS = [0, 3, 4, 6, 7];
let rsTables: Record<string, { path: string; version: number }>;
let spark: Awaited<ReturnType<typeof sparkJob>>;
const rs = new Map<string, DeltaRsDump>(); // `${table}@${version}`

beforeAll(async () => {
  server = await startS3Server(); // the first run builds versitygw with go install (minutes)
  await server.createBucket(BUCKET);
}, 900_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await server?.stop();
});

describe('tables across engines on S3', () => {
  beforeAll(async () => {
    // tweetlake writes: appends, a checkpoint, an overwrite, OPTIMIZE, schema evolution; a partitioned table.
    const types = await s3Table(TL_TYPES);
    await types.write({ sql: typedRows(0, 20) }, { name: 'types' }); // v0
    for (let b = 1; b <= 3; b++) await types.write({ sql: typedRows(b * 100, b * 100 + 7) }); // v1..v3
    expect(await types.checkpoint()).toBe(3);
    await types.write({ sql: typedRows(5000, 5030) }, { mode: 'overwrite' }); // v4
    await types.write({ sql: typedRows(6000, 6005) }); // v5
    expect((await types.optimize()).version).toBe(6);
    await types.write({ sql: typedRows(8000, 8010, true) }, { mergeSchema: true }); // v7
    const parts = await s3Table(TL_PARTS);
    await parts.write(
      { sql: partitionedRows(0) },
      { partitionBy: ['part', 'day'], properties: { 'delta.checkpointInterval': '2' } },
    );
    for (let b = 1; b <= 2; b++) await parts.write({ sql: partitionedRows(b) }); // v2 writes a checkpoint
    await parts.optimize(); // v3

    // delta-rs writes its tables on S3.
    rsTables = await runPythonJson('deltars_s3.py', {
      op: 'build',
      root: url('rs'),
      storageOptions: rsOptions(),
    });

    // One Spark session: it writes two tables through s3a, then reads ours, its own and delta-rs'.
    const st = sparkTable('spark/types');
    spark = await sparkJob(
      [
        {
          id: 'spark_types.write',
          op: 'sql',
          statements: [
            `CREATE TABLE ${st} (id BIGINT, int_col INT, short_col SMALLINT, byte_col TINYINT, double_col DOUBLE,
             float_col FLOAT, dec_col DECIMAL(10,2), big_dec_col DECIMAL(38,6), str_col STRING, bool_col BOOLEAN,
             date_col DATE, ts_col TIMESTAMP, bin_col BINARY, struct_col STRUCT<a: INT, b: STRING, c: STRUCT<d: DOUBLE>>,
             arr_col ARRAY<BIGINT>, map_col MAP<STRING, INT>) USING delta TBLPROPERTIES ('delta.checkpointInterval' = '2')`,
            `INSERT INTO ${st} ${sparkTypedRows(0, 20)}`,
            `INSERT OVERWRITE ${st} ${sparkTypedRows(5000, 5030)}`,
            `INSERT INTO ${st} ${sparkTypedRows(6000, 6005)}`,
            `OPTIMIZE ${st}`,
            `DELETE FROM ${st} WHERE id % 4 = 1`,
          ],
        },
        {
          id: 'spark_parts.write',
          op: 'df_write',
          query: `SELECT id, CASE id % 4 WHEN 0 THEN 'a' WHEN 1 THEN 'd/e f' WHEN 2 THEN NULL ELSE 'ü€' END AS part,
                  concat('v', id) AS value FROM range(0, 24)`,
          path: s3a(url('spark/parts')),
          mode: 'append',
          partitionBy: ['part'],
        },
        { id: 'types.read', op: 'read', path: s3a(TL_TYPES), versions: [null, 0, 3, 6] },
        { id: 'types.history', op: 'history', path: s3a(TL_TYPES) },
        { id: 'types.detail', op: 'detail', path: s3a(TL_TYPES) },
        { id: 'parts.read', op: 'read', path: s3a(TL_PARTS), versions: [null, 0] },
        { id: 'parts.detail', op: 'detail', path: s3a(TL_PARTS) },
        { id: 'spark_types.read', op: 'read', path: s3a(url('spark/types')), versions: [null] },
        { id: 'spark_types.history', op: 'history', path: s3a(url('spark/types')) },
        { id: 'spark_parts.read', op: 'read', path: s3a(url('spark/parts')), versions: [null] },
        { id: 'rs_types.read', op: 'read', path: s3a(url('rs/rs_types')), versions: [null] },
      ],
      {
        s3: {
          endpoint: server.endpoint,
          accessKey: server.credentials.accessKeyId,
          secretKey: server.credentials.secretAccessKey,
          region: 'us-east-1',
        },
      },
    );

    // delta-rs reads every table over S3.
    const storageOptions = rsOptions();
    const specs = [
      ...TYPES_VERSIONS.map((version) => ({ table: TL_TYPES, version, storageOptions })),
      { table: TL_TYPES, history: true, storageOptions },
      { table: TL_PARTS, history: true, storageOptions },
      { table: url('spark/types'), storageOptions },
      { table: url('spark/parts'), storageOptions },
      ...Object.values(rsTables).map((t) => ({ table: t.path, storageOptions })),
    ];
    for (const d of await deltaRsDump(specs)) rs.set(`${d.table}@${d.requestedVersion ?? 'latest'}`, d);
  }, 900_000);

  describe('tweetlake writes on S3; delta-rs and Spark read it there', () => {
    it('delta-rs (storage_options) reads our S3 tables at every version with our files, schema and rows', async () => {
      for (const [table, version] of [
        ...TYPES_VERSIONS.map((v) => [TL_TYPES, v] as const),
        [TL_TYPES, undefined] as const,
        [TL_PARTS, undefined] as const,
      ]) {
        const py = rs.get(`${table}@${version ?? 'latest'}`)!;
        const what = `${table}@${version ?? 'latest'}`;
        expect(py.error, what).toBeUndefined();
        expect(py.rowsError, what).toBeUndefined();
        const snap = await (await s3Table(table)).snapshot(version === undefined ? {} : { version });
        expect(py.version, what).toBe(snap.version);
        expect(py.files, what).toEqual(snap.files.map((f) => f.path).sort(compareCodePoints));
        expect(schemaSignature(parseSchema(py.schema!)), what).toEqual(schemaSignature(snap.schema));
        expect(rowsDiff(await rowsOf(table, version), py), what).toBeUndefined();
      }
      expect(rs.get(`${TL_TYPES}@latest`)!.version).toBe(7);
      expect(rs.get(`${TL_PARTS}@latest`)!.partitionColumns).toEqual(['part', 'day']);
      expect((await rowsOf(TL_TYPES)).numRows).toBe(30 + 5 + 10);
      // delta-rs lists the same commits and operations
      const ours = (await (await s3Table(TL_TYPES)).history())
        .reverse()
        .map((h) => ({ version: h.version, operation: h.operation }));
      expect(rs.get(`${TL_TYPES}@latest`)!.history).toEqual(ours);
    });

    it('Spark (s3a, hadoop-aws) reads our S3 tables at the latest and older versions, history and detail', async () => {
      for (const [id, table] of [
        ['types', TL_TYPES],
        ['parts', TL_PARTS],
      ] as const) {
        const reads = spark.get<SparkRead[]>(`${id}.read`);
        expect(reads.length).toBeGreaterThan(1);
        for (const r of reads) {
          const what = `Spark ${id}@${r.requestedVersion ?? 'latest'}`;
          expect(r.error, what).toBeUndefined();
          const version = r.requestedVersion ?? undefined;
          const snap = await (await s3Table(table)).snapshot(version === undefined ? {} : { version });
          expect(schemaSignature(parseSchema(r.schema!)), what).toEqual(schemaSignature(snap.schema));
          expect(rowsDiff(await rowsOf(table, version), r), what).toBeUndefined();
        }
        const snap = await (await s3Table(table)).snapshot();
        const detail = spark.get<{ numFiles: number; partitionColumns: string[] }>(`${id}.detail`);
        expect(detail.numFiles, id).toBe(snap.numFiles);
        expect(detail.partitionColumns, id).toEqual(snap.metadata.partitionColumns);
      }
      const ours = (await (await s3Table(TL_TYPES)).history()).reverse();
      const theirs = spark.get<{ version: number; operation: string; engineInfo: string }[]>('types.history');
      expect(theirs.map((h) => [h.version, h.operation])).toEqual(ours.map((h) => [h.version, h.operation]));
      expect(theirs.every((h) => h.engineInfo?.startsWith('tweetlake/'))).toBe(true);
    });
  });

  describe('delta-rs and Spark write on S3; tweetlake reads it there', () => {
    it("tweetlake reads delta-rs' S3 tables (appends, overwrite, checkpoint, compaction, delete, partitions) as delta-rs does", async () => {
      expect(Object.keys(rsTables).sort()).toEqual(['rs_parts', 'rs_types']);
      for (const { path, version } of Object.values(rsTables)) {
        const py = rs.get(`${path}@latest`)!;
        expect(py.error, path).toBeUndefined();
        expect(py.rowsError, path).toBeUndefined();
        expect(py.version).toBe(version);
        const snap = await (await s3Table(path)).snapshot();
        expect(snap.version, path).toBe(version);
        expect(snap.files.map((f) => f.path).sort(compareCodePoints), path).toEqual(py.files);
        expect(rowsDiff(await rowsOf(path), py), path).toBeUndefined();
      }
      expect(rsTables.rs_types!.version).toBe(6);
      // Spark agrees on delta-rs' table too (over s3a)
      const [sp] = spark.get<SparkRead[]>('rs_types.read');
      expect(rowsDiff(await rowsOf(rsTables.rs_types!.path), sp!)).toBeUndefined();
    });

    it("tweetlake reads Spark's S3 tables (s3a: inserts, overwrite, OPTIMIZE, DELETE, checkpoint, partitions) as Spark does", async () => {
      for (const [id, path] of [
        ['spark_types', 'spark/types'],
        ['spark_parts', 'spark/parts'],
      ] as const) {
        const [sp] = spark.get<SparkRead[]>(`${id}.read`);
        expect(sp!.error, id).toBeUndefined();
        const py = rs.get(`${url(path)}@latest`)!;
        expect(py.error, id).toBeUndefined();
        const t = await s3Table(url(path));
        const snap = await t.snapshot();
        expect(snap.version, id).toBe(py.version);
        expect(schemaSignature(snap.schema), id).toEqual(schemaSignature(parseSchema(sp!.schema!)));
        const ours = await rowsOf(url(path));
        expect(rowsDiff(ours, sp!), `${id}: tweetlake vs Spark`).toBeUndefined();
        expect(rowsDiff(ours, py), `${id}: tweetlake vs delta-rs`).toBeUndefined();
      }
      const history = spark.get<{ version: number; operation: string }[]>('spark_types.history');
      expect(history.map((h) => h.operation)).toContain('DELETE');
      expect(history.map((h) => h.operation)).toContain('OPTIMIZE');
      const snap = await (await s3Table(url('spark/types'))).snapshot();
      expect(snap.version).toBe(history.at(-1)!.version);
      // checkpointInterval 2: Spark wrote checkpoints that tweetlake read from S3
      const log = await (await s3Table(url('spark/types'))).store.list('_delta_log/');
      expect(log.some((m) => m.path.endsWith('.checkpoint.parquet'))).toBe(true);
      // 5000..5029 and 6000..6004, less the 8 + 1 ids with id % 4 = 1
      expect((await rowsOf(url('spark/types'))).numRows).toBe(26);
    });
  });
});

/** One commit file as the log holds it: who wrote it, the row it added, the version it read. */
interface RaceCommit {
  version: number;
  engine: string;
  seq: number | undefined;
  writer: string | undefined;
  adds: number;
  /** Times the writer lost the version to another commit and retried (from its commitInfo). */
  retries: number;
}

async function raceCommits(table: DeltaTable): Promise<{ paths: string[]; commits: RaceCommit[] }> {
  const paths = (await table.store.list('_delta_log/')).map((m) => m.path).filter((p) => p.endsWith('.json'));
  const commits = await Promise.all(
    paths.map(async (path) => {
      const version = Number(path.slice('_delta_log/'.length, -'.json'.length));
      const actions = new TextDecoder()
        .decode(await table.store.get(path))
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
      const info = actions.find((a) => a.commitInfo)!.commitInfo!;
      const adds = actions.filter((a) => a.add).map((a) => a.add!);
      const stats = adds[0]
        ? (JSON.parse(adds[0].stats as string) as { minValues: Record<string, unknown> })
        : undefined;
      const metrics = (info.operationMetrics ?? {}) as Record<string, unknown>;
      const retries =
        typeof info.readVersion === 'number'
          ? version - info.readVersion - 1 // tweetlake: read at readVersion, committed later
          : Number(metrics.num_retries ?? 0); // delta-rs counts its retries itself
      return {
        version,
        engine: String(info.engineInfo),
        seq: stats === undefined ? undefined : Number(stats.minValues.seq),
        writer: stats === undefined ? undefined : String(stats.minValues.writer),
        adds: adds.length,
        retries,
      };
    }),
  );
  return { paths, commits };
}

describe('tweetlake and delta-rs append to one S3 table at the same moment', () => {
  const RACE = url('race');
  const raceSchema = { type: 'struct' as const, fields: [field('writer', 'string'), field('seq', 'long')] };

  it(
    `${N} tweetlake appends and ${N} delta-rs appends (conditional put): versions 0..${2 * N} contiguous, every row once, no lost commit`,
    { timeout: 600_000 },
    async () => {
      const table = await s3Table(RACE);
      await table.create(raceSchema); // v0
      const startAt = Date.now() + 6000; // the Python process has imported deltalake and loaded the table by then
      const theirsRun = runPythonJson<{ versions: number[]; seconds: number }>('deltars_s3.py', {
        op: 'appends',
        table: RACE,
        writer: 'delta-rs',
        count: N,
        startAt,
        // about tweetlake's pace: unpaced (~65 ms a commit here), delta-rs made 30 commits in a row while
        // one tweetlake commit retried version after version, and the run was blocks instead of a race
        pauseMs: 60,
        storageOptions: rsOptions(),
      });
      await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
      const started = Date.now();
      const ours: number[] = [];
      for (let seq = 0; seq < N; seq++) {
        const r = await table.write({ sql: `SELECT 'tweetlake' AS writer, ${seq}::BIGINT AS seq` });
        ours.push(r.version);
      }
      const oursSeconds = (Date.now() - started) / 1000;
      const theirs = await theirsRun;

      const { paths, commits } = await raceCommits(table);
      expect(paths).toEqual(
        Array.from({ length: 2 * N + 1 }, (_, v) => `_delta_log/${String(v).padStart(20, '0')}.json`),
      );
      // each writer's commits are where it says, each adding its one row; none is lost or doubled
      for (const [writer, versions, engine] of [
        ['tweetlake', ours, 'tweetlake/'],
        ['delta-rs', theirs.versions, 'delta-rs'],
      ] as const) {
        expect(versions, writer).toHaveLength(N);
        versions.forEach((v, seq) => {
          expect(commits[v], `${writer} seq ${seq} at version ${v}`).toMatchObject({ writer, seq, adds: 1 });
          expect(commits[v]!.engine.startsWith(engine)).toBe(true);
        });
      }
      expect(new Set([...ours, ...theirs.versions]).size).toBe(2 * N);
      // the writers really ran at the same moment: their versions interleave
      const order = commits.slice(1).map((c) => c.writer);
      const switches = order.filter((w, i) => i > 0 && w !== order[i - 1]).length;
      expect(switches).toBeGreaterThan(2);
      // the final table: every row exactly once, read by tweetlake and by delta-rs over S3
      const snap = await table.snapshot();
      expect(snap.version).toBe(2 * N);
      const rows = await tweetlakeRows(table, snap);
      const expected = ['tweetlake', 'delta-rs'].flatMap((writer) =>
        Array.from({ length: N }, (_, seq) => `${writer}/${seq}`),
      );
      expect(rows.rows!.map((r) => `${r.writer}/${r.seq}`).sort()).toEqual(expected.sort());
      const [py] = await deltaRsDump([{ table: RACE, storageOptions: rsOptions() }]);
      expect(py!.version).toBe(2 * N);
      expect(rowsDiff(rows, py!)).toBeUndefined();
      const retries = (engine: string) =>
        commits.filter((c) => c.engine.startsWith(engine)).reduce((sum, c) => sum + c.retries, 0);
      // commits really collided: a writer's conditional PUT found the version taken and it retried
      expect(retries('tweetlake/') + retries('delta-rs')).toBeGreaterThan(0);
      console.log(
        `race: tweetlake ${N} appends in ${oursSeconds.toFixed(1)} s (${retries('tweetlake/')} retries), ` +
          `delta-rs ${N} in ${theirs.seconds} s (${retries('delta-rs')} retries), ${switches} writer switches`,
      );
    },
  );

  for (const [name, explicit] of [
    ["with 'conditional_put': 'etag'", true],
    ['with storage_options that do not name conditional_put (on by default in 1.6.6)', false],
  ] as const) {
    it(`delta-rs ${name}: its commit is a conditional PUT that loses to ours, retried at the next version`, async () => {
      const path = `race-412-${explicit ? 'etag' : 'default'}`;
      const table = await s3Table(url(path));
      await table.create(raceSchema); // v0
      // the proxy holds delta-rs' If-None-Match PUT of version 1 while tweetlake commits version 1
      const proxy = await startFaultProxy(server.endpoint);
      const v1 = `/${BUCKET}/${path}/_delta_log/${String(1).padStart(20, '0')}.json`;
      proxy.delayNext(
        1,
        5000,
        (req) => req.method === 'PUT' && req.url === v1 && req.headers['if-none-match'] === '*',
      );
      const options = rsOptions({ AWS_ENDPOINT_URL: proxy.endpoint });
      if (!explicit) delete options.conditional_put;
      try {
        const theirsRun = runPythonJson<{ version?: number; error?: string }>('deltars_s3.py', {
          op: 'one_append',
          table: url(path),
          writer: 'delta-rs',
          seq: 0,
          storageOptions: options,
        });
        const deadline = Date.now() + 60_000;
        while (!proxy.seen.some((r) => r.fault) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20));
        expect(proxy.seen.filter((r) => r.fault).map((r) => r.url)).toEqual([v1]);
        expect((await table.write({ sql: `SELECT 'tweetlake' AS writer, 0::BIGINT AS seq` })).version).toBe(
          1,
        );
        const theirs = await theirsRun;
        expect(theirs).toEqual({ version: 2 });
      } finally {
        await proxy.close();
      }
      const { paths, commits } = await raceCommits(table);
      expect(paths).toHaveLength(3);
      expect(commits[1]).toMatchObject({ writer: 'tweetlake', seq: 0 }); // not overwritten
      expect(commits[2]).toMatchObject({ writer: 'delta-rs', seq: 0, retries: 1 });
    });
  }

  it('delta-rs with conditional put disabled is refused on S3 and commits nothing', async () => {
    const table = await s3Table(url('refused'));
    await table.create(raceSchema); // v0
    const refused = await runPythonJson<{ version?: number; error?: string }>('deltars_s3.py', {
      op: 'one_append',
      table: url('refused'),
      writer: 'delta-rs-unsafe',
      seq: 0,
      storageOptions: rsOptions({ conditional_put: 'disabled' }),
    });
    expect(refused.version).toBeUndefined();
    expect(refused.error).toMatch(/conditional put is disabled/);
    expect((await table.snapshot()).version).toBe(0);
    expect((await table.store.list('_delta_log/')).map((m) => m.path)).toEqual([
      `_delta_log/${String(0).padStart(20, '0')}.json`,
    ]);
  });
});
