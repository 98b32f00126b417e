import { existsSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parse } from 'yaml';
import { TweetlakeError, errorMessage, isNotFound } from '../errors.js';

/** What tweetlake needs from an MLflow model folder: where the Hugging Face files and ONNX weights are. */
export interface MlflowModel {
  dir: string;
  /** Folder in the Hugging Face layout (config.json, tokenizer.json, onnx/). */
  hfDir: string;
  /** dtype whose ONNX file exists: q8 (onnx/model_quantized.onnx) preferred, else fp32 (onnx/model.onnx). */
  dtype: 'q8' | 'fp32';
  maxLength: number;
  flavors: string[];
  metadata: Record<string, unknown>;
  /** The MLmodel file's fields. */
  raw: Record<string, unknown>;
}

export class InvalidModel extends TweetlakeError {
  constructor(dir: string, why: string) {
    super('MODEL_INVALID', `${dir} is not a usable model: ${why}`, { domain: 'user' });
  }
}

/** Reads an MLflow model folder (MLmodel file) holding an ONNX sequence classifier. */
export function readMlflowModel(dir: string): MlflowModel {
  const file = nodePath.join(dir, 'MLmodel');
  if (!existsSync(file)) throw new InvalidModel(dir, 'no MLmodel file');
  const raw = (parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const flavors = Object.keys((raw.flavors as Record<string, unknown>) ?? {});
  const metadata = (raw.metadata as Record<string, unknown>) ?? {};
  const candidates = [metadata.hf_dir, metadata.tokenizer_dir, 'model', '.'].filter(
    (x): x is string => typeof x === 'string',
  );
  const hfDir = candidates
    .map((c) => nodePath.resolve(dir, c))
    .find((d) => existsSync(nodePath.join(d, 'config.json')));
  if (!hfDir)
    throw new InvalidModel(
      dir,
      'no config.json of a Hugging Face model (looked in model/ and the folder itself)',
    );
  if (!existsSync(nodePath.join(hfDir, 'tokenizer.json')))
    throw new InvalidModel(dir, `no tokenizer.json in ${hfDir}`);
  const q8 = existsSync(nodePath.join(hfDir, 'onnx', 'model_quantized.onnx'));
  const fp32 = existsSync(nodePath.join(hfDir, 'onnx', 'model.onnx'));
  if (!q8 && !fp32)
    throw new InvalidModel(dir, `no onnx/model_quantized.onnx or onnx/model.onnx in ${hfDir}`);
  let maxLength = Number(metadata.max_length ?? 0);
  if (!maxLength) {
    const tc = readTokenizerConfig(dir, nodePath.join(hfDir, 'tokenizer_config.json'));
    maxLength = tc?.model_max_length && tc.model_max_length < 100_000 ? tc.model_max_length : 128;
  }
  return { dir, hfDir, dtype: q8 ? 'q8' : 'fp32', maxLength, flavors, metadata, raw };
}

/** A model's tokenizer_config.json (optional: undefined when absent; a damaged one is an InvalidModel). */
function readTokenizerConfig(dir: string, file: string): { model_max_length?: number } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as { model_max_length?: number };
  } catch (err) {
    throw new InvalidModel(dir, `${file} is not valid JSON (${errorMessage(err)})`);
  }
}
