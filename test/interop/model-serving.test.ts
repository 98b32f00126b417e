/**
 * The bundled model as MLflow users use it, and tweetlake scoring through model servers, all real:
 * MLflow's Python client predicts on text from the model folder and from `models:/…/Production` on a
 * real `mlflow server`; PySpark runs the original notebook's `spark_udf` cell over tweetlake's silver
 * table and gets tweetlake's gold labels and scores; `mlflow models serve` and MLServer (Open
 * Inference Protocol v2, `mlserver-mlflow` runtime) serve it, and tweetlake's gold stage runs against
 * each, also through a server killed in the middle of a batch.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../src/delta/index.js';
import { DuckSession } from '../../src/duck/session.js';
import { BatchFailedRepeatedly, StreamingQueryException } from '../../src/engine/query.js';
import { bundledModelDir, DEFAULT_MODEL_NAME } from '../../src/model/bundled.js';
import type { Classifier } from '../../src/model/classifier.js';
import { loadClassifier } from '../../src/model/load.js';
import { ModelServerClassifier, ModelServerUnreachable } from '../../src/model/model-server-classifier.js';
import { RestModelRegistry } from '../../src/model/rest-registry.js';
import { bundledSampleDir } from '../../src/pipeline/config.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { MlflowHttpClient } from '../../src/tracking/index.js';
import { pythonBin, runPythonJson, tempDir } from './helpers.js';
import { freePort, LoopbackServer } from './servers.js';

const CLI = nodePath.resolve('dist/cli/main.js');
/** Points of 0–100 within which two runtimes' scores of one text must agree (SPEC: 1e-4). */
const SCORE_TOLERANCE = 1e-4;

interface GoldRow {
  key: string;
  cleaned_text: string | null;
  label: string;
  score: number;
}
interface PyPredict {
  loader_module: string;
  signature: { inputs: unknown; outputs: unknown };
  dataframe: { columns: string[]; labels: string[]; scores: number[] };
  list: { columns: string[]; labels: string[]; scores: number[] };
  series: { columns: string[]; labels: string[]; scores: number[] };
}

let work: string;
let source: string;
let session: DuckSession;
let pool: Classifier;
let reference: GoldRow[];
let referenceRoot: string;
const servers: LoopbackServer[] = [];

const TEXTS = [
  'I love this airline, the crew was amazing!',
  'worst flight ever, three hours late and no food',
  'the flight leaves at 5pm from gate B12',
  '',
  '😡😡😡',
  'thanks for the quick rebooking, great service',
  // longer than max_length (128 tokens): Node and Python must truncate alike (the closing [SEP] kept)
  `${'three hours on the tarmac and not a word from anyone, '.repeat(12)}then the crew was lovely`,
  Array.from({ length: 150 }, (_, i) => `😡 flight ${i} cancelled`).join(' '),
];

async function goldRows(root: string): Promise<GoldRow[]> {
  const t = await DeltaTable.forPath(nodePath.join(root, 'gold'), session);
  const plan = await t.scan();
  try {
    const rows = await session.all(
      `SELECT CAST("timestamp" AS VARCHAR) || '|' || coalesce(mention, '∅') || '|' || coalesce(cleaned_text, '∅') AS key,
         cleaned_text, predicted_sentiment AS label, predicted_score AS score FROM (${plan.sql}) ORDER BY key, label, score`,
    );
    return rows.map((r) => ({
      key: String(r.key),
      cleaned_text: r.cleaned_text === null ? null : String(r.cleaned_text),
      label: String(r.label),
      score: Number(r.score),
    }));
  } finally {
    await plan.dispose();
  }
}

/** The same rows as the reference run (none lost, none twice), the same labels, scores within tolerance. */
function expectSameGold(got: GoldRow[], what: string): void {
  expect(
    got.map((r) => r.key),
    `${what}: gold rows`,
  ).toEqual(reference.map((r) => r.key));
  expect(
    got.map((r) => r.label),
    `${what}: labels`,
  ).toEqual(reference.map((r) => r.label));
  const worst = Math.max(...got.map((r, i) => Math.abs(r.score - reference[i]!.score)));
  expect(worst, `${what}: largest score difference (points)`).toBeLessThanOrEqual(SCORE_TOLERANCE);
}

