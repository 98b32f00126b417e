/**
 * Imports an ONNX sequence-classification model from a Hugging Face hub (or any server with the hub's
 * API) or from a local folder in the Hugging Face layout, as an MLflow model folder laid out like
 * the bundled model, and registers it as a new version in a model registry. Repos without a
 * tokenizer.json get one built from their vocabulary files (tokenizer-convert.ts); the ONNX layouts
 * understood are in hub-layout.ts.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { hubMlmodel, writeMlflowFolder, type ImportOrigin } from './hf-package.js';
import { planImport, type ImportPlan } from './hub-layout.js';
import { folderSource, hubSource, HubImportError, type ModelSource } from './hub-source.js';
import type { ModelRegistry, ModelVersionInfo } from './registry.js';
import {
  byteLevelBpeTokenizer,
  fastBpeTokenizer,
  specialTokensOf,
  specialTokenText,
  tokenizerClassFor,
  wordPieceTokenizer,
  type TokenizerKind,
} from './tokenizer-convert.js';

export { HubImportError } from './hub-source.js';

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
  /** Files taken from the repo (their paths there). */
  files: string[];
  /** Commit the revision resolved to, when the hub said. */
  commit?: string;
  labels: string[];
  /** 'tokenizer.json' when the repo had one, else the files it was built from. */
  tokenizer: string;
  /** Things the user should know about the imported model (e.g. a normalization not applied). */
  warnings: string[];
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

type Json = Record<string, unknown>;

