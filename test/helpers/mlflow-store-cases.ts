/**
 * The MLflow file store, the file model registry and the StateStore as test cases over any object
 * store (memory, a local folder, S3): each case is a function of a fresh, empty store and a local
 * scratch folder, so that every backend runs the same assertions.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parse } from 'yaml';
import { expect } from 'vitest';
import { FileModelRegistry } from '../../src/model/file-registry.js';
import { StateFileCorrupt, StateStore, type StreamState } from '../../src/pipeline/state.js';
import { listLocalFiles } from '../../src/storage/local-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { FileTrackingStore, InvalidTrackingInput, latestRun } from '../../src/tracking/index.js';
import { rejection } from './delta.js';

export type StoreCase = (store: ObjectStore, scratch: string) => Promise<void>;

const text = async (store: ObjectStore, path: string) => new TextDecoder().decode(await store.get(path));

/** `{relative path: sha256}` of every file below a local folder: equal trees are equal byte for byte. */
export async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await listLocalFiles(dir))
    out[f] = createHash('sha256')
      .update(readFileSync(nodePath.join(dir, ...f.split('/'))))
      .digest('hex');
  return out;
}

/** A small MLflow model folder with nested files and one file of `bigBytes` bytes. */
export async function writeModelFolder(dir: string, tag: string, bigBytes = 100_000): Promise<string> {
  await fs.mkdir(nodePath.join(dir, 'model', 'onnx'), { recursive: true });
  await fs.writeFile(
    nodePath.join(dir, 'MLmodel'),
    `flavors:\n  onnx:\n    data: model/onnx/model.onnx\ntag: ${tag}\n`,
  );
  await fs.writeFile(nodePath.join(dir, 'model', 'config.json'), JSON.stringify({ tag }));
  const big = Buffer.alloc(bigBytes);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + tag.length) % 251;
  await fs.writeFile(nodePath.join(dir, 'model', 'onnx', 'model.onnx'), big);
  return dir;
}

const stream = (name: string, batchId: number): StreamState => ({
  name,
  id: `${name}-id`,
  runId: `${name}-run`,
  pid: process.pid,
  active: true,
  status: { message: `Processing batch ${batchId}`, isDataAvailable: true, isTriggerActive: true },
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:01.000Z',
  history: [],
});

