import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { defaultModelName, importFromHub } from '../../../src/model/hf-import.js';
import { readMlflowModel } from '../../../src/model/mlmodel.js';
import { resolveModel } from '../../../src/model/resolve.js';
import { rejection, tempDirs } from '../../helpers/delta.js';
import { HUB_COMMIT, startHub, type LocalHub } from '../../helpers/hub-server.js';
import { bundledModelIfBuilt, writeFakeHfFiles } from './fixtures.js';

const dirs = tempDirs('tweetlake-hf-import-');
const COMMIT = HUB_COMMIT;

/** repo id -> folder in the Hugging Face layout the hub serves it from. */
const repos = new Map<string, string>();
let hub: LocalHub;
let hfSource: string;

beforeAll(async () => {
  // the real bundled model's Hugging Face folder when it is built, else a tiny stand-in
  const bundled = bundledModelIfBuilt();
  hfSource = bundled ? nodePath.join(bundled, 'model') : nodePath.join(dirs.make(), 'fake');
  if (!bundled) writeFakeHfFiles(hfSource);
  repos.set('acme/tweet-sentiment', hfSource);

  const noOnnx = nodePath.join(dirs.make(), 'no-onnx');
  writeFakeHfFiles(noOnnx);
  await fs.rm(nodePath.join(noOnnx, 'onnx'), { recursive: true });
  repos.set('acme/no-onnx', noOnnx);

  const encoder = nodePath.join(dirs.make(), 'encoder');
  writeFakeHfFiles(encoder);
  const cfg = JSON.parse(readFileSync(nodePath.join(encoder, 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  delete cfg.id2label;
  cfg.architectures = ['BertModel'];
  await fs.writeFile(nodePath.join(encoder, 'config.json'), JSON.stringify(cfg));
  repos.set('acme/encoder', encoder);

  const fp32 = nodePath.join(dirs.make(), 'fp32');
  writeFakeHfFiles(fp32, ['negative', 'positive']);
  await fs.rename(
    nodePath.join(fp32, 'onnx', 'model_quantized.onnx'),
    nodePath.join(fp32, 'onnx', 'model.onnx'),
  );
  await fs.rm(nodePath.join(fp32, 'special_tokens_map.json'));
  repos.set('acme/fp32-only', fp32);

  hub = await startHub(repos);
});

afterAll(async () => {
  await hub?.close();
  dirs.cleanup();
});

function registry() {
  const root = dirs.make();
  return {
    registry: new FileModelRegistry(new LocalObjectStore(nodePath.join(root, 'mlruns'))),
    cacheDir: nodePath.join(root, 'cache'),
  };
}

describe('importFromHub (local hub server)', () => {
  it('downloads, packages as an MLflow model in the bundled layout, and registers a version', async () => {
    const { registry: reg, cacheDir } = registry();
    const r = await importFromHub('acme/tweet-sentiment', {
      registry: reg,
      cacheDir,
      hubUrl: hub.url,
      env: {},
    });
    expect(r.name).toBe('acme_tweet-sentiment');
    expect(r.version.version).toBe('1');
    expect(r.commit).toBe(COMMIT);
    expect(r.files).toEqual(
      expect.arrayContaining([
        'config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'onnx/model_quantized.onnx',
      ]),
    );
    const labels = Object.values(
      (
        JSON.parse(readFileSync(nodePath.join(hfSource, 'config.json'), 'utf8')) as {
          id2label: Record<string, string>;
        }
      ).id2label,
    );
    expect(r.labels).toEqual(labels);

    const resolved = await resolveModel('models:/acme_tweet-sentiment/1', reg, cacheDir);
    const mlmodel = parse(readFileSync(nodePath.join(resolved.dir, 'MLmodel'), 'utf8')) as {
      flavors: Record<string, unknown>;
      metadata: Record<string, unknown>;
    };
    expect(Object.keys(mlmodel.flavors).sort()).toEqual(['onnx', 'python_function']);
    expect(mlmodel.metadata).toMatchObject({
      task: 'text-classification',
      labels,
      hf_dir: 'model',
      source_repo: 'acme/tweet-sentiment',
      source_revision: 'main',
      source_commit: COMMIT,
    });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model_quantized.onnx']) {
      expect(
        readFileSync(nodePath.join(resolved.dir, 'model', f)).equals(
          readFileSync(nodePath.join(hfSource, f)),
        ),
        f,
      ).toBe(true);
    }
    expect(existsSync(nodePath.join(resolved.dir, 'model', 'onnx', 'MLmodel'))).toBe(true);
    const read = readMlflowModel(resolved.dir);
    expect(read.dtype).toBe('q8');
    expect(read.hfDir).toBe(nodePath.join(resolved.dir, 'model'));
    // nothing is left behind in the scratch space
    expect((await fs.readdir(cacheDir)).filter((f) => f.startsWith('hf-import-'))).toEqual([]);
  });

  it('takes the hub from HF_ENDPOINT, sends HF_TOKEN as a bearer token, and registers under a chosen name', async () => {
    const { registry: reg, cacheDir } = registry();
    hub.seen.length = 0;
    const r = await importFromHub('acme/fp32-only', {
      registry: reg,
      cacheDir,
      name: 'SST2',
      env: { HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_secret' },
    });
    expect(r.name).toBe('SST2');
    expect(r.labels).toEqual(['negative', 'positive']);
    expect(r.files).not.toContain('special_tokens_map.json');
    expect(hub.seen.length).toBeGreaterThan(0);
    expect(
      hub.seen.filter((s) => !s.url.startsWith('/cdn/')).every((s) => s.auth === 'Bearer hf_secret'),
    ).toBe(true);
    const dir = (await resolveModel('models:/SST2/latest', reg, cacheDir)).dir;
    expect(readMlflowModel(dir).dtype).toBe('fp32');
  });

  it('adds a new version on a second import', async () => {
    const { registry: reg, cacheDir } = registry();
    await importFromHub('acme/fp32-only', { registry: reg, cacheDir, hubUrl: hub.url, env: {} });
    const again = await importFromHub('acme/fp32-only', {
      registry: reg,
      cacheDir,
      hubUrl: hub.url,
      env: {},
    });
    expect(again.version.version).toBe('2');
  });

  it('names the missing ONNX weights', async () => {
    const { registry: reg, cacheDir } = registry();
    const err = await rejection(
      importFromHub('acme/no-onnx', { registry: reg, cacheDir, hubUrl: hub.url, env: {} }),
    );
    expect(err.code).toBe('HF_IMPORT_FAILED');
    expect(err.message).toContain('onnx/model_quantized.onnx or onnx/model.onnx');
    expect(await reg.getModel(defaultModelName('acme/no-onnx'))).toBeUndefined();
  });

  it('refuses a model that is not a sequence classifier', async () => {
    const { registry: reg, cacheDir } = registry();
    const err = await rejection(
      importFromHub('acme/encoder', { registry: reg, cacheDir, hubUrl: hub.url, env: {} }),
    );
    expect(err.message).toMatch(/not a sequence classifier/);
  });

  it('explains a missing repo, a refused (private) repo and a bad repo id', async () => {
    const { registry: reg, cacheDir } = registry();
    expect(
      (await rejection(importFromHub('acme/absent', { registry: reg, cacheDir, hubUrl: hub.url, env: {} })))
        .message,
    ).toMatch(/was not found.*check the repo id/);
    expect(
      (await rejection(importFromHub('private/model', { registry: reg, cacheDir, hubUrl: hub.url, env: {} })))
        .message,
    ).toMatch(/HF_TOKEN/);
    expect(
      (await rejection(importFromHub('../etc', { registry: reg, cacheDir, hubUrl: hub.url, env: {} })))
        .message,
    ).toMatch(/not a Hugging Face repo id/);
    expect(
      (
        await rejection(
          importFromHub('acme/tweet-sentiment', {
            registry: reg,
            cacheDir,
            hubUrl: 'http://127.0.0.1:1',
            env: {},
          }),
        )
      ).message,
    ).toMatch(/HF_ENDPOINT/);
  });
});