async function readJson(file: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new HubImportError(`${nodePath.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The tokenizer_config.json transformers.js needs, for repos that have none (tokenizer class by model type). */
function defaultTokenizerConfig(config: HfConfig, kind: TokenizerKind | undefined): Json {
  const byType: Record<string, string> = {
    bert: 'BertTokenizer',
    distilbert: 'DistilBertTokenizer',
    roberta: 'RobertaTokenizer',
    xlm_roberta: 'XLMRobertaTokenizer',
  };
  return {
    tokenizer_class: kind
      ? tokenizerClassFor(kind, config.model_type)
      : (byType[config.model_type ?? ''] ?? 'PreTrainedTokenizer'),
    model_max_length: maxLengthOf({}, config),
  };
}

const hasToken = (c: Json, k: string) =>
  typeof c[k] === 'string' || (c[k] as Json | undefined)?.__type === 'AddedToken';

/**
 * Names in tokenizer_config.json the special tokens transformers.js reads only from there: all of
 * them for a built tokenizer, the padding token (which batches need) for the others. True if any was added.
 */
function addSpecialTokens(tokenizerConfig: Json, kind: TokenizerKind | 'tokenizer.json', map: Json): boolean {
  const wanted: Record<string, string | undefined> =
    kind !== 'tokenizer.json'
      ? specialTokensOf(kind, tokenizerConfig, map)
      : hasToken(tokenizerConfig, 'pad_token') || hasToken(tokenizerConfig, 'eos_token')
        ? {}
        : { pad_token: specialTokenText(map.pad_token) };
  let added = false;
  for (const [k, v] of Object.entries(wanted)) {
    if (v === undefined || hasToken(tokenizerConfig, k)) continue;
    tokenizerConfig[k] = v;
    added = true;
  }
  return added;
}

/**
 * Builds model/tokenizer.json from the vocabulary files when the repo has none, and makes sure a
 * tokenizer_config.json naming a tokenizer class transformers.js knows is there. Returns notes.
 */
async function prepareTokenizer(
  hfDir: string,
  kind: TokenizerKind | 'tokenizer.json',
  config: HfConfig,
): Promise<string[]> {
  const at = (f: string) => nodePath.join(hfDir, f);
  const read = (f: string) => fs.readFile(at(f), 'utf8');
  const original = await readJson(at('tokenizer_config.json'));
  const tokenizerConfig =
    original ?? defaultTokenizerConfig(config, kind === 'tokenizer.json' ? undefined : kind);
  const map = (await readJson(at('special_tokens_map.json'))) ?? {};
  const notes: string[] = [];
  if (kind !== 'tokenizer.json') {
    const tokenizer =
      kind === 'wordpiece'
        ? wordPieceTokenizer(await read('vocab.txt'), tokenizerConfig, map)
        : kind === 'byte-level-bpe'
          ? byteLevelBpeTokenizer(await read('vocab.json'), await read('merges.txt'), tokenizerConfig, map)
          : fastBpeTokenizer(
              await read('vocab.txt'),
              await read('bpe.codes'),
              tokenizerConfig,
              map,
              (await readJson(at('added_tokens.json'))) ?? {},
            );
    await fs.writeFile(at('tokenizer.json'), JSON.stringify(tokenizer));
    const cls = tokenizerClassFor(kind, config.model_type);
    if (tokenizerConfig.tokenizer_class !== cls) {
      if (typeof tokenizerConfig.tokenizer_class === 'string')
        notes.push(
          `tokenizer_class ${tokenizerConfig.tokenizer_class} is run as ${cls} over the tokenizer.json built from its files`,
        );
      tokenizerConfig.tokenizer_class = cls;
    }
    if (kind === 'fastbpe' && tokenizerConfig.normalization === true)
      notes.push(
        "the tokenizer asks for BERTweet's tweet normalization (emoji to text, @USER, HTTPURL), which is not applied: texts are tokenized as given",
      );
  }
  const added = addSpecialTokens(tokenizerConfig, kind, map);
  if (!original || notes.length > 0 || added)
    await fs.writeFile(at('tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  return notes;
}

/** 'tokenizer.json', or the repo files the tokenizer was built from. */
function tokenizerProvenance(plan: ImportPlan): string {
  if (plan.tokenizer === 'tokenizer.json') return 'tokenizer.json';
  const sources = plan.files.filter((f) =>
    ['vocab.txt', 'vocab.json', 'merges.txt', 'bpe.codes'].includes(f.to),
  );
  return `built from ${sources.map((f) => f.from).join(' + ')}`;
}

/** Copies the planned files of `source`, packages them as an MLflow model and registers a new version. */
async function importModel(
  source: ModelSource,
  origin: (commit?: string) => ImportOrigin,
  name: string,
  options: { registry: ModelRegistry; cacheDir: string; what: string },
): Promise<HubImportResult> {
  const { paths, commit } = await source.list();
  const plan = planImport(paths);
  await fs.mkdir(options.cacheDir, { recursive: true });
  const staging = nodePath.join(
    options.cacheDir,
    `hf-import-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  const hfDir = nodePath.join(staging, 'model');
  const copy = (from: string, to: string) => source.copy(from, nodePath.join(hfDir, ...to.split('/')));
  try {
    if (paths.length === 0)
      throw new HubImportError(
        `${options.what} was not found or is empty (${source.description}); check the repo id and revision`,
      );
    const configFile = plan.files.find((f) => f.to === 'config.json');
    if (configFile) await copy(configFile.from, configFile.to);
    const config = ((await readJson(nodePath.join(hfDir, 'config.json'))) ?? {}) as HfConfig;
    const labels = configFile ? classifierLabels(config, options.what) : [];
    if (plan.missing.length > 0) throw missingFiles(options.what, source, plan.missing, plan.otherWeights);
    for (const f of plan.files) if (f !== configFile) await copy(f.from, f.to);
    const notes = await prepareTokenizer(hfDir, plan.tokenizer, config);
    const tokenizerConfig = (await readJson(nodePath.join(hfDir, 'tokenizer_config.json'))) ?? {};
    const tokenizer = tokenizerProvenance(plan);
    await writeMlflowFolder(
      staging,
      hubMlmodel({
        origin: origin(commit),
        labels,
        id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
        maxLength: maxLengthOf(tokenizerConfig as { model_max_length?: number }, config),
        onnxFiles: plan.onnx,
        tokenizer,
        notes,
      }),
    );
    const version = await options.registry.createVersion(name, staging, {
      description: `Imported from ${source.description}${commit ? ` (commit ${commit})` : ''}`,
    });
    return {
      name,
      version,
      files: plan.files.map((f) => f.from),
      ...(commit ? { commit } : {}),
      labels,
      tokenizer,
      warnings: notes,
    };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** What the repo lacks, with what it has instead and how to get ONNX weights. */
function missingFiles(
  what: string,
  source: ModelSource,
  missing: string[],
  otherWeights: string[],
): HubImportError {
  const noOnnx = missing.some((m) => m.includes('.onnx'));
  return new HubImportError(
    `${what} (${source.description}) lacks ${missing.join(', ')}` +
      (noOnnx && otherWeights.length
        ? `; it has ${otherWeights.join(', ')}, which tweetlake cannot run`
        : '') +
      (noOnnx
        ? '. Pick a revision or a converted copy of the model that has ONNX weights (an onnx/ folder), or export it ' +
          'with Optimum (optimum-cli export onnx --model <repo> --task text-classification <dir>) and import that folder'
        : ''),
  );
}

/** Downloads a hub model's ONNX classifier files, packages them as an MLflow model and registers a new version. */
export async function importFromHub(repoId: string, options: HubImportOptions): Promise<HubImportResult> {
  checkRepoId(repoId);
  const env = options.env ?? process.env;
  const hubUrl = (options.hubUrl ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const token = options.token ?? env.HF_TOKEN;
  const source = hubSource(repoId, { hubUrl, revision, ...(token ? { token } : {}) });
  return importModel(
    source,
    (commit) => ({ kind: 'hub', repoId, revision, ...(commit ? { commit } : {}), hubUrl }),
    options.name ?? defaultModelName(repoId),
    { registry: options.registry, cacheDir: options.cacheDir, what: `${repoId} at revision '${revision}'` },
  );
}

/** Imports a local folder in the Hugging Face layout (e.g. an Optimum ONNX export) as a new registered version. */
export async function importFromFolder(
  folder: string,
  options: { registry: ModelRegistry; cacheDir: string; name?: string },
): Promise<HubImportResult> {
  const dir = nodePath.resolve(folder);
  return importModel(
    folderSource(dir),
    () => ({ kind: 'folder', folder: dir }),
    options.name ?? defaultModelName(nodePath.basename(dir)),
    {
      registry: options.registry,
      cacheDir: options.cacheDir,
      what: `the folder ${dir}`,
    },
  );
}
