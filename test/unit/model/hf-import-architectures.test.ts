/**
 * `model import-hf` with small models of each architecture (scripts/model/make_tiny_models.py,
 * test/fixtures/hf-tiny/README.md) served by a local hub: every import must tokenize as the Python
 * tokenizer of the same files does, load in the real inference pool, and give the probabilities
 * onnxruntime gives in Python, with the labels of config.json's id2label.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { importFromFolder, importFromHub } from '../../../src/model/hf-import.js';
import { loadClassifier } from '../../../src/model/load.js';
import { readMlflowModel } from '../../../src/model/mlmodel.js';
import { resolveModel } from '../../../src/model/resolve.js';
import { rejection, tempDirs } from '../../helpers/delta.js';
import { HUB_COMMIT, startHub, type LocalHub } from '../../helpers/hub-server.js';

const FIXTURES = nodePath.resolve('test/fixtures/hf-tiny');

interface Expected {
  architecture: string;
  labels: string[];
  cases: { text: string; input_ids: number[]; probabilities: number[]; label: string }[];
}
const expected = (name: string) =>
  JSON.parse(readFileSync(nodePath.join(FIXTURES, 'expected', `${name}.json`), 'utf8')) as Expected;

/** What each fixture repo is, as the hub lays it out (see the README of the fixtures). */
const REPOS = [
  { repo: 'tiny/tiny-bert', dir: 'tiny-bert', tokenizer: 'built from vocab.txt', dtype: 'q8' },
  { repo: 'tiny/tiny-distilbert', dir: 'tiny-distilbert', tokenizer: 'tokenizer.json', dtype: 'q8' },
  {
    repo: 'tiny/tiny-roberta',
    dir: 'tiny-roberta',
    tokenizer: 'built from vocab.json + merges.txt',
    dtype: 'q8',
  },
  {
    repo: 'tiny/tiny-bertweet',
    dir: 'tiny-bertweet',
    tokenizer: 'built from vocab.txt + bpe.codes',
    dtype: 'fp32',
  },
] as const;

const dirs = tempDirs('tweetlake-hf-arch-');
let hub: LocalHub;

