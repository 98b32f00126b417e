import { existsSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { DEFAULT_MODEL_NAME, ensureBundledModelRegistered } from '../../../src/model/bundled.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { ModelNotFound } from '../../../src/model/registry.js';
import { openRegistry, registryChoice } from '../../../src/model/registry-factory.js';
import { rejection, tempDirs } from '../../helpers/delta.js';
import { bundledModelIfBuilt, writeFakeMlflowModel } from './fixtures.js';

const dirs = tempDirs('tweetlake-registry-');
afterAll(() => dirs.cleanup());

function fresh(): { registry: FileModelRegistry; model: (tag: string) => string } {
  const root = dirs.make();
  return {
    registry: new FileModelRegistry(new LocalObjectStore(nodePath.join(root, 'mlruns'))),
    model: (tag) => writeFakeMlflowModel(nodePath.join(root, `src-${tag}`), tag),
  };
}

describe('FileModelRegistry', () => {
  it('creates numbered versions with their files copied into the registry, in MLflow file-store layout', async () => {
    const { registry, model } = fresh();
    const v1 = await registry.createVersion('sentiment', model('a'), { description: 'first' });
    const v2 = await registry.createVersion('sentiment', model('b'));
    expect([v1.version, v2.version]).toEqual(['1', '2']);
    expect(v1).toMatchObject({
      name: 'sentiment',
      currentStage: 'None',
      status: 'READY',
      description: 'first',
      aliases: [],
    });
    const versionDir = nodePath.join(registry.root, 'models', 'sentiment', 'version-2');
    const meta = parse(readFileSync(nodePath.join(versionDir, 'meta.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(meta).toMatchObject({ name: 'sentiment', version: 2, current_stage: 'None', status: 'READY' });
    expect(existsSync(nodePath.join(versionDir, 'artifacts', 'model', 'onnx', 'model_quantized.onnx'))).toBe(
      true,
    );
    const local = await registry.localModelDir(v2);
    expect(readFileSync(nodePath.join(local, 'MLmodel'), 'utf8')).toContain('tag: b');
  });

  it('getModel lists every version in order, with the aliases that point at each', async () => {
    const { registry, model } = fresh();
    for (const t of ['a', 'b', 'c']) await registry.createVersion('m', model(t));
    await registry.setAlias('m', 'champion', '2');
    await registry.setAlias('m', 'challenger', '3');
    const m = await registry.getModel('m');
    expect(m?.versions.map((v) => v.version)).toEqual(['1', '2', '3']);
    expect(m?.aliases).toEqual({ champion: '2', challenger: '3' });
    expect(m?.versions.map((v) => v.aliases)).toEqual([[], ['champion'], ['challenger']]);
    expect(await registry.getModel('absent')).toBeUndefined();
    expect((await registry.listModels()).map((x) => x.name)).toEqual(['m']);
  });

  it('moves an alias when it is set again', async () => {
    const { registry, model } = fresh();
    await registry.createVersion('m', model('a'));
    await registry.createVersion('m', model('b'));
    await registry.setAlias('m', 'production', '1');
    await registry.setAlias('m', 'production', '2');
    expect((await registry.getModel('m'))?.aliases).toEqual({ production: '2' });
    expect((await registry.getVersion('m', '1')).aliases).toEqual([]);
  });

  it('transitions stages; archive_existing archives the other versions in that stage only', async () => {
    const { registry, model } = fresh();
    for (const t of ['a', 'b', 'c']) await registry.createVersion('m', model(t));
    await registry.transitionStage('m', '1', 'Production');
    await registry.transitionStage('m', '2', 'staging');
    const promoted = await registry.transitionStage('m', '3', 'production', true);
    expect(promoted.currentStage).toBe('Production');
    const stages = (await registry.getModel('m'))!.versions.map((v) => [v.version, v.currentStage]);
    expect(stages).toEqual([
      ['1', 'Archived'],
      ['2', 'Staging'],
      ['3', 'Production'],
    ]);
    // without archive_existing both stay in Production
    await registry.transitionStage('m', '2', 'Production');
    expect(
      (await registry.getModel('m'))!.versions
        .filter((v) => v.currentStage === 'Production')
        .map((v) => v.version),
    ).toEqual(['2', '3']);
  });

  it('refuses unknown stages, bad aliases, bad names and missing versions with typed errors', async () => {
    const { registry, model } = fresh();
    await registry.createVersion('m', model('a'));
    expect((await rejection(registry.transitionStage('m', '1', 'Prod'))).code).toBe('MODEL_STAGE_INVALID');
    expect((await rejection(registry.setAlias('m', 'latest', '1'))).code).toBe('MODEL_ALIAS_INVALID');
    expect((await rejection(registry.setAlias('m', 'v2', '1'))).code).toBe('MODEL_ALIAS_INVALID');
    expect((await rejection(registry.createVersion('../escape', model('b')))).code).toBe(
      'MODEL_NAME_INVALID',
    );
    expect(await rejection(registry.getVersion('m', '9'))).toBeInstanceOf(ModelNotFound);
    expect(await rejection(registry.setAlias('m', 'x', '9'))).toBeInstanceOf(ModelNotFound);
    expect(await rejection(registry.transitionStage('absent', '1', 'Production'))).toBeInstanceOf(
      ModelNotFound,
    );
  });

  it.skipIf(!bundledModelIfBuilt())(
    'ensureBundledModelRegistered registers the bundled model once: version 1, Production, alias production',
    async () => {
      const { registry } = fresh();
      const first = await ensureBundledModelRegistered(registry);
      expect(first).toMatchObject({
        name: DEFAULT_MODEL_NAME,
        version: '1',
        currentStage: 'Production',
        aliases: ['production'],
      });
      expect(await ensureBundledModelRegistered(registry)).toBeUndefined();
      const m = (await registry.getModel(DEFAULT_MODEL_NAME))!;
      expect(m.versions.map((v) => [v.version, v.currentStage, v.aliases])).toEqual([
        ['1', 'Production', ['production']],
      ]);
      expect(m.aliases).toEqual({ production: '1' });
      expect(existsSync(nodePath.join(await registry.localModelDir(m.versions[0]!), 'MLmodel'))).toBe(true);
    },
  );
});

describe('registryChoice', () => {
  it('prefers MLFLOW_REGISTRY_URI, then MLFLOW_TRACKING_URI, then the lakehouse', () => {
    expect(registryChoice('/lake/mlruns', {})).toEqual({ kind: 'file', location: '/lake/mlruns' });
    expect(registryChoice('/lake/mlruns', { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' })).toEqual({
      kind: 'rest',
      location: 'http://127.0.0.1:5000',
    });
    expect(
      registryChoice('/lake/mlruns', {
        MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000',
        MLFLOW_REGISTRY_URI: 'file:///models/registry',
      }),
    ).toEqual({ kind: 'file', location: '/models/registry' });
    expect(openRegistry({ lakehouseMlflowDir: '/lake/mlruns', env: {} })).toBeInstanceOf(FileModelRegistry);
  });

  it('names the variable that holds an unsupported URI', () => {
    expect(() => registryChoice('/lake/mlruns', { MLFLOW_REGISTRY_URI: 'databricks-uc' })).toThrow(
      /unsupported MLFLOW_REGISTRY_URI 'databricks-uc'/,
    );
    expect(() => registryChoice('/lake/mlruns', { MLFLOW_TRACKING_URI: 'sqlite:///mlflow.db' })).toThrow(
      /unsupported MLFLOW_TRACKING_URI 'sqlite:\/\/\/mlflow.db'/,
    );
  });
});