async function runPipeline(
  root: string,
  classifier: Classifier,
  onInference?: (done: number, total: number) => void,
): Promise<void> {
  await new Pipeline({
    root,
    source,
    session,
    classifier: async () => classifier,
    maxFilesPerTrigger: 1,
    inferenceBatchSize: 24,
    ...(onInference ? { onInference } : {}),
  }).run();
}

/** A folder holding a `uvicorn` command that runs `python -m uvicorn` with the suite's interpreter. */
function uvicornShim(): string {
  const dir = nodePath.join(work, 'bin');
  mkdirSync(dir, { recursive: true });
  writeFileSync(nodePath.join(dir, 'uvicorn'), `#!/bin/sh\nexec "${pythonBin()}" -m uvicorn "$@"\n`, {
    mode: 0o755,
  });
  return dir;
}

function started(server: LoopbackServer): LoopbackServer {
  servers.push(server);
  return server;
}

beforeAll(async () => {
  work = await tempDir('serving');
  source = nodePath.join(work, 'source');
  mkdirSync(source);
  const lines = readFileSync(nodePath.join(bundledSampleDir(), 'tweets-001.json'), 'utf8').trim().split('\n');
  for (let k = 0; k < 6; k++)
    writeFileSync(
      nodePath.join(source, `part-${k}.json`),
      lines.slice(k * 80, (k + 1) * 80).join('\n') + '\n',
    );
  session = await DuckSession.create({ threads: 2 });
  pool = await loadClassifier({ uri: bundledModelDir(), dir: bundledModelDir(), name: DEFAULT_MODEL_NAME });
  referenceRoot = nodePath.join(work, 'lake-local');
  await runPipeline(referenceRoot, pool);
  reference = await goldRows(referenceRoot);
}, 600_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  await pool?.close();
  session?.close();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

function expectLikePool(py: PyPredict['dataframe'], want: { label: string; score: number }[]): void {
  expect(py.columns).toEqual(['label', 'score']);
  expect(py.labels).toEqual(want.map((p) => p.label));
  py.scores.forEach((s, i) =>
    expect(Math.abs(s * 100 - want[i]!.score)).toBeLessThanOrEqual(SCORE_TOLERANCE),
  );
}

describe('the bundled model in MLflow and Spark', () => {
  it('MLflow’s Python client loads the folder and predicts on text (DataFrame, list, Series) as tweetlake does', async () => {
    const py = await runPythonJson<PyPredict>('pyfunc_check.py', {
      op: 'predict',
      model_uri: bundledModelDir(),
      texts: TEXTS,
    });
    expect(py.loader_module).toBe('tweet_sentiment');
    expect(py.signature.inputs).toEqual([{ type: 'string', required: true }]);
    expect(py.signature.outputs).toEqual([
      { type: 'string', name: 'label', required: true },
      { type: 'double', name: 'score', required: true },
    ]);
    const want = await pool.classify(TEXTS);
    for (const form of [py.dataframe, py.list, py.series]) expectLikePool(form, want);
  });

  it('a real mlflow server serves it as models:/HF_TWEET_SENTIMENT/Production, and PySpark’s spark_udf over silver gives tweetlake’s gold', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await started(
      new LoopbackServer({
        command: pythonBin(),
        args: [
          '-m',
          'mlflow',
          'server',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--workers',
          '1',
          '--backend-store-uri',
          `sqlite:///${nodePath.join(work, 'mlflow.db')}`,
          '--artifacts-destination',
          nodePath.join(work, 'artifacts'),
        ],
        healthUrl: `${url}/health`,
        logFile: nodePath.join(work, 'mlflow-server.log'),
      }),
    ).start();
    const registry = new RestModelRegistry(new MlflowHttpClient({ baseUrl: url }));
    const v = await registry.createVersion(DEFAULT_MODEL_NAME, bundledModelDir());
    await registry.transitionStage(DEFAULT_MODEL_NAME, v.version, 'Production');

    const py = await runPythonJson<PyPredict>('pyfunc_check.py', {
      op: 'predict',
      model_uri: `models:/${DEFAULT_MODEL_NAME}/Production`,
      tracking_uri: url,
      texts: TEXTS,
    });
    expectLikePool(py.dataframe, await pool.classify(TEXTS));

    const spark = await runPythonJson<{ rows: [string | null, string, number][]; silver_rows: number }>(
      'pyfunc_check.py',
      {
        op: 'spark_udf',
        model_uri: `models:/${DEFAULT_MODEL_NAME}/Production`,
        tracking_uri: url,
        silver: nodePath.join(referenceRoot, 'silver'),
      },
    );
    expect(spark.silver_rows).toBe(reference.length);
    const gold = new Map(reference.map((r) => [r.cleaned_text, r]));
    expect(spark.rows.length).toBe(gold.size);
    let worst = 0;
    for (const [text, label, score] of spark.rows) {
      const g = gold.get(text)!;
      expect([text, label]).toEqual([text, g.label]);
      worst = Math.max(worst, Math.abs(score * 100 - g.score));
    }
    expect(worst).toBeLessThanOrEqual(SCORE_TOLERANCE);
  });
});