beforeAll(async () => {
  hub = await startHub(new Map(REPOS.map((r) => [r.repo, nodePath.join(FIXTURES, r.dir)])));
  // the layout of cardiffnlp/twitter-roberta-base-sentiment-latest's main branch: PyTorch and TF weights only
  const noOnnx = dirs.make('cardiff-like');
  mkdirSync(noOnnx);
  for (const f of ['config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json'])
    cpSync(nodePath.join(FIXTURES, 'tiny-roberta', f), nodePath.join(noOnnx, f));
  writeFileSync(nodePath.join(noOnnx, 'pytorch_model.bin'), 'not read');
  writeFileSync(nodePath.join(noOnnx, 'tf_model.h5'), 'not read');
  hub.repos.set('tiny/pytorch-only', noOnnx);
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

/** transformers.js's tokenizer over an imported model folder (as the inference worker loads it). */
async function tokenize(hfDir: string, texts: string[]): Promise<number[][]> {
  const hf = await import('@huggingface/transformers');
  hf.env.allowRemoteModels = false;
  hf.env.localModelPath = nodePath.dirname(hfDir);
  const tokenizer = await hf.AutoTokenizer.from_pretrained(nodePath.basename(hfDir));
  return texts.map((t) => {
    const out = tokenizer(t, { truncation: true, max_length: 64, return_tensor: false }) as {
      input_ids: number[];
    };
    return out.input_ids;
  });
}

describe.each(REPOS)('importing $repo', ({ repo, dir, tokenizer, dtype }) => {
  const exp = expected(dir);

  it('registers it with the labels of id2label and a tokenizer.json transformers.js tokenizes with as Python does', async () => {
    const { registry: reg, cacheDir } = registry();
    const r = await importFromHub(repo, { registry: reg, cacheDir, hubUrl: hub.url, env: {} });
    expect(r.labels).toEqual(exp.labels);
    expect(r.tokenizer).toBe(tokenizer);
    expect(r.commit).toBe(HUB_COMMIT);
    const resolved = await resolveModel(`models:/${r.name}/1`, reg, cacheDir);
    const model = readMlflowModel(resolved.dir);
    expect(model.dtype).toBe(dtype);
    expect(model.maxLength).toBe(64);
    expect(model.metadata.labels).toEqual(exp.labels);
    const ids = await tokenize(
      model.hfDir,
      exp.cases.map((c) => c.text),
    );
    exp.cases.forEach((c, i) => {
      if (c.input_ids.length < 64) expect(ids[i], JSON.stringify(c.text)).toEqual(c.input_ids);
      else {
        // transformers.js cuts a long text after adding the special tokens, so its last token is the
        // text's, where Python keeps [SEP] / </s> (the same for every model, the bundled one too)
        expect(ids[i]).toHaveLength(64);
        expect(ids[i]!.slice(0, 63)).toEqual(c.input_ids.slice(0, 63));
      }
    });
  });

  it('loads in the inference pool and classifies as onnxruntime does in Python', async () => {
    const { registry: reg, cacheDir } = registry();
    const r = await importFromHub(repo, { registry: reg, cacheDir, hubUrl: hub.url, env: {} });
    const pool = await loadClassifier(
      await resolveModel(`models:/${r.name}/${r.version.version}`, reg, cacheDir),
      {
        workers: 1,
        batchSize: 1, // dynamic int8 quantization scales by batch: one text per call, as the reference was made
      },
    );
    try {
      expect(pool.labels).toEqual(exp.labels);
      const got = await pool.classify(
        exp.cases.map((c) => c.text),
        { probabilities: true },
      );
      exp.cases.forEach((c, i) => {
        if (c.input_ids.length >= 64) return; // cut differently (see above)
        expect(got[i]!.label, JSON.stringify(c.text)).toBe(c.label);
        got[i]!.probabilities!.forEach((p, k) =>
          expect(Math.abs(p - c.probabilities[k]!)).toBeLessThan(1e-5),
        );
      });
      expect(new Set(got.map((p) => p.label)).size).toBeGreaterThan(1); // the weights tell the texts apart
    } finally {
      await pool.close();
    }
    // batches of texts of different lengths are padded with the model's padding token
    const batched = await loadClassifier(
      await resolveModel(`models:/${r.name}/${r.version.version}`, reg, cacheDir),
      {
        workers: 1,
        batchSize: 8,
      },
    );
    try {
      const got = await batched.classify(
        exp.cases.map((c) => c.text),
        { probabilities: true },
      );
      expect(got).toHaveLength(exp.cases.length);
      if (dtype === 'fp32')
        exp.cases.forEach((c, i) => {
          if (c.input_ids.length < 64) expect(got[i]!.label).toBe(c.label);
        });
    } finally {
      await batched.close();
    }
  }, 60_000);
});

describe('hub layouts', () => {
  it('downloads every file at the commit the revision resolved to', async () => {
    const { registry: reg, cacheDir } = registry();
    hub.seen.length = 0;
    await importFromHub('tiny/tiny-bertweet', { registry: reg, cacheDir, hubUrl: hub.url, env: {} });
    const resolves = hub.seen.filter((s) => s.url.includes('/resolve/') && !s.url.startsWith('/cdn/'));
    expect(resolves.length).toBeGreaterThan(3);
    expect(resolves.every((s) => s.url.includes(`/resolve/${HUB_COMMIT}/`))).toBe(true);
  });

  it('takes an ONNX export committed as an onnx/ folder (BERTweet), and the top-level tokenizer files', async () => {
    const { registry: reg, cacheDir } = registry();
    const r = await importFromHub('tiny/tiny-bertweet', {
      registry: reg,
      cacheDir,
      hubUrl: hub.url,
      env: {},
    });
    expect(r.files).toEqual(
      expect.arrayContaining([
        'config.json',
        'vocab.txt',
        'bpe.codes',
        'added_tokens.json',
        'onnx/model.onnx',
      ]),
    );
    expect(r.files).not.toContain('pytorch_model.bin');
    const dir = (await resolveModel(`models:/${r.name}/1`, reg, cacheDir)).dir;
    // BertweetTokenizer is unknown to transformers.js: the package names the class it runs as
    const tc = JSON.parse(readFileSync(nodePath.join(dir, 'model', 'tokenizer_config.json'), 'utf8'));
    expect(tc.tokenizer_class).toBe('RobertaTokenizer');
    expect(r.warnings.join(' ')).toMatch(/BertweetTokenizer is run as RobertaTokenizer/);
  });

  it('writes the tokenizer_config.json a repo lacks (cardiffnlp-style RoBERTa), from config.json', async () => {
    const { registry: reg, cacheDir } = registry();
    const r = await importFromHub('tiny/tiny-roberta', { registry: reg, cacheDir, hubUrl: hub.url, env: {} });
    expect(r.files).toContain('onnx/model_int8.onnx');
    const dir = (await resolveModel(`models:/${r.name}/1`, reg, cacheDir)).dir;
    expect(existsSync(nodePath.join(dir, 'model', 'onnx', 'model_quantized.onnx'))).toBe(true);
    const tc = JSON.parse(readFileSync(nodePath.join(dir, 'model', 'tokenizer_config.json'), 'utf8'));
    // with the special tokens transformers.js reads from there (padding a batch needs pad_token)
    expect(tc).toEqual({
      tokenizer_class: 'RobertaTokenizer',
      model_max_length: 64,
      bos_token: '<s>',
      eos_token: '</s>',
      sep_token: '</s>',
      cls_token: '<s>',
      unk_token: '<unk>',
      pad_token: '<pad>',
      mask_token: '<mask>',
    });
  });

  it('says what a repo with only PyTorch/TensorFlow weights has, and how to get ONNX ones', async () => {
    const { registry: reg, cacheDir } = registry();
    const err = await rejection(
      importFromHub('tiny/pytorch-only', { registry: reg, cacheDir, hubUrl: hub.url, env: {} }),
    );
    expect(err.message).toContain('onnx/model_quantized.onnx or onnx/model.onnx');
    expect(err.message).toContain('pytorch_model.bin, tf_model.h5');
    expect(err.message).toMatch(/optimum-cli export onnx/);
    expect(await reg.getModel('tiny_pytorch-only')).toBeUndefined();
  });

  it('names a revision the hub does not have', async () => {
    const { registry: reg, cacheDir } = registry();
    const err = await rejection(
      importFromHub('tiny/tiny-bert', { registry: reg, cacheDir, hubUrl: hub.url, revision: 'v9', env: {} }),
    );
    expect(err.message).toMatch(/tiny\/tiny-bert at revision 'v9' was not found/);
  });

  it('imports a local folder in the hub layout (what optimum-cli export onnx writes)', async () => {
    const { registry: reg, cacheDir } = registry();
    const r = await importFromFolder(nodePath.join(FIXTURES, 'tiny-distilbert'), { registry: reg, cacheDir });
    expect(r.name).toBe('tiny-distilbert');
    expect(r.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    const model = readMlflowModel((await resolveModel('models:/tiny-distilbert/1', reg, cacheDir)).dir);
    expect(model.metadata).toMatchObject({
      source: 'folder',
      source_folder: nodePath.join(FIXTURES, 'tiny-distilbert'),
    });
  });
});
