/**
 * tweetlake's side of the side-by-side benchmark: the medallion pipeline as `tweetlake run` runs it
 * (Pipeline, sequential orchestration, availableNow per stream), with either the bundled model or the
 * benchmark fixture labeller in the gold slot. Run by bench/main.ts in its own process (plain node on
 * a transpiled copy, importing the compiled package from dist/, as users run the CLI).
 *
 *   node medallion.js --source DIR --work DIR [--max-files-per-trigger 10] [--iterations 2]
 *                     [--model] [--batch-size 32] [--check] [--keep] [--duckdb-memory-limit 1GB]
 *                     [--orchestration sequential|concurrent] [--batches]
 *
 * Iteration 1 runs in the fresh process (cold); later iterations reuse it (warm: DuckDB, JIT, the
 * model's workers). Events go to stdout as lines `@@bench {json}`; --batches adds one per micro-batch
 * (its phases' durations), to see where a long run's time grows.
 */
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { DuckSession } from '../../dist/duck/session.js';
import { defaultConfig } from '../../dist/pipeline/config.js';
import { DeltaTable } from '../../dist/delta/table.js';
import { Pipeline } from '../../dist/pipeline/pipeline.js';
import { STREAM_NAMES, lakehousePaths, type StreamName } from '../../dist/pipeline/paths.js';
import type { Classifier } from '../../dist/model/classifier.js';
import { bundledModelDir } from '../../dist/model/bundled.js';
import { loadClassifier } from '../../dist/model/load.js';
import { LengthFixtureLabeller } from './fixture-labeller.js';

const STAGE_OF: Record<StreamName, string> = {
  bronze_stream: 'bronze',
  silver_stream: 'silver',
  gold_stream: 'gold',
  application_stream: 'application',
};

function emit(ev: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`@@bench ${JSON.stringify({ ev, ...fields })}\n`);
}

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function countFiles(dir: string): { files: number; parquet: number } {
  let files = 0;
  let parquet = 0;
  try {
    for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      files++;
      if (e.name.endsWith('.parquet')) parquet++;
    }
  } catch {
    // a stage that wrote nothing
  }
  return { files, parquet };
}

/** What each stage reports per iteration; the Spark side (bench/spark/medallion.py) emits the same. */
export interface StageFigures {
  ms: number;
  batches: number;
  inputRows: number;
  batchMs: number;
  files: number;
  parquet: number;
  checkpointFiles: number;
  metrics?: Record<string, number>;
}

async function runOnce(
  root: string,
  session: DuckSession,
  classifier: () => Promise<Classifier>,
): Promise<Record<string, StageFigures>> {
  const starts = new Map<StreamName, number>();
  const figures = new Map<
    StreamName,
    { batches: number; inputRows: number; batchMs: number; metrics: Record<string, number> }
  >();
  const pipeline = new Pipeline({
    root,
    source: opt('source', ''),
    session,
    orchestration: opt('orchestration', 'sequential') === 'concurrent' ? 'concurrent' : 'sequential',
    pollIntervalMs: 100,
    trigger: 'available-now',
    maxFilesPerTrigger: Number(opt('max-files-per-trigger', '10')),
    inferenceBatchSize: 1024, // what `tweetlake run` passes
    classifier,
    onStreamStart: (s) => {
      starts.set(s, performance.now());
      emit('stage-start', { stage: s });
    },
    onProgress: (s, p) => {
      const f = figures.get(s) ?? { batches: 0, inputRows: 0, batchMs: 0, metrics: {} };
      f.batches++;
      f.inputRows += p.numInputRows;
      f.batchMs += p.durationMs.triggerExecution;
      for (const [k, v] of Object.entries(p.metrics)) f.metrics[k] = (f.metrics[k] ?? 0) + v;
      figures.set(s, f);
      if (flag('batches')) {
        // queued on the session after the batch's statements: what DuckDB holds between batches
        void Promise.all([
          session.all(
            `SELECT tag, memory_usage_bytes AS b FROM duckdb_memory() WHERE memory_usage_bytes > 0`,
          ),
          session.all(`SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'tweetlake_work'`),
        ]).then(([mem, [tables]]) =>
          emit('batch', {
            stage: s,
            batchId: p.batchId,
            rows: p.numInputRows,
            ms: p.durationMs,
            duckdbMemory: Object.fromEntries(mem.map((r) => [r.tag, Number(r.b)])),
            scratchTables: Number(tables?.n),
          }),
        );
      }
    },
  });
  await pipeline.run();
  const end = performance.now();
  const paths = lakehousePaths(root);
  const out: Record<string, StageFigures> = {};
  STREAM_NAMES.forEach((s, i) => {
    const next = STREAM_NAMES[i + 1];
    const stop = next ? starts.get(next)! : end;
    const f = figures.get(s) ?? { batches: 0, inputRows: 0, batchMs: 0, metrics: {} };
    const stage = STAGE_OF[s];
    const table = countFiles(paths.tables[stage as 'bronze']);
    const checkpoint = countFiles(paths.checkpoints[s]);
    const quarantine = s === 'bronze_stream' ? countFiles(paths.tables.quarantine) : { files: 0, parquet: 0 };
    out[stage] = {
      ms: stop - starts.get(s)!,
      batches: f.batches,
      inputRows: f.inputRows,
      batchMs: f.batchMs,
      files: table.files + quarantine.files + checkpoint.files,
      parquet: table.parquet + quarantine.parquet,
      checkpointFiles: checkpoint.files,
      ...(Object.keys(f.metrics).length ? { metrics: f.metrics } : {}),
    };
  });
  return out;
}

