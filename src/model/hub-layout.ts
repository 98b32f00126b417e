/**
 * Which files of a Hugging Face repo make a transformers.js text classifier, and where they go in
 * the packaged model folder. Repos lay ONNX exports out in several ways: transformers.js's `onnx/`
 * folder (`model.onnx`, `model_quantized.onnx`, or `model_int8.onnx` / `model_uint8.onnx`),
 * Optimum's export with `model.onnx` (and `model_quantized.onnx`) next to config.json, or an
 * Optimum export committed as an `onnx/` folder holding its own config and tokenizer files.
 * The package always has `onnx/model_quantized.onnx` (q8) and/or `onnx/model.onnx` (fp32).
 */
import { TOKENIZER_SOURCES, tokenizerKindOf, type TokenizerKind } from './tokenizer-convert.js';

/** ONNX files the package uses, by transformers.js dtype, each with the hub paths that can fill it, best first. */
export const ONNX_CANDIDATES = {
  'onnx/model_quantized.onnx': [
    'onnx/model_quantized.onnx',
    'onnx/model_int8.onnx',
    'onnx/model_uint8.onnx',
    'model_quantized.onnx',
  ],
  'onnx/model.onnx': ['onnx/model.onnx', 'model.onnx'],
} as const;

/** Files copied when present, beside config.json (tokenizer settings and special tokens). */
const TOKENIZER_EXTRAS = ['tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

/** The download plan of an import. */
export interface ImportPlan {
  /** Hub path -> path in the package's model/ folder. */
  files: { from: string; to: string }[];
  /** Packaged ONNX files (keys of ONNX_CANDIDATES), q8 first. */
  onnx: string[];
  /** tokenizer.json as it is, or the kind to build it from (its source files are in `files`). */
  tokenizer: 'tokenizer.json' | TokenizerKind;
  /** Weights the repo has in other formats, to say so when there are no ONNX ones. */
  otherWeights: string[];
  /** What the plan lacks; empty when it can be imported. */
  missing: string[];
}

const OTHER_WEIGHTS =
  /(^|\/)(pytorch_model[^/]*\.bin|model[^/]*\.safetensors|tf_model\.h5|flax_model\.msgpack)$/;

/** Names of the files directly in `folder` ('' for the top, or 'onnx/'). */
function filesIn(all: ReadonlySet<string>, folder: string): Set<string> {
  return new Set(
    [...all]
      .filter((p) => p.startsWith(folder) && !p.slice(folder.length).includes('/'))
      .map((p) => p.slice(folder.length)),
  );
}

/** Where the tokenizer comes from: a tokenizer.json, else files to build one from; top folder first. */
function tokenizerSource(
  all: ReadonlySet<string>,
): { folder: string; kind: 'tokenizer.json' | TokenizerKind } | undefined {
  const folders = ['', 'onnx/'].map((folder) => ({ folder, names: filesIn(all, folder) }));
  const ready = folders.find((f) => f.names.has('tokenizer.json'));
  if (ready) return { folder: ready.folder, kind: 'tokenizer.json' };
  for (const f of folders) {
    const kind = tokenizerKindOf(f.names);
    if (kind) return { folder: f.folder, kind };
  }
  return undefined;
}

/** Plans an import from a repo's file list (paths relative to its root). */
export function planImport(paths: readonly string[]): ImportPlan {
  const all = new Set(paths);
  const files: ImportPlan['files'] = [];
  const missing: string[] = [];
  const config = ['config.json', 'onnx/config.json'].find((c) => all.has(c));
  if (config) files.push({ from: config, to: 'config.json' });
  else missing.push('config.json');
  const tokenizer = tokenizerSource(all);
  if (!tokenizer)
    missing.push(
      'tokenizer.json (or vocab.txt, vocab.json + merges.txt, or vocab.txt + bpe.codes to build it from)',
    );
  else {
    const sources =
      tokenizer.kind === 'tokenizer.json' ? ['tokenizer.json'] : TOKENIZER_SOURCES[tokenizer.kind];
    for (const f of sources) files.push({ from: `${tokenizer.folder}${f}`, to: f });
    // settings beside the tokenizer, else beside config.json
    const beside = [tokenizer.folder, config?.startsWith('onnx/') ? 'onnx/' : ''];
    for (const f of TOKENIZER_EXTRAS) {
      const from = beside.map((b) => `${b}${f}`).find((p) => all.has(p));
      if (from) files.push({ from, to: f });
    }
  }

  const onnx: string[] = [];
  for (const [packaged, candidates] of Object.entries(ONNX_CANDIDATES)) {
    const found = candidates.find((c) => all.has(c));
    if (!found) continue;
    onnx.push(packaged);
    files.push({ from: found, to: packaged });
    // external weights (models over 2 GB) keep their name: the .onnx file refers to it
    for (const data of [`${found}_data`, `${found}.data`])
      if (all.has(data)) files.push({ from: data, to: `onnx/${data.split('/').pop()}` });
  }
  if (onnx.length === 0) missing.push('onnx/model_quantized.onnx or onnx/model.onnx (ONNX weights)');
  return {
    files,
    onnx,
    tokenizer: tokenizer?.kind ?? 'tokenizer.json',
    otherWeights: paths.filter((p) => OTHER_WEIGHTS.test(p)).sort(),
    missing,
  };
}
