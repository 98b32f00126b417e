import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { formatModelUri, parseModelUri } from '../../../src/model/model-uri.js';
import { ModelNotFound } from '../../../src/model/registry.js';
import { resolveModel } from '../../../src/model/resolve.js';
import { FileTrackingStore } from '../../../src/tracking/index.js';
import { rejection, tempDirs } from '../../helpers/delta.js';
import { writeFakeMlflowModel } from './fixtures.js';

const dirs = tempDirs('tweetlake-model-uri-');
afterAll(() => dirs.cleanup());

describe('parseModelUri', () => {
  it.each([
    [
      'models:/HF_TWEET_SENTIMENT/Production',
      { kind: 'stage', name: 'HF_TWEET_SENTIMENT', stage: 'Production' },
    ],
    [
      'models:/HF_TWEET_SENTIMENT/production',
      { kind: 'stage', name: 'HF_TWEET_SENTIMENT', stage: 'Production' },
    ],
    ['models:/m/Staging', { kind: 'stage', name: 'm', stage: 'Staging' }],
    ['models:/m/Archived', { kind: 'stage', name: 'm', stage: 'Archived' }],
    ['models:/m/None', { kind: 'stage', name: 'm', stage: 'None' }],
    [
      'models:/HF_TWEET_SENTIMENT@production',
      { kind: 'alias', name: 'HF_TWEET_SENTIMENT', alias: 'production' },
    ],
    ['models:/m/3', { kind: 'version', name: 'm', version: '3' }],
    ['models:/m/latest', { kind: 'latest', name: 'm' }],
    ['models:///m/2', { kind: 'version', name: 'm', version: '2' }],
    ['runs:/0123abcd/model', { kind: 'run', runId: '0123abcd', path: 'model' }],
    ['runs:/0123abcd/a/b', { kind: 'run', runId: '0123abcd', path: 'a/b' }],
    ['file:///tmp/some%20model', { kind: 'path', path: '/tmp/some model' }],
    ['./models/hf', { kind: 'path', path: './models/hf' }],
    ['/abs/model', { kind: 'path', path: '/abs/model' }],
  ])('%s', (uri, expected) => {
    expect(parseModelUri(uri)).toEqual(expected);
  });

  it('prints URIs back in MLflow spelling', () => {
    for (const uri of [
      'models:/m/Production',
      'models:/m@champion',
      'models:/m/7',
      'models:/m/latest',
      'runs:/abc/model',
      '/x/y',
    ]) {
      expect(formatModelUri(parseModelUri(uri))).toBe(uri);
    }
  });

  it.each([
    'models:/',
    'models:/onlyname',
    'models:/m/Prod',
    'models:/a/b/c',
    'runs:/',
    'runs:/abc',
    's3://bucket/model',
  ])('refuses %s with a message that shows the accepted forms', (uri) => {
    let err: (Error & { code?: string }) | undefined;
    try {
      parseModelUri(uri);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toMatch(/^MODEL_(URI|STAGE)_INVALID$/);
  });
});

describe('resolveModel', () => {
  async function setup() {
    const root = dirs.make();
    const registry = new FileModelRegistry(new LocalObjectStore(nodePath.join(root, 'mlruns')));
    for (const t of ['v1', 'v2', 'v3'])
      await registry.createVersion('M', writeFakeMlflowModel(nodePath.join(root, t), t));
    await registry.transitionStage('M', '1', 'Archived');
    await registry.transitionStage('M', '2', 'Production');
    await registry.transitionStage('M', '3', 'Staging');
    await registry.setAlias('M', 'champion', '2');
    await registry.setAlias('M', 'challenger', '3');
    return { root, registry, cache: nodePath.join(root, 'cache') };
  }
  const tagOf = (dir: string) => /tag: (\w+)/.exec(readFileSync(nodePath.join(dir, 'MLmodel'), 'utf8'))?.[1];

  it('resolves stage, alias, version and latest URIs to the right version folder', async () => {
    const { registry, cache } = await setup();
    const cases: [string, string, string][] = [
      ['models:/M/Production', '2', 'v2'],
      ['models:/M/staging', '3', 'v3'],
      ['models:/M/Archived', '1', 'v1'],
      ['models:/M@champion', '2', 'v2'],
      ['models:/M@challenger', '3', 'v3'],
      ['models:/M/1', '1', 'v1'],
      ['models:/M/latest', '3', 'v3'],
    ];
    for (const [uri, version, tag] of cases) {
      const r = await resolveModel(uri, registry, cache);
      expect([uri, r.name, r.version, tagOf(r.dir)]).toEqual([uri, 'M', version, tag]);
    }
  });

  it('picks the highest version when several share a stage', async () => {
    const { registry, cache } = await setup();
    await registry.transitionStage('M', '3', 'Production');
    expect((await resolveModel('models:/M/Production', registry, cache)).version).toBe('3');
  });

  it('resolves folders and file:// URIs as they are', async () => {
    const { root, registry, cache } = await setup();
    const dir = nodePath.join(root, 'v1');
    expect((await resolveModel(dir, registry, cache)).dir).toBe(dir);
    expect((await resolveModel(pathToFileURL(dir).href, registry, cache)).dir).toBe(dir);
  });

  it('resolves runs:/ URIs through the tracking store', async () => {
    const { root, registry, cache } = await setup();
    const tracking = new FileTrackingStore(new LocalObjectStore(nodePath.join(root, 'mlruns')));
    const exp = await tracking.getOrCreateExperiment('e');
    const run = await tracking.createRun(exp.experimentId);
    await tracking.logArtifacts(run.runId, nodePath.join(root, 'v3'), 'model');
    const r = await resolveModel(`runs:/${run.runId}/model`, registry, cache, (id, path, dest) =>
      tracking.downloadArtifacts(id, path, dest),
    );
    expect(tagOf(r.dir)).toBe('v3');
    expect((await rejection(resolveModel(`runs:/${run.runId}/model`, registry, cache))).code).toBe(
      'MODEL_RUN_URI',
    );
  });

  it('names what is missing: model, stage, alias, version, folder', async () => {
    const { registry, cache } = await setup();
    for (const uri of [
      'models:/Nope/Production',
      'models:/M/None',
      'models:/M@ghost',
      'models:/M/42',
      '/no/such/folder',
    ]) {
      const err = await rejection(resolveModel(uri, registry, cache));
      expect(err).toBeInstanceOf(ModelNotFound);
    }
    expect((await rejection(resolveModel('models:/M@ghost', registry, cache))).message).toContain(
      'models:/M@ghost',
    );
  });
});