/** Untimed: the figures of each table that both systems must agree on (the runner compares them). */
async function check(root: string, session: DuckSession): Promise<Record<string, Record<string, unknown>>> {
  // count(DISTINCT text) over 10M rows does not fit the run's DuckDB limit (512 MB by default): the
  // check, untimed and not part of the pipeline, runs with room, and the run's limit comes back after
  const limit = await session.memoryLimit();
  await session.run(`SET memory_limit = '8GB'`);
  try {
    return await checkFigures(root, session);
  } finally {
    if (limit) await session.run(`SET memory_limit = '${limit}'`);
  }
}

async function checkFigures(
  root: string,
  session: DuckSession,
): Promise<Record<string, Record<string, unknown>>> {
  const paths = lakehousePaths(root);
  const one = async (table: 'bronze' | 'silver' | 'gold' | 'application', select: string) => {
    const t = await DeltaTable.forPath(paths.tables[table], session);
    const plan = await t.scan();
    try {
      const [row] = await session.all(`SELECT ${select} FROM (${plan.sql})`);
      return Object.fromEntries(
        Object.entries(row ?? {}).map(([k, v]) => [k, v === null ? null : String(v)]),
      );
    } finally {
      await plan.dispose();
    }
  };
  const epoch = (c: string) => `CAST(epoch(${c}) AS BIGINT)`;
  return {
    bronze: await one('bronze', `count(*) AS rows, count(DISTINCT text) AS texts`),
    silver: await one(
      'silver',
      `count(*) AS rows, count(mention) AS mentions, count(DISTINCT mention) AS handles, count("timestamp") AS timestamps,
       CAST(sum(${epoch('"timestamp"')}) AS VARCHAR) AS ts_sum, CAST(sum(strlen(cleaned_text)) AS VARCHAR) AS text_bytes`,
    ),
    gold: await one(
      'gold',
      `count(*) AS rows, count(*) FILTER (WHERE predicted_sentiment = 'NEG') AS neg, count(*) FILTER (WHERE predicted_sentiment = 'NEU') AS neu,
       count(*) FILTER (WHERE predicted_sentiment = 'POS') AS pos, count(sentiment_id) AS sentiment_ids`,
    ),
    application: await one(
      'application',
      `count(*) AS rows, CAST(sum(total) AS VARCHAR) AS total, CAST(sum(negative) AS VARCHAR) AS negative,
       CAST(sum(neutral) AS VARCHAR) AS neutral, CAST(sum(positive) AS VARCHAR) AS positive,
       CAST(sum(${epoch('min_timestamp')}) AS VARCHAR) AS min_ts_sum, CAST(sum(${epoch('max_timestamp')}) AS VARCHAR) AS max_ts_sum,
       CAST(sum(strlen(mention) * total) AS VARCHAR) AS weighted`,
    ),
  };
}

async function main(): Promise<void> {
  const work = opt('work', '');
  const iterations = Number(opt('iterations', '2'));
  const t0 = performance.now();
  // The CLI's default (src/pipeline/config.ts), unless the run says otherwise.
  const memoryLimit = opt('duckdb-memory-limit', defaultConfig().duckdb.memoryLimit ?? '');
  const session = await DuckSession.create(memoryLimit ? { memoryLimit } : {});
  let classifier: Promise<Classifier> | undefined;
  const get = (): Promise<Classifier> =>
    (classifier ??= flag('model')
      ? loadClassifier(
          { uri: 'bench:bundled', dir: opt('model-dir', bundledModelDir()), name: 'HF_TWEET_SENTIMENT' },
          { batchSize: Number(opt('batch-size', '32')) },
        )
      : Promise.resolve(new LengthFixtureLabeller()));
  const dist = new URL('../../dist/', import.meta.url); // the package's own node_modules are next to it
  const version = (p: string) =>
    (
      JSON.parse(readFileSync(new URL(`../node_modules/${p}/package.json`, dist), 'utf8')) as {
        version: string;
      }
    ).version;
  const [duck] = await session.all(`SELECT version() AS v`);
  emit('ready', {
    sessionMs: performance.now() - t0,
    versions: {
      node: process.version,
      duckdb: String(duck?.v),
      '@duckdb/node-api': version('@duckdb/node-api'),
      ...(flag('model')
        ? {
            'onnxruntime-node': version('onnxruntime-node'),
            '@huggingface/transformers': version('@huggingface/transformers'),
          }
        : {}),
    },
  });
  for (let i = 0; i < iterations; i++) {
    const root = nodePath.join(work, `iter-${i}`);
    await fs.rm(root, { recursive: true, force: true });
    emit('iter-start', { iter: i });
    const t1 = performance.now();
    const stages = await runOnce(root, session, get);
    emit('iter-end', { iter: i, ms: performance.now() - t1, stages });
    if (flag('check') && i === 0) emit('check', { iter: i, tables: await check(root, session) });
    if (!(flag('keep') && i === iterations - 1)) await fs.rm(root, { recursive: true, force: true });
  }
  if (classifier) await (await classifier).close();
  session.close();
  emit('done');
}

await main();
