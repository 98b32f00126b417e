import { existsSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { ModelRegistry, ModelVersionInfo, RegisteredModelInfo } from './registry.js';

/** Name under which the bundled model is registered (SPEC.md). */
export const DEFAULT_MODEL_NAME = 'HF_TWEET_SENTIMENT';
/** The model URI the pipeline loads unless told otherwise. */
export const DEFAULT_MODEL_URI = `models:/${DEFAULT_MODEL_NAME}/Production`;

const DESCRIPTION = 'Bundled tweet sentiment model (MiniLM fine-tuned on TweetEval; see its model card)';
/** The mark a registered version's description carries: which build of the bundled model it is. */
const BUNDLE_MARK = /tweetlake bundle ([^\s)]+)/;

/** Folder of the MLflow model shipped in the package (models/hf_tweet_sentiment). */
export function bundledModelDir(): string {
  const here = nodePath.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = nodePath.resolve(here, up, 'models', 'hf_tweet_sentiment');
    if (existsSync(nodePath.join(dir, 'MLmodel'))) return dir;
  }
  return nodePath.resolve(here, '../../models/hf_tweet_sentiment');
}

/** The `model_uuid` of an MLflow model folder's MLmodel file (one per build of a model). */
function modelUuid(dir: string): string | undefined {
  try {
    const uuid = (parse(readFileSync(nodePath.join(dir, 'MLmodel'), 'utf8')) as { model_uuid?: unknown })
      .model_uuid;
    return typeof uuid === 'string' ? uuid : undefined;
  } catch {
    return undefined; // a version whose files are elsewhere (a server's artifacts) or gone
  }
}

/** Which build of the bundled model a registered version is; undefined when it is not the bundled model. */
async function bundleOf(registry: ModelRegistry, v: ModelVersionInfo): Promise<string | undefined> {
  const marked = BUNDLE_MARK.exec(v.description ?? '')?.[1];
  if (marked) return marked;
  if (!v.description?.startsWith(DESCRIPTION)) return undefined;
  // Registered by an older tweetlake, without the mark: a local copy says which build it is.
  const local = v.source.startsWith('file:') || v.source.startsWith('/');
  return (local ? modelUuid(await registry.localModelDir(v, '')) : undefined) ?? 'unknown';
}

/** Whether the model is as tweetlake left it: its newest version, bundled, is the Production one and @production. */
async function onBundledDefault(registry: ModelRegistry, model: RegisteredModelInfo): Promise<boolean> {
  const newest = model.versions.at(-1);
  if (!newest) return true;
  const production = model.versions.filter((v) => v.currentStage === 'Production');
  return (
    production.length === 1 &&
    production[0] === newest &&
    model.aliases.production === newest.version &&
    (await bundleOf(registry, newest)) !== undefined
  );
}

/** Points @production at a version, then moves it to Production (the others there to Archived). */
async function promote(registry: ModelRegistry, v: ModelVersionInfo): Promise<ModelVersionInfo> {
  await registry.setAlias(DEFAULT_MODEL_NAME, 'production', v.version);
  const promoted = await registry.transitionStage(DEFAULT_MODEL_NAME, v.version, 'Production', true);
  return { ...promoted, aliases: [...new Set([...promoted.aliases, 'production'])] };
}

/**
 * Registers the bundled model as a version of HF_TWEET_SENTIMENT in stage Production with alias
 * `production`, once per build of the bundled model, and never against the user's wishes:
 * - when the name has no versions, the bundled model becomes version 1;
 * - when this build is registered already, nothing changes (whatever stage or alias the user gave
 *   it), except that a registration a killed process left half-done (the version still in stage
 *   None, never updated) is completed;
 * - when a new build ships, it becomes a new version and takes over Production and @production only
 *   if the model is as tweetlake left it (an earlier bundled build in Production and @production);
 *   a model someone manages is left alone.
 * Resolves with the version it registered or completed, or undefined when it changed nothing.
 */
export async function ensureBundledModelRegistered(
  registry: ModelRegistry,
): Promise<ModelVersionInfo | undefined> {
  const dir = bundledModelDir();
  const build = modelUuid(dir) ?? 'unknown';
  const model = await registry.getModel(DEFAULT_MODEL_NAME);
  for (const v of model?.versions ?? []) {
    if ((await bundleOf(registry, v)) !== build) continue;
    const halfDone = v.currentStage === 'None' && v.lastUpdatedTimestamp === v.creationTimestamp;
    return halfDone ? promote(registry, v) : undefined;
  }
  if (model && !(await onBundledDefault(registry, model))) return undefined;
  const created = await registry.createVersion(DEFAULT_MODEL_NAME, dir, {
    description: `${DESCRIPTION} (tweetlake bundle ${build})`,
  });
  // Processes starting together (the workers of a group) may each register this build: the lowest
  // version wins. Looked at before promoting and again after (a lower one may have become READY
  // meanwhile); the loser archives its own and makes sure the winner is promoted before it resolves.
  const winner = await lowestOfBuild(registry, build);
  const promoted = winner?.version === created.version ? await promote(registry, created) : undefined;
  const lowest = await lowestOfBuild(registry, build);
  if (!lowest || lowest.version === created.version) return promoted;
  const now = await registry.getModel(DEFAULT_MODEL_NAME);
  if (lowest.currentStage !== 'Production' || now?.aliases.production !== lowest.version)
    await promote(registry, lowest);
  await registry.transitionStage(DEFAULT_MODEL_NAME, created.version, 'Archived', false);
  return undefined;
}

/** The lowest (READY) version that holds this build of the bundled model. */
async function lowestOfBuild(registry: ModelRegistry, build: string): Promise<ModelVersionInfo | undefined> {
  for (const v of (await registry.getModel(DEFAULT_MODEL_NAME))?.versions ?? [])
    if ((await bundleOf(registry, v)) === build) return v;
  return undefined;
}
