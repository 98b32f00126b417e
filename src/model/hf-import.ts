/**
 * Imports an ONNX sequence-classification model from a Hugging Face hub (or any server with the hub's
 * `<hub>/<repo>/resolve/<revision>/<file>` URL layout) as an MLflow model folder laid out like the
 * bundled model, and registers it as a new version in a model registry.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { stringify } from 'yaml';
import { TweetlakeError, errorMessage } from '../errors.js';
import type { ModelRegistry, ModelVersionInfo } from './registry.js';

/** Files of a transformers.js ONNX text classifier: which must be there and which may. */
export const HF_REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
export const HF_OPTIONAL_FILES = ['special_tokens_map.json'] as const;
/** At least one of these must exist; quantized (q8) first, as the loader prefers it. */
export const HF_ONNX_FILES = ['onnx/model_quantized.onnx', 'onnx/model.onnx'] as const;

export interface HubImportOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  registry: ModelRegistry;
  /** Registered model name (default: the repo id with every '/' and other character MLflow dislikes turned into '_'). */
  name?: string;
  /** Hub base URL (default: env HF_ENDPOINT, else https://huggingface.co). */
  hubUrl?: string;
  /** Scratch space for the download (a temporary folder below it is removed afterwards). */
  cacheDir: string;
  /** Token for private or gated repos (default: env HF_TOKEN). */
  token?: string;
  env?: NodeJS.ProcessEnv;
}

export interface HubImportResult {
  name: string;
  version: ModelVersionInfo;
  /** Files downloaded, relative to the model's `model/` folder. */
  files: string[];
  /** Commit the revision resolved to, when the hub said (X-Repo-Commit). */
  commit?: string;
  labels: string[];
}

/** The hub refused or lacks something the import needs. */
export class HubImportError extends TweetlakeError {
  constructor(
    message: string,
    options: { domain?: 'user' | 'external'; retryable?: boolean; cause?: unknown } = {},
  ) {
    super('HF_IMPORT_FAILED', message, {
      domain: options.domain ?? 'user',
      retryable: options.retryable ?? false,
      cause: options.cause,
    });
  }
}

/** The registered model name used when none is given: `owner/model` → `owner_model`. */
export function defaultModelName(repoId: string): string {
  return repoId.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function checkRepoId(repoId: string): void {
  if (!/^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(repoId) || repoId.includes('..')) {
    throw new HubImportError(
      `'${repoId}' is not a Hugging Face repo id (expected owner/name, e.g. Xenova/distilbert-base-uncased-finetuned-sst-2-english)`,
    );
  }
}

type Fetched = { status: 'ok'; commit?: string } | { status: 'missing' };

async function download(
  url: string,
  dest: string,
  headers: Record<string, string>,
  what: string,
): Promise<Fetched> {
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(600_000) });
  } catch (err) {
    throw new HubImportError(
      `cannot reach ${url} (${errorMessage(err)}); without internet, set HF_ENDPOINT (or --hub-url) to a reachable mirror`,
      {
        domain: 'external',
        retryable: true,
        cause: err,
      },
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return { status: 'missing' };
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new HubImportError(
      `the hub refused ${what} (${res.status}): the repo does not exist, or it is private or gated — check the id, accept its terms on the hub and set HF_TOKEN`,
    );
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new HubImportError(`downloading ${url} failed: ${res.status} ${res.statusText}`, {
      domain: 'external',
      retryable: res.status >= 500,
    });
  }
  await fs.mkdir(nodePath.dirname(dest), { recursive: true });
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(dest));
  const commit = res.headers.get('x-repo-commit') ?? undefined;
  return commit ? { status: 'ok', commit } : { status: 'ok' };
}

interface HfConfig {
  id2label?: Record<string, string>;
  architectures?: string[];
  model_type?: string;
  max_position_embeddings?: number;
}

/** Labels in id order, from a config.json of a sequence classifier; throws when it is not one. */
export function classifierLabels(config: HfConfig, repoId: string): string[] {
  const archs = config.architectures ?? [];
  if (archs.length > 0 && !archs.some((a) => a.endsWith('ForSequenceClassification'))) {
    throw new HubImportError(
      `${repoId} is a ${archs.join(', ')}, not a sequence classifier (…ForSequenceClassification)`,
    );
  }
  const entries = Object.entries(config.id2label ?? {});
  if (entries.length === 0)
    throw new HubImportError(
      `${repoId}'s config.json has no id2label: it is not a sequence-classification model`,
    );
  return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, label]) => String(label));
}

function maxLengthOf(tokenizerConfig: { model_max_length?: number }, config: HfConfig): number {
  const m = tokenizerConfig.model_max_length;
  if (typeof m === 'number' && m > 0 && m < 100_000) return m;
  return Math.max(8, Math.min(512, (config.max_position_embeddings ?? 514) - 2));
}

