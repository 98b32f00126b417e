/**
 * MLflow interop: a real `mlflow server` (SQLite backend, artifact proxy) receives tweetlake's runs
 * and serves its registry, and MLflow's own Python client reads them back; tweetlake reads what the
 * Python client registered; the local file store tweetlake writes opens in MLflow (and migrates to
 * SQLite with `mlflow migrate-filestore`), as docs/mlflow.md says.
 */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileModelRegistry } from '../../src/model/file-registry.js';
import { listLocalFiles, LocalObjectStore } from '../../src/storage/local-store.js';
import { resolveModel } from '../../src/model/resolve.js';
import { RestModelRegistry } from '../../src/model/rest-registry.js';
import {
  FileTrackingStore,
  MlflowHttpClient,
  RestTrackingStore,
  type TrackingStore,
} from '../../src/tracking/index.js';
import { writeFakeMlflowModel } from '../unit/model/fixtures.js';
import { pyFloatRepr, pythonBin, runPythonJson, tempDir } from './helpers.js';
import { freePort, LoopbackServer } from './servers.js';

const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

interface PyRun {
  run_id: string;
  experiment_name: string;
  run_name: string;
  status: string;
  start_time: number;
  end_time: number;
  metrics: Record<string, string>;
  params: Record<string, string>;
  tags: Record<string, string>;
  history: Record<string, [number, number, string][]>;
  artifacts: { path: string; is_dir: boolean; file_size: number | null }[];
  artifact_sha256: Record<string, string>;
}
interface PyRegistry {
  name: string;
  aliases: Record<string, string>;
  versions: {
    version: string;
    current_stage: string;
    aliases: string[];
    run_id: string | null;
    status: string;
  }[];
  stage_version?: string | null;
  alias_version?: string;
  resolved: Record<string, { uri: string; sha256: Record<string, string> }>;
}

async function sha256Tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of await listLocalFiles(dir)) {
    out[rel] = createHash('sha256')
      .update(readFileSync(nodePath.join(dir, ...rel.split('/'))))
      .digest('hex');
  }
  return out;
}

let work: string;
let server: LoopbackServer | undefined;
let url: string;

/** A fresh folder inside this suite's work folder (removed in afterAll). */
function scratch(prefix: string): Promise<string> {
  return fs.mkdtemp(nodePath.join(work, `${prefix}-`));
}

beforeAll(async () => {
  work = await tempDir('mlflow');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  server = new LoopbackServer({
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
    logFile: nodePath.join(work, 'server.log'),
  });
  await server.start();
}, 300_000);