describe('gold through model servers', () => {
  let serve: LoopbackServer;
  let serveUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    serveUrl = `http://127.0.0.1:${port}`;
    serve = started(
      new LoopbackServer({
        command: pythonBin(),
        args: [
          '-m',
          'mlflow',
          'models',
          'serve',
          '-m',
          bundledModelDir(),
          '--env-manager',
          'local',
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-w',
          '1',
        ],
        healthUrl: `${serveUrl}/ping`,
        logFile: nodePath.join(work, 'models-serve.log'),
        // `mlflow models serve` starts `uvicorn` by name (bash -c 'exec uvicorn …'): put one on PATH that
        // runs the suite's interpreter, as an activated venv would (a venv may lack the console script)
        env: { PATH: `${uvicornShim()}${nodePath.delimiter}${process.env.PATH ?? ''}` },
      }),
    );
    await serve.start();
  }, 300_000);

  it('`mlflow models serve` answers POST /invocations with text in (dataframe_split and inputs)', async () => {
    const want = await pool.classify(TEXTS);
    for (const body of [
      { dataframe_split: { columns: ['text'], data: TEXTS.map((t) => [t]) } },
      { inputs: TEXTS },
    ]) {
      const res = await fetch(`${serveUrl}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      const j = (await res.json()) as { predictions: { label: string; score: number }[] };
      expect(j.predictions.map((p) => p.label)).toEqual(want.map((p) => p.label));
      j.predictions.forEach((p, i) =>
        expect(Math.abs(p.score * 100 - want[i]!.score)).toBeLessThanOrEqual(SCORE_TOLERANCE),
      );
    }
  });

  it('`tweetlake run --model mlflow+http://…` scores through `mlflow models serve`: the gold of local workers', async () => {
    const root = nodePath.join(work, 'lake-serve');
    const run = spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        '--root',
        root,
        '--source',
        source,
        '--max-files-per-trigger',
        '1',
        '--model',
        `mlflow+${serveUrl}`,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, MLFLOW_TRACKING_URI: '', TWEETLAKE_MODEL_TOKEN: 'not-printed-9f3a' },
      },
    );
    const out = `${run.stdout}\n${run.stderr}`;
    expect(run.status, out).toBe(0);
    expect(out).toContain(`model server mlflow+${serveUrl}`);
    expect(out).not.toContain('not-printed-9f3a');
    expectSameGold(await goldRows(root), 'mlflow models serve');
  });

  it('a server killed in the middle of a gold batch and restarted: the requests are retried, nothing is lost or doubled', async () => {
    const c = await ModelServerClassifier.open({
      uri: `mlflow+${serveUrl}`,
      batchSize: 8,
      maxAttempts: 200,
      backoffMs: 100,
      backoffCapMs: 1000,
    });
    const root = nodePath.join(work, 'lake-serve-restart');
    let chunks = 0;
    let restarted: Promise<void> | undefined;
    await runPipeline(root, c, () => {
      if (++chunks !== 3) return;
      // the next chunk's requests go out now: kill the server under them, bring it back a moment later
      restarted = (async () => {
        await new Promise((r) => setTimeout(r, 20));
        await serve.kill();
        await new Promise((r) => setTimeout(r, 500));
        await serve.start();
      })();
    });
    await restarted;
    expect(c.stats.retries).toBeGreaterThan(0);
    expectSameGold(await goldRows(root), 'killed and restarted');
  });

  it('a server killed and not back: the gold stream stops with a clear error, and a rerun later completes the same gold', async () => {
    const root = nodePath.join(work, 'lake-serve-down');
    const failing = await ModelServerClassifier.open({
      uri: `mlflow+${serveUrl}`,
      batchSize: 8,
      maxAttempts: 3,
      backoffMs: 50,
      backoffCapMs: 100,
    });
    let chunks = 0;
    const err = await runPipeline(root, failing, () => {
      if (++chunks === 2) void serve.kill();
    }).catch((e: unknown) => e);
    // the engine retried the batch (3 attempts) before giving up: the cause names the server
    expect(err).toBeInstanceOf(StreamingQueryException);
    const gaveUp = (err as Error).cause;
    expect(gaveUp).toBeInstanceOf(BatchFailedRepeatedly);
    expect((gaveUp as Error).cause).toBeInstanceOf(ModelServerUnreachable);
    expect((err as Error).message).toMatch(
      /gold_stream.*cannot reach the model server mlflow\+http:\/\/127\.0\.0\.1:\d+ after 3 tries/,
    );
    await serve.start();
    await runPipeline(root, await ModelServerClassifier.open({ uri: `mlflow+${serveUrl}`, batchSize: 8 }));
    expectSameGold(await goldRows(root), 'rerun after the server came back');
  });
});