/** The MLmodel file of an imported model: flavors onnx + python_function, as the bundled model has. */
export function hubMlmodel(info: {
  repoId: string;
  revision: string;
  commit?: string;
  hubUrl: string;
  labels: string[];
  id2label: Record<string, string>;
  maxLength: number;
  onnxFiles: string[];
}): Record<string, unknown> {
  const data = `model/${info.onnxFiles[0]}`;
  return {
    flavors: {
      onnx: { code: null, data, providers: ['CPUExecutionProvider'] },
      python_function: {
        data,
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: 'mlflow.onnx',
        python_version: '3.11',
      },
    },
    metadata: {
      task: 'text-classification',
      labels: info.labels,
      id2label: info.id2label,
      max_length: info.maxLength,
      hf_dir: 'model',
      model_dir: 'model',
      tokenizer: 'model/tokenizer.json',
      ...(info.onnxFiles.includes('onnx/model_quantized.onnx')
        ? { onnx_int8: 'model/onnx/model_quantized.onnx' }
        : {}),
      ...(info.onnxFiles.includes('onnx/model.onnx') ? { onnx_fp32: 'model/onnx/model.onnx' } : {}),
      onnx_output: 'logits',
      transformers_js_dtype: info.onnxFiles[0] === 'onnx/model_quantized.onnx' ? 'q8' : 'fp32',
      source: 'huggingface',
      source_repo: info.repoId,
      source_revision: info.revision,
      ...(info.commit ? { source_commit: info.commit } : {}),
      source_hub: info.hubUrl,
    },
    model_uuid: randomUUID().replace(/-/g, ''),
    utc_time_created: new Date().toISOString().replace('T', ' ').replace('Z', ''),
  };
}

const REQUIREMENTS = ['mlflow', 'onnx', 'onnxruntime', 'numpy'];

async function writeMlflowFolder(dir: string, mlmodel: Record<string, unknown>): Promise<void> {
  const text = stringify(mlmodel);
  await fs.writeFile(nodePath.join(dir, 'MLmodel'), text);
  // mlflow.onnx's pyfunc reads the MLmodel next to the .onnx file, as in the bundled model
  await fs.writeFile(nodePath.join(dir, 'model', 'onnx', 'MLmodel'), text);
  await fs.writeFile(nodePath.join(dir, 'requirements.txt'), `${REQUIREMENTS.join('\n')}\n`);
  await fs.writeFile(
    nodePath.join(dir, 'python_env.yaml'),
    stringify({ python: '3.11', build_dependencies: ['pip'], dependencies: ['-r requirements.txt'] }),
  );
  await fs.writeFile(
    nodePath.join(dir, 'conda.yaml'),
    stringify({
      channels: ['conda-forge'],
      dependencies: ['python=3.11', 'pip', { pip: REQUIREMENTS }],
      name: 'mlflow-env',
    }),
  );
}

/** Downloads a hub model's ONNX classifier files, packages them as an MLflow model and registers a new version. */
export async function importFromHub(repoId: string, options: HubImportOptions): Promise<HubImportResult> {
  checkRepoId(repoId);
  const env = options.env ?? process.env;
  const hubUrl = (options.hubUrl ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const token = options.token ?? env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const name = options.name ?? defaultModelName(repoId);
  const base = `${hubUrl}/${repoId}/resolve/${encodeURIComponent(revision)}`;

  await fs.mkdir(options.cacheDir, { recursive: true });
  const staging = nodePath.join(
    options.cacheDir,
    `hf-import-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  const hfDir = nodePath.join(staging, 'model');
  try {
    const got: string[] = [];
    const missing: string[] = [];
    let commit: string | undefined;
    const fetchFile = async (file: string): Promise<boolean> => {
      const r = await download(
        `${base}/${file}`,
        nodePath.join(hfDir, ...file.split('/')),
        headers,
        `${repoId}/${file}`,
      );
      if (r.status === 'missing') return false;
      commit ??= r.commit;
      got.push(file);
      return true;
    };
    for (const f of HF_REQUIRED_FILES) if (!(await fetchFile(f))) missing.push(f);
    if (missing.length === HF_REQUIRED_FILES.length) {
      throw new HubImportError(
        `${repoId} at revision '${revision}' was not found on ${hubUrl} (no ${missing.join(', ')}); check the repo id and revision`,
      );
    }
    const config = JSON.parse(
      await fs.readFile(nodePath.join(hfDir, 'config.json'), 'utf8').catch(() => '{}'),
    ) as HfConfig;
    const labels = missing.includes('config.json') ? [] : classifierLabels(config, repoId);
    for (const f of HF_OPTIONAL_FILES) await fetchFile(f);
    const onnxFiles: string[] = [];
    for (const f of HF_ONNX_FILES) {
      if (await fetchFile(f)) {
        onnxFiles.push(f);
        await fetchFile(`${f}_data`); // external weights of models over 2 GB, when there are any
      }
    }
    if (onnxFiles.length === 0)
      missing.push(
        `${HF_ONNX_FILES.join(' or ')} (ONNX weights; convert the model with Optimum or pick a repo that has an onnx/ folder)`,
      );
    if (missing.length > 0)
      throw new HubImportError(
        `${repoId} at revision '${revision}' on ${hubUrl} lacks ${missing.join(', ')}`,
      );

    const tokenizerConfig = JSON.parse(
      await fs.readFile(nodePath.join(hfDir, 'tokenizer_config.json'), 'utf8'),
    ) as { model_max_length?: number };
    const id2label: Record<string, string> = {};
    labels.forEach((l, i) => (id2label[String(i)] = l));
    await writeMlflowFolder(
      staging,
      hubMlmodel({
        repoId,
        revision,
        ...(commit ? { commit } : {}),
        hubUrl,
        labels,
        id2label,
        maxLength: maxLengthOf(tokenizerConfig, config),
        onnxFiles,
      }),
    );
    const version = await options.registry.createVersion(name, staging, {
      description: `Imported from ${hubUrl}/${repoId} at ${revision}${commit ? ` (commit ${commit})` : ''}`,
    });
    return { name, version, files: got, ...(commit ? { commit } : {}), labels };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