afterAll(async () => {
  await server?.stop(); // the server's process group: uvicorn and its worker
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/** Logs an evaluation-like run and a run with many metric points; what was logged, for comparing. */
async function logRuns(store: TrackingStore, scratch: string) {
  const exp = await store.getOrCreateExperiment('tweetlake-interop');
  expect((await store.getOrCreateExperiment('tweetlake-interop')).experimentId).toBe(exp.experimentId);
  const t0 = 1_790_000_000_000;
  const evalRun = await store.createRun(exp.experimentId, {
    runName: 'evaluation',
    tags: { 'tweetlake.table': 'gold' },
    startTime: t0,
  });
  await store.logBatch(evalRun.runId, {
    metrics: [
      { key: 'precision', value: 0.8125, timestamp: t0 + 1, step: 0 },
      { key: 'recall', value: 0.7, timestamp: t0 + 1, step: 0 },
      { key: 'f1', value: 0.752_066_115_702_479_3, timestamp: t0 + 1, step: 0 },
      { key: 'accuracy', value: 0.1 + 0.2, timestamp: t0 + 1, step: 0 },
      { key: 'per_class/NEG/f1', value: 1e-9, timestamp: t0 + 1, step: 0 },
    ],
    params: {
      model_name: 'HF_TWEET_SENTIMENT',
      model_version: '1',
      mlflow_client: 'tweetlake 0.1.0',
      silver_table_version: '7',
    },
    tags: { 'tweetlake.note': 'neutral counted as its own class' },
  });
  await fs.mkdir(nodePath.join(scratch, 'report', 'sub'), { recursive: true });
  const png = nodePath.join(scratch, 'confusion_matrix.png');
  await fs.writeFile(png, PNG_1X1);
  await fs.writeFile(nodePath.join(scratch, 'report', 'metrics.json'), '{"f1": 0.75}');
  await fs.writeFile(nodePath.join(scratch, 'report', 'sub', 'notes.txt'), 'per class');
  await store.logArtifact(evalRun.runId, png);
  await store.logArtifact(evalRun.runId, png, 'plots');
  await store.logArtifacts(evalRun.runId, nodePath.join(scratch, 'report'), 'report');
  await store.endRun(evalRun.runId, 'FINISHED', t0 + 5000);

  const bigRun = await store.createRun(exp.experimentId, { runName: 'many-metrics', startTime: t0 + 10 });
  const points = Array.from({ length: 2500 }, (_, i) => ({
    key: 'loss',
    value: 1 / (i + 1),
    timestamp: t0 + 10 + i,
    step: i,
  }));
  const params = Object.fromEntries(
    Array.from({ length: 150 }, (_, i) => [`p${String(i).padStart(3, '0')}`, `v${i}`]),
  );
  await store.logBatch(bigRun.runId, { metrics: points, params });
  await store.endRun(bigRun.runId, 'FINISHED', t0 + 9000);
  return { exp, evalRun, bigRun, points, params, png };
}

/** Checks Python's view of the two runs against tweetlake's own view and what was logged. */
async function checkRuns(store: TrackingStore, logged: Awaited<ReturnType<typeof logRuns>>, py: PyRun[]) {
  const [pe, pb] = py as [PyRun, PyRun];
  const ours = await store.getRun(logged.evalRun.runId);
  expect(pe.run_id).toBe(logged.evalRun.runId);
  expect(pe.experiment_name).toBe('tweetlake-interop');
  expect([pe.run_name, pe.status, pe.start_time, pe.end_time]).toEqual([
    'evaluation',
    'FINISHED',
    ours.info.startTime,
    ours.info.endTime,
  ]);
  expect(pe.metrics).toEqual(
    Object.fromEntries(Object.entries(ours.data.metrics).map(([k, v]) => [k, pyFloatRepr(v)])),
  );
  expect(pe.metrics.accuracy).toBe('0.30000000000000004');
  expect(pe.params).toEqual(ours.data.params);
  expect(pe.tags).toEqual(ours.data.tags);
  expect(pe.tags).toMatchObject({
    'mlflow.runName': 'evaluation',
    'mlflow.source.type': 'LOCAL',
    'tweetlake.table': 'gold',
  });
  expect(pe.tags['mlflow.user']).toBeTruthy();
  expect(pe.tags['mlflow.source.name']).toBeTruthy();
  expect(
    pe.artifacts
      .filter((a) => !a.is_dir)
      .map((a) => a.path)
      .sort(),
  ).toEqual(
    [
      'confusion_matrix.png',
      'plots/confusion_matrix.png',
      'report/metrics.json',
      'report/sub/notes.txt',
    ].sort(),
  );
  const pngSha = createHash('sha256').update(PNG_1X1).digest('hex');
  expect(pe.artifact_sha256['confusion_matrix.png']).toBe(pngSha);
  expect(pe.artifact_sha256['plots/confusion_matrix.png']).toBe(pngSha);
  expect(Object.keys(pe.artifact_sha256).length).toBe(4);

  expect(pb.history.loss!.length).toBe(2500);
  expect(pb.history.loss!.map(([step, ts, v]) => [step, ts, v])).toEqual(
    logged.points.map((p) => [p.step, p.timestamp, pyFloatRepr(p.value)]),
  );
  expect(pb.params).toEqual(logged.params);
  expect(pb.metrics.loss).toBe(pyFloatRepr(1 / 2500));
  expect((await store.getMetricHistory(logged.bigRun.runId, 'loss')).length).toBe(2500);
  // and tweetlake reads its artifacts back too
  const dl = await store.downloadArtifacts(
    logged.evalRun.runId,
    'plots/confusion_matrix.png',
    nodePath.join(work, `dl-${logged.evalRun.runId}`),
  );
  expect(readFileSync(dl).equals(PNG_1X1)).toBe(true);
  const latest = await store.searchRuns(logged.exp.experimentId, { maxResults: 1 });
  expect(latest[0]?.info.runId).toBe(logged.bigRun.runId);
}

describe('tweetlake → a real MLflow server', () => {
  it("logs runs, metrics (also > 1000 in one batch), params, tags and artifacts that MLflow's Python client reads back identically", async () => {
    const store = new RestTrackingStore(new MlflowHttpClient({ baseUrl: url }));
    const logged = await logRuns(store, await scratch('scratch'));
    const py = await runPythonJson<{ mlflow_version: string; runs: PyRun[] }>('mlflow_check.py', {
      op: 'read_runs',
      tracking_uri: url,
      run_ids: [logged.evalRun.runId, logged.bigRun.runId],
      history_keys: ['loss'],
      download_dir: nodePath.join(work, 'py-runs'),
    });
    expect(py.mlflow_version).toMatch(/^3\./);
    await checkRuns(store, logged, py.runs);
  });

  it('registers and promotes a model (stage + alias) that MLflow resolves and downloads', async () => {
    const registry = new RestModelRegistry(new MlflowHttpClient({ baseUrl: url }));
    const modelDir = writeFakeMlflowModel(await scratch('model'), 'ours');
    const v1 = await registry.createVersion('HF_TWEET_SENTIMENT', modelDir, { description: 'interop' });
    const v2 = await registry.createVersion('HF_TWEET_SENTIMENT', modelDir);
    await registry.transitionStage('HF_TWEET_SENTIMENT', v1.version, 'Production');
    await registry.transitionStage('HF_TWEET_SENTIMENT', v2.version, 'Production', true);
    await registry.setAlias('HF_TWEET_SENTIMENT', 'production', v2.version);
    const ours = (await registry.getModel('HF_TWEET_SENTIMENT'))!;
    expect(ours.versions.map((v) => [v.version, v.currentStage, v.aliases])).toEqual([
      ['1', 'Archived', []],
      ['2', 'Production', ['production']],
    ]);
    const py = await runPythonJson<PyRegistry>('mlflow_check.py', {
      op: 'read_registry',
      tracking_uri: url,
      name: 'HF_TWEET_SENTIMENT',
      stage: 'Production',
      alias: 'production',
      download_dir: nodePath.join(work, 'py-registry'),
    });
    expect(py.stage_version).toBe('2');
    expect(py.alias_version).toBe('2');
    expect(py.versions.map((v) => [v.version, v.current_stage, v.status]).sort()).toEqual([
      ['1', 'Archived', 'READY'],
      ['2', 'Production', 'READY'],
    ]);
    const want = await sha256Tree(modelDir);
    expect(py.resolved.stage!.sha256).toEqual(want);
    expect(py.resolved.alias!.sha256).toEqual(want);
    const cache = nodePath.join(work, 'model-cache');
    const resolved = await resolveModel('models:/HF_TWEET_SENTIMENT@production', registry, cache);
    expect(await sha256Tree(resolved.dir)).toEqual(want);
  });

  it("downloads versions that MLflow's Python client registered (a run artifact, and an MLflow 3 logged model)", async () => {
    const registry = new RestModelRegistry(new MlflowHttpClient({ baseUrl: url }));
    const modelDir = writeFakeMlflowModel(await scratch('pymodel'), 'from-python');
    const py = await runPythonJson<{ version: string; sha256: Record<string, string> }>('mlflow_check.py', {
      op: 'register',
      tracking_uri: url,
      name: 'PY_MODEL',
      model_dir: modelDir,
      alias: 'champion',
      stage: 'Staging',
    });
    const cache = nodePath.join(work, 'py-model-cache');
    for (const uri of [
      'models:/PY_MODEL@champion',
      'models:/PY_MODEL/Staging',
      `models:/PY_MODEL/${py.version}`,
    ]) {
      const r = await resolveModel(uri, registry, cache);
      expect([uri, r.version]).toEqual([uri, py.version]);
      expect(await sha256Tree(r.dir)).toEqual(py.sha256);
    }
    const logged = await runPythonJson<{ version: string; source: string; sha256: Record<string, string> }>(
      'mlflow_check.py',
      {
        op: 'register_pyfunc',
        tracking_uri: url,
        name: 'PY_PYFUNC',
        alias: 'latest-good',
      },
    );
    const r = await resolveModel('models:/PY_PYFUNC@latest-good', registry, cache);
    expect(await sha256Tree(r.dir)).toEqual(logged.sha256);
    expect(Object.keys(logged.sha256)).toContain('MLmodel');
    expect(logged.source).toMatch(/^models:\/m-/); // an MLflow 3 logged model, not a run artifact
  });
});

describe('the local store tweetlake writes, opened by MLflow', () => {
  it('shows the same runs, metrics, params, model versions, stages and aliases (file store, and after migrate-filestore to SQLite)', async () => {
    const lake = await scratch('lake');
    const mlruns = nodePath.join(lake, 'mlruns');
    const store = new FileTrackingStore(new LocalObjectStore(mlruns));
    const logged = await logRuns(store, await scratch('lake-scratch'));
    const registry = new FileModelRegistry(new LocalObjectStore(mlruns));
    const modelDir = writeFakeMlflowModel(await scratch('lake-model'), 'lake');
    await registry.createVersion('HF_TWEET_SENTIMENT', modelDir, { runId: logged.evalRun.runId });
    await registry.createVersion('HF_TWEET_SENTIMENT', modelDir);
    await registry.transitionStage('HF_TWEET_SENTIMENT', '1', 'Production');
    await registry.transitionStage('HF_TWEET_SENTIMENT', '2', 'Production', true);
    await registry.setAlias('HF_TWEET_SENTIMENT', 'production', '2');
    await registry.setAlias('HF_TWEET_SENTIMENT', 'previous', '1');
    const want = await sha256Tree(modelDir);

    const check = async (trackingUri: string, label: string) => {
      const env = { MLFLOW_ALLOW_FILE_STORE: 'true' };
      const runs = await runPythonJson<{ runs: PyRun[] }>('mlflow_check.py', {
        op: 'read_runs',
        env,
        tracking_uri: trackingUri,
        run_ids: [logged.evalRun.runId, logged.bigRun.runId],
        history_keys: ['loss'],
        download_dir: nodePath.join(lake, `py-${label}`),
      });
      await checkRuns(store, logged, runs.runs);
      const reg = await runPythonJson<PyRegistry>('mlflow_check.py', {
        op: 'read_registry',
        env,
        tracking_uri: trackingUri,
        name: 'HF_TWEET_SENTIMENT',
        stage: 'Production',
        alias: 'production',
        download_dir: nodePath.join(lake, `py-reg-${label}`),
      });
      expect(reg.aliases).toEqual({ production: '2', previous: '1' });
      expect(reg.versions.map((v) => [v.version, v.current_stage, v.aliases]).sort()).toEqual([
        ['1', 'Archived', ['previous']],
        ['2', 'Production', ['production']],
      ]);
      expect(reg.versions.find((v) => v.version === '1')?.run_id).toBe(logged.evalRun.runId);
      expect([reg.stage_version, reg.alias_version]).toEqual(['2', '2']);
      expect(reg.resolved.stage!.sha256).toEqual(want);
      expect(reg.resolved.alias!.sha256).toEqual(want);
    };
    await check(mlruns, 'file');

    // docs/mlflow.md: `mlflow migrate-filestore --source <lakehouse>/mlruns --target sqlite:///<lakehouse>/mlflow.db`
    const db = nodePath.join(lake, 'mlflow.db');
    const mig = await runPythonJson<{ returncode: number; stdout: string; stderr: string }>(
      'mlflow_check.py',
      {
        op: 'migrate',
        source: mlruns,
        target: `sqlite:///${db}`,
      },
    );
    expect(mig.returncode, mig.stderr).toBe(0);
    await check(`sqlite:///${db}`, 'sqlite');
  });
});
