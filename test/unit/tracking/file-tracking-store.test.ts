import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FileTrackingStore,
  InvalidTrackingInput,
  latestRun,
  TrackingNotFound,
  openTrackingStore,
  trackingChoice,
  RestTrackingStore,
} from '../../../src/tracking/index.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-tracking-');
afterAll(() => dirs.cleanup());

const yamlOf = (path: string) => parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('FileTrackingStore (MLflow file-store layout)', () => {
  it('creates the root with the Default experiment and .trash, as MLflow does', async () => {
    const store = new FileTrackingStore(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')));
    const e = await store.getOrCreateExperiment('tweetlake-evaluation');
    expect(yamlOf(nodePath.join(store.root, '0', 'meta.yaml'))).toMatchObject({
      experiment_id: '0',
      name: 'Default',
      lifecycle_stage: 'active',
    });
    expect(existsSync(nodePath.join(store.root, '.trash'))).toBe(true);
    expect(e.experimentId).toMatch(/^[1-9]\d{17}$/);
    expect(yamlOf(nodePath.join(store.root, e.experimentId, 'meta.yaml'))).toMatchObject({
      experiment_id: e.experimentId,
      name: 'tweetlake-evaluation',
      artifact_location: nodePath.join(store.root, e.experimentId),
    });
  });

  it('gets or creates experiments by name: once, also when many callers race', async () => {
    const root = nodePath.join(dirs.make(), 'mlruns');
    const stores = Array.from({ length: 8 }, () => new FileTrackingStore(new LocalObjectStore(root)));
    const got = await Promise.all(
      stores.map((s, i) => s.getOrCreateExperiment('shared', i === 0 ? { team: 'ml' } : {})),
    );
    expect(new Set(got.map((e) => e.experimentId)).size).toBe(1);
    const ids = (await fs.readdir(root)).filter((d) => /^\d+$/.test(d)).sort();
    expect(ids).toEqual(['0', got[0]!.experimentId].sort());
    expect(await stores[0]!.getExperimentByName('absent')).toBeUndefined();
  });

  it('creates a run with MLflow meta.yaml, system tags and folders', async () => {
    const store = new FileTrackingStore(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')));
    const e = await store.getOrCreateExperiment('x');
    const run = await store.createRun(e.experimentId, {
      runName: 'eval-1',
      tags: { 'tweetlake.stage': 'gold' },
      startTime: 1700000000000,
    });
    expect(run.runId).toMatch(/^[0-9a-f]{32}$/);
    const runDir = nodePath.join(store.root, e.experimentId, run.runId);
    expect(yamlOf(nodePath.join(runDir, 'meta.yaml'))).toMatchObject({
      run_id: run.runId,
      run_uuid: run.runId,
      run_name: 'eval-1',
      experiment_id: e.experimentId,
      status: 1,
      start_time: 1700000000000,
      lifecycle_stage: 'active',
      artifact_uri: nodePath.join(runDir, 'artifacts'),
    });
    for (const d of ['metrics', 'params', 'tags', 'artifacts'])
      expect(existsSync(nodePath.join(runDir, d))).toBe(true);
    const tags = (await store.getRun(run.runId)).data.tags;
    expect(tags).toMatchObject({
      'mlflow.runName': 'eval-1',
      'mlflow.source.type': 'LOCAL',
      'tweetlake.stage': 'gold',
    });
    expect(tags['mlflow.user']).toBeTruthy();
    expect(tags['mlflow.source.name']).toBeTruthy();
  });

  it('logs metrics (history and latest), params, tags; ends the run', async () => {
    const store = new FileTrackingStore(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')));
    const e = await store.getOrCreateExperiment('x');
    const run = await store.createRun(e.experimentId);
    await store.logBatch(run.runId, {
      metrics: [
        { key: 'f1', value: 0.5, timestamp: 1000, step: 0 },
        { key: 'f1', value: 0.75, timestamp: 1001, step: 1 },
        { key: 'f1', value: 0.25, timestamp: 999, step: 1 },
        { key: 'per_class/POS/recall', value: 1e-7, timestamp: 1000, step: 0 },
        { key: 'bad', value: NaN, timestamp: 1000, step: 0 },
      ],
      params: { model_name: 'HF_TWEET_SENTIMENT', model_version: '1', silver_version: '12' },
      tags: { note: 'multi\nline' },
    });
    const runDir = nodePath.join(store.root, e.experimentId, run.runId);
    expect(readFileSync(nodePath.join(runDir, 'metrics', 'f1'), 'utf8')).toBe(
      '1000 0.5 0\n1001 0.75 1\n999 0.25 1\n',
    );
    expect(readFileSync(nodePath.join(runDir, 'params', 'model_version'), 'utf8')).toBe('1');
    expect(existsSync(nodePath.join(runDir, 'metrics', 'per_class', 'POS', 'recall'))).toBe(true);
    await store.setTag(run.runId, 'mlflow.runName', 'renamed');
    await store.endRun(run.runId, 'FINISHED', 5000);
    const got = await store.getRun(run.runId);
    expect(got.info).toMatchObject({ status: 'FINISHED', endTime: 5000, runName: 'renamed' });
    expect(got.data.metrics).toMatchObject({ f1: 0.75, 'per_class/POS/recall': 1e-7 });
    expect(got.data.metrics.bad).toBeNaN();
    expect(got.data.params).toEqual({
      model_name: 'HF_TWEET_SENTIMENT',
      model_version: '1',
      silver_version: '12',
    });
    expect(got.data.tags.note).toBe('multi\nline');
    expect((await store.getMetricHistory(run.runId, 'f1')).map((m) => [m.step, m.value])).toEqual([
      [0, 0.5],
      [1, 0.75],
      [1, 0.25],
    ]);
    expect(yamlOf(nodePath.join(runDir, 'meta.yaml')).status).toBe(3);
  });

  it('keeps params write-once (same value again is fine) and refuses names MLflow refuses', async () => {
    const store = new FileTrackingStore(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')));
    const run = await store.createRun((await store.getOrCreateExperiment('x')).experimentId);
    await store.logBatch(run.runId, { params: { p: 'a' } });
    await store.logBatch(run.runId, { params: { p: 'a' } });
    const err = await rejection(store.logBatch(run.runId, { params: { p: 'b' } }));
    expect(err).toBeInstanceOf(InvalidTrackingInput);
    expect(err.message).toContain("already 'a'");
    for (const key of ['../escape', '/abs', 'a//b', 'semi;colon', '', 'x'.repeat(251)]) {
      expect(
        await rejection(store.logBatch(run.runId, { metrics: [{ key, value: 1, timestamp: 1, step: 0 }] })),
      ).toBeInstanceOf(InvalidTrackingInput);
    }
    expect(await rejection(store.logBatch(run.runId, { params: { long: 'x'.repeat(6001) } }))).toBeInstanceOf(
      InvalidTrackingInput,
    );
    expect(await rejection(store.getRun('f'.repeat(32)))).toBeInstanceOf(TrackingNotFound);
    expect(await rejection(store.createRun('123'))).toBeInstanceOf(TrackingNotFound);
  });

  it('logs, lists and downloads artifacts (a file, a folder)', async () => {
    const root = dirs.make();
    const store = new FileTrackingStore(new LocalObjectStore(nodePath.join(root, 'mlruns')));
    const run = await store.createRun((await store.getOrCreateExperiment('x')).experimentId);
    const png = nodePath.join(root, 'confusion_matrix.png');
    await fs.writeFile(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    await store.logArtifact(run.runId, png);
    await store.logArtifact(run.runId, png, 'plots/eval');
    const folder = nodePath.join(root, 'report');
    await fs.mkdir(nodePath.join(folder, 'sub'), { recursive: true });
    await fs.writeFile(nodePath.join(folder, 'a.json'), '{}');
    await fs.writeFile(nodePath.join(folder, 'sub', 'b.txt'), 'b');
    await store.logArtifacts(run.runId, folder, 'report');
    expect((await store.listArtifacts(run.runId)).map((a) => [a.path, a.isDir])).toEqual([
      ['confusion_matrix.png', false],
      ['plots', true],
      ['report', true],
    ]);
    expect((await store.listArtifacts(run.runId, 'report')).map((a) => a.path)).toEqual([
      'report/a.json',
      'report/sub',
    ]);
    const dest = dirs.make();
    const file = await store.downloadArtifacts(run.runId, 'plots/eval/confusion_matrix.png', dest);
    expect(readFileSync(file).equals(readFileSync(png))).toBe(true);
    const dir = await store.downloadArtifacts(run.runId, 'report', dest);
    expect(readFileSync(nodePath.join(dir, 'sub', 'b.txt'), 'utf8')).toBe('b');
  });

  it('searches runs newest first, and finds runs from a fresh store instance', async () => {
    const root = nodePath.join(dirs.make(), 'mlruns');
    const store = new FileTrackingStore(new LocalObjectStore(root));
    const e = await store.getOrCreateExperiment('x');
    const ids: string[] = [];
    for (const t of [3000, 1000, 2000])
      ids.push((await store.createRun(e.experimentId, { startTime: t })).runId);
    const again = new FileTrackingStore(new LocalObjectStore(root));
    expect((await again.searchRuns(e.experimentId)).map((r) => r.info.startTime)).toEqual([3000, 2000, 1000]);
    expect((await again.searchRuns(e.experimentId, { maxResults: 1 }))[0]!.info.runId).toBe(ids[0]);
    expect((await again.getRun(ids[1]!)).info.startTime).toBe(1000);
    expect((await latestRun(again, e.experimentId))?.info.runId).toBe(ids[0]);
    expect(await latestRun(again, (await again.getOrCreateExperiment('empty')).experimentId)).toBeUndefined();
  });
});

describe('openTrackingStore', () => {
  it('chooses the file store in the lakehouse unless MLFLOW_TRACKING_URI names a server or a folder', () => {
    expect(trackingChoice('/lake/mlruns', {})).toEqual({ kind: 'file', location: '/lake/mlruns' });
    expect(trackingChoice('/lake/mlruns', { MLFLOW_TRACKING_URI: 'file:///other/mlruns' })).toEqual({
      kind: 'file',
      location: '/other/mlruns',
    });
    expect(trackingChoice('/lake/mlruns', { MLFLOW_TRACKING_URI: 'https://mlflow.example:5000' })).toEqual({
      kind: 'rest',
      location: 'https://mlflow.example:5000',
    });
    expect(
      openTrackingStore({
        lakehouseMlflowDir: '/lake/mlruns',
        env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' },
      }),
    ).toBeInstanceOf(RestTrackingStore);
    expect(openTrackingStore({ lakehouseMlflowDir: '/lake/mlruns', env: {} })).toBeInstanceOf(
      FileTrackingStore,
    );
    for (const uri of ['sqlite:///mlflow.db', 'databricks', 's3://bucket/x']) {
      expect(() => trackingChoice('/lake/mlruns', { MLFLOW_TRACKING_URI: uri })).toThrow(
        /unsupported MLFLOW_TRACKING_URI/,
      );
    }
  });
});