describe('gold through MLServer (Open Inference Protocol v2)', () => {
  it('MLServer with the mlserver-mlflow runtime serves the model over OIP v2, and gold through it is the gold of local workers', async () => {
    const mlserverBin = process.env.TWEETLAKE_MLSERVER;
    if (!mlserverBin)
      throw new Error('TWEETLAKE_MLSERVER is not set: run the suite with `npm run test:interop`');
    const dir = nodePath.join(work, 'mlserver');
    mkdirSync(dir);
    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      nodePath.join(dir, 'settings.json'),
      JSON.stringify({
        host: '127.0.0.1',
        http_port: http,
        grpc_port: grpc,
        metrics_port: metrics,
        parallel_workers: 0,
      }),
    );
    writeFileSync(
      nodePath.join(dir, 'model-settings.json'),
      JSON.stringify({
        name: 'hf-tweet-sentiment',
        implementation: 'mlserver_mlflow.MLflowRuntime',
        parameters: { uri: bundledModelDir(), version: '1' },
      }),
    );
    const url = `http://127.0.0.1:${http}`;
    await started(
      new LoopbackServer({
        command: mlserverBin,
        args: ['start', dir],
        healthUrl: `${url}/v2/models/hf-tweet-sentiment/ready`,
        logFile: nodePath.join(work, 'mlserver.log'),
      }),
    ).start();
    const c = await ModelServerClassifier.open({
      uri: `oip+${url}/v2/models/hf-tweet-sentiment/versions/1`,
      batchSize: 8,
    });
    expect(c.info).toMatchObject({ name: 'hf-tweet-sentiment', version: '1' });
    const want = await pool.classify(TEXTS);
    const got = await c.classify(TEXTS);
    expect(got.map((p) => p.label)).toEqual(want.map((p) => p.label));
    const root = nodePath.join(work, 'lake-mlserver');
    await runPipeline(root, c);
    expectSameGold(await goldRows(root), 'MLServer');
  });
});