export const mlflowStoreCases: Record<string, StoreCase> = {
  'tracking: a run with params, metrics appended over batches, tags and artifacts, read back by a fresh store':
    async (store, scratch) => {
      const tracking = new FileTrackingStore(store);
      const e = await tracking.getOrCreateExperiment('eval', { team: 'ml' });
      expect(e.tags).toEqual({ team: 'ml' });
      expect(e.artifactLocation).toBe(store.location(e.experimentId));
      const run = await tracking.createRun(e.experimentId, { runName: 'r1', startTime: 1000 });
      const metric = (value: number, step: number) => ({ key: 'f1', value, timestamp: 1000 + step, step });
      await tracking.logBatch(run.runId, {
        metrics: [metric(0.5, 0), { key: 'per_class/POS/recall', value: 0.25, timestamp: 7, step: 0 }],
        params: { model_version: '1' },
        tags: { note: 'multi\nline' },
      });
      await tracking.logBatch(run.runId, { metrics: [metric(0.75, 1), metric(0.625, 2)] });
      const dir = `${e.experimentId}/${run.runId}`;
      expect(await text(store, `${dir}/metrics/f1`)).toBe('1000 0.5 0\n1001 0.75 1\n1002 0.625 2\n');
      expect(await text(store, `${dir}/params/model_version`)).toBe('1');
      expect(parse(await text(store, `${dir}/meta.yaml`))).toMatchObject({
        run_id: run.runId,
        status: 1,
        artifact_uri: store.location(`${dir}/artifacts`),
      });
      const err = await rejection(tracking.logBatch(run.runId, { params: { model_version: '2' } }));
      expect(err).toBeInstanceOf(InvalidTrackingInput);

      const png = nodePath.join(scratch, 'confusion_matrix.png');
      await fs.writeFile(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
      await tracking.logArtifact(run.runId, png, 'plots');
      await fs.writeFile(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9]));
      await tracking.logArtifact(run.runId, png, 'plots'); // logged again: replaced
      expect(existsSync(nodePath.join(store.root, '_tweetlake_staging'))).toBe(false); // staged copy gone
      expect(readFileSync(png)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9])); // the caller keeps its file
      const report = nodePath.join(scratch, 'report');
      await fs.mkdir(nodePath.join(report, 'sub'), { recursive: true });
      await fs.writeFile(nodePath.join(report, 'a.json'), '{}');
      await fs.writeFile(nodePath.join(report, 'sub', 'b.txt'), 'b');
      await tracking.logArtifacts(run.runId, report, 'report');
      expect(await treeDigest(report)).toEqual({
        'a.json': expect.any(String),
        'sub/b.txt': expect.any(String),
      });
      await tracking.endRun(run.runId, 'FINISHED', 5000);

      const again = new FileTrackingStore(store);
      expect((await again.getExperimentByName('eval'))?.experimentId).toBe(e.experimentId);
      const got = await again.getRun(run.runId);
      expect(got.info).toMatchObject({ status: 'FINISHED', endTime: 5000, runName: 'r1' });
      expect(got.data.metrics).toEqual({ f1: 0.625, 'per_class/POS/recall': 0.25 });
      expect(got.data.params).toEqual({ model_version: '1' });
      expect(got.data.tags).toMatchObject({ note: 'multi\nline', 'mlflow.runName': 'r1' });
      expect((await again.getMetricHistory(run.runId, 'f1')).map((m) => m.value)).toEqual([0.5, 0.75, 0.625]);
      expect((await latestRun(again, e.experimentId))?.info.runId).toBe(run.runId);
      expect((await again.listArtifacts(run.runId)).map((a) => [a.path, a.isDir])).toEqual([
        ['plots', true],
        ['report', true],
      ]);
      expect(await again.listArtifacts(run.runId, 'plots')).toEqual([
        { path: 'plots/confusion_matrix.png', isDir: false, fileSize: 6 },
      ]);
      const down = nodePath.join(scratch, 'down');
      const file = await again.downloadArtifacts(run.runId, 'plots/confusion_matrix.png', down);
      expect(readFileSync(file)).toEqual(readFileSync(png));
      const folder = await again.downloadArtifacts(run.runId, 'report', down);
      expect(await treeDigest(folder)).toEqual(await treeDigest(report));
      expect((await rejection(again.downloadArtifacts(run.runId, 'absent', down))).code).toBe(
        'ARTIFACT_NOT_FOUND',
      );
    },

  'tracking: get-or-create of one experiment by racing stores gives one experiment; runs searched newest first':
    async (store) => {
      const stores = Array.from({ length: 4 }, () => new FileTrackingStore(store));
      const got = await Promise.all(stores.map((s) => s.getOrCreateExperiment('shared')));
      expect(new Set(got.map((e) => e.experimentId)).size).toBe(1);
      const metas = (await store.list('')).map((m) => m.path).filter((p) => /^\d+\/meta\.yaml$/.test(p));
      expect(metas.sort()).toEqual(['0/meta.yaml', `${got[0]!.experimentId}/meta.yaml`].sort());
      const id = got[0]!.experimentId;
      for (const t of [3000, 1000, 2000]) await stores[0]!.createRun(id, { startTime: t });
      const fresh = new FileTrackingStore(store);
      expect((await fresh.searchRuns(id)).map((r) => r.info.startTime)).toEqual([3000, 2000, 1000]);
      expect(await fresh.getExperimentByName('absent')).toBeUndefined();
    },

  'registry: versions copied in, stages and aliases, READY-only reads, a local copy byte for byte': async (
    store,
    scratch,
  ) => {
    const registry = new FileModelRegistry(store);
    const src = await writeModelFolder(nodePath.join(scratch, 'src'), 'a');
    const before = await treeDigest(src);
    const v1 = await registry.createVersion('sentiment', src, { description: 'first', runId: 'r1' });
    const v2 = await registry.createVersion('sentiment', src);
    expect([v1.version, v2.version, v1.status]).toEqual(['1', '2', 'READY']);
    expect(await treeDigest(src)).toEqual(before); // the caller's folder is left as it was
    const meta = parse(await text(store, 'models/sentiment/version-2/meta.yaml')) as Record<string, unknown>;
    expect(meta).toMatchObject({ name: 'sentiment', version: 2, status: 'READY', current_stage: 'None' });
    const where = store.location('models/sentiment/version-2/artifacts');
    expect(meta.source).toBe(nodePath.isAbsolute(where) ? `file://${where}` : where);
    await registry.transitionStage('sentiment', '1', 'Production');
    await registry.transitionStage('sentiment', '2', 'Production', true);
    await registry.setAlias('sentiment', 'champion', '2');
    // a registration that never finished (a killed process) is not read, and its number stays taken
    await store.put(
      'models/sentiment/version-3/meta.yaml',
      'name: sentiment\nversion: 3\nstatus: PENDING_REGISTRATION\n',
    );
    const m = (await new FileModelRegistry(store).getModel('sentiment'))!;
    expect(m.versions.map((v) => [v.version, v.currentStage, v.aliases])).toEqual([
      ['1', 'Archived', []],
      ['2', 'Production', ['champion']],
    ]);
    expect((await registry.createVersion('sentiment', src)).version).toBe('4');
    expect((await registry.listModels()).map((x) => x.name)).toEqual(['sentiment']);

    const cache = nodePath.join(scratch, 'cache');
    const local = await registry.localModelDir(v2, cache);
    expect(await treeDigest(local)).toEqual(before);
    // a local store's own folder is used in place; any other store's files come into the cache
    expect(local.startsWith(nodePath.isAbsolute(where) ? store.root : cache)).toBe(true);
    expect(await registry.localModelDir(v2, cache)).toBe(local);
    expect(await treeDigest(await registry.localModelDir(v1, cache))).toEqual(before);
  },

  'state: stream states, the process, documents and stop requests; missing is undefined, damaged an error':
    async (store) => {
      const state = new StateStore(store);
      expect(await state.streams()).toEqual([]);
      expect(await state.process()).toBeUndefined();
      expect(await state.getDocument('evaluation')).toBeUndefined();
      expect(await state.takeStopRequests()).toEqual([]);
      await state.publish(stream('silver_stream', 1));
      await state.publish(stream('bronze_stream', 1));
      await state.publish(stream('bronze_stream', 2)); // replaced whole
      const states = await new StateStore(store).streams();
      expect(states.map((s) => [s.name, s.status.message])).toEqual([
        ['bronze_stream', 'Processing batch 2'],
        ['silver_stream', 'Processing batch 1'],
      ]);
      const proc = {
        ...{ pid: process.pid, startedAt: 'a', updatedAt: 'b', rssHighWaterBytes: 1, heapHighWaterBytes: 2 },
        ...{ duckdbMemoryLimit: '1GB', duckdbSpillHighWaterBytes: 3 },
      };
      await state.publishProcess(proc);
      expect(await state.process()).toEqual(proc);
      await state.putDocument('evaluation', { accuracy: 0.5 });
      expect(await state.getDocument('evaluation')).toEqual({ accuracy: 0.5 });
      await state.requestStop('gold_stream');
      await state.requestStop();
      expect((await state.takeStopRequests()).sort()).toEqual(['_all', 'gold_stream']);
      expect(await state.takeStopRequests()).toEqual([]); // consumed
      await store.put('streams/gold_stream.json', '{"name": ');
      const err = await rejection(state.streams());
      expect(err).toBeInstanceOf(StateFileCorrupt);
      expect(err.message).toContain(store.location('streams/gold_stream.json'));
    },
};
