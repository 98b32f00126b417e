import { existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelRegistry, ModelVersionInfo } from './registry.js';

/** Name under which the bundled model is registered (SPEC.md). */
export const DEFAULT_MODEL_NAME = 'HF_TWEET_SENTIMENT';
/** The model URI the pipeline loads unless told otherwise. */
export const DEFAULT_MODEL_URI = `models:/${DEFAULT_MODEL_NAME}/Production`;

/** Folder of the MLflow model shipped in the package (models/hf_tweet_sentiment). */
export function bundledModelDir(): string {
  const here = nodePath.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = nodePath.resolve(here, up, 'models', 'hf_tweet_sentiment');
    if (existsSync(nodePath.join(dir, 'MLmodel'))) return dir;
  }
  return nodePath.resolve(here, '../../models/hf_tweet_sentiment');
}

/**
 * On first run: registers the bundled model as version 1 of HF_TWEET_SENTIMENT, in stage
 * Production and with alias 'production'. Resumable: a first run killed half-way is completed by
 * the next one. A model someone manages (two or more versions, or a Production version with the
 * alias) is left alone.
 */
export async function ensureBundledModelRegistered(
  registry: ModelRegistry,
): Promise<ModelVersionInfo | undefined> {
  const model = await registry.getModel(DEFAULT_MODEL_NAME);
  const complete =
    model !== undefined &&
    (model.versions.length > 1 ||
      (model.versions.some((v) => v.currentStage === 'Production') &&
        model.aliases.production !== undefined));
  if (complete) return undefined;
  let version =
    model?.versions[0] ??
    (await registry.createVersion(DEFAULT_MODEL_NAME, bundledModelDir(), {
      description: 'Bundled tweet sentiment model (MiniLM fine-tuned on TweetEval; see its model card)',
    }));
  if (version.currentStage !== 'Production') {
    version = await registry.transitionStage(DEFAULT_MODEL_NAME, version.version, 'Production');
  }
  if (model?.aliases.production === undefined)
    await registry.setAlias(DEFAULT_MODEL_NAME, 'production', version.version);
  return { ...version, aliases: ['production'] };
}
