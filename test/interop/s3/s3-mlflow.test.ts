/**
 * The MLflow file store, the file model registry and the lakehouse's `_state` under a root on a real
 * S3 server (versitygw on loopback): the shared case list, then a run logged with params, metrics
 * and artifacts, the bundled model registered, loaded back into a local folder (identical byte for
 * byte) and run for inference exactly as from its own folder.
 */
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL_URI,
  bundledModelDir,
  ensureBundledModelRegistered,
} from '../../../src/model/bundled.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { loadClassifier } from '../../../src/model/load.js';
import { resolveModel } from '../../../src/model/resolve.js';
import { S3ObjectStore } from '../../../src/storage/s3-store.js';
import { FileTrackingStore } from '../../../src/tracking/index.js';
import { tempDirs } from '../../helpers/delta.js';
import { mlflowStoreCases, treeDigest } from '../../helpers/mlflow-store-cases.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

const dirs = tempDirs('tweetlake-s3-mlflow-');
let server: S3TestServer;
let bucket: string;
let n = 0;
const stores: S3ObjectStore[] = [];

/** A store on a fresh prefix of the test bucket, as `<root>/mlruns` of a lakehouse on S3 would be. */
function store(): S3ObjectStore {
  const s = new S3ObjectStore(`${bucket}/lake-${++n}/mlruns`, server.options());
  stores.push(s);
  return s;
}

beforeAll(async () => {
  server = await startS3Server(); // the first run builds versitygw with go install (minutes)
  bucket = await server.createBucket('mlflow');
}, 900_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await server?.stop();
  dirs.cleanup();
});

describe('MLflow file store, registry and state on S3', () => {
  for (const [name, run] of Object.entries(mlflowStoreCases)) it(name, () => run(store(), dirs.make()));

  it('logs a run, registers the bundled model, loads it back byte for byte and classifies as from its folder', async () => {
    const s = store();
    const tracking = new FileTrackingStore(s);
    const exp = await tracking.getOrCreateExperiment('tweetlake-evaluation');
    const run = await tracking.createRun(exp.experimentId, { runName: 'eval' });
    await tracking.logBatch(run.runId, {
      metrics: [{ key: 'accuracy', value: 0.8, timestamp: 1, step: 0 }],
      params: { model_uri: DEFAULT_MODEL_URI },
    });
    await tracking.logArtifact(run.runId, nodePath.join(bundledModelDir(), 'metrics.json'), 'eval');
    await tracking.endRun(run.runId);
    expect(run.artifactUri).toBe(`${s.root}/${exp.experimentId}/${run.runId}/artifacts`);

    const registry = new FileModelRegistry(s);
    const v = await ensureBundledModelRegistered(registry);
    expect(v).toMatchObject({ version: '1', currentStage: 'Production' });
    expect(v!.source).toBe(`${s.root}/models/${v!.name}/version-1/artifacts`);
    const cache = dirs.make();
    const resolved = await resolveModel(DEFAULT_MODEL_URI, new FileModelRegistry(s), cache);
    expect(resolved.dir.startsWith(cache)).toBe(true);
    expect(await treeDigest(resolved.dir)).toEqual(await treeDigest(bundledModelDir()));
    const received = s.stats.bytesReceived;
    expect((await resolveModel(DEFAULT_MODEL_URI, registry, cache)).dir).toBe(resolved.dir);
    expect(s.stats.bytesReceived - received).toBeLessThan(10_000); // meta.yaml files: the model is not downloaded again

    const texts = ['I love this airline!', 'worst flight ever', 'the flight is at 9'];
    const classify = async (dir: string) => {
      const pool = await loadClassifier({ ...resolved, dir }, { workers: 1, batchSize: 1 });
      try {
        return await pool.classify(texts, { probabilities: true });
      } finally {
        await pool.close();
      }
    };
    expect(await classify(resolved.dir)).toEqual(await classify(bundledModelDir()));
    const got = await tracking.getRun(run.runId);
    expect(got.data).toMatchObject({ metrics: { accuracy: 0.8 }, params: { model_uri: DEFAULT_MODEL_URI } });
    expect((await tracking.listArtifacts(run.runId, 'eval')).map((a) => a.path)).toEqual([
      'eval/metrics.json',
    ]);
  }, 300_000);
});
