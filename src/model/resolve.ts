import { existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { TweetlakeError } from '../errors.js';
import { formatModelUri, parseModelUri, type ModelUri } from './model-uri.js';
import { ModelNotFound, type ModelRegistry, type ModelVersionInfo } from './registry.js';

/** A model URI resolved to a local MLflow model folder. */
export interface ResolvedModel {
  uri: string;
  dir: string;
  name: string;
  version?: string;
  stage?: string;
}

/** Finds the registry version a `models:/` URI names. */
export async function resolveVersion(
  registry: ModelRegistry,
  u: Extract<ModelUri, { name: string }>,
): Promise<ModelVersionInfo> {
  const model = await registry.getModel(u.name);
  if (!model) throw new ModelNotFound(`model '${u.name}'`, registry.location);
  const byNumber = (vs: ModelVersionInfo[]) => vs.sort((a, b) => Number(b.version) - Number(a.version))[0];
  let found: ModelVersionInfo | undefined;
  if (u.kind === 'version') found = model.versions.find((v) => v.version === u.version);
  else if (u.kind === 'latest') found = byNumber([...model.versions]);
  else if (u.kind === 'stage')
    found = byNumber(model.versions.filter((v) => v.currentStage.toLowerCase() === u.stage.toLowerCase()));
  else {
    const version = model.aliases[u.alias];
    found = version === undefined ? undefined : model.versions.find((v) => v.version === version);
  }
  if (!found) throw new ModelNotFound(formatModelUri(u), registry.location);
  return found;
}

/**
 * Resolves any model URI to a local folder: registry URIs through the registry (downloading from a
 * server into `cacheDir`), `runs:/` through `runArtifacts`, paths as they are.
 */
export async function resolveModel(
  uri: string,
  registry: ModelRegistry,
  cacheDir: string,
  runArtifacts?: (runId: string, path: string, cacheDir: string) => Promise<string>,
): Promise<ResolvedModel> {
  const u = parseModelUri(uri);
  if (u.kind === 'path') {
    const dir = nodePath.resolve(u.path);
    if (!existsSync(dir)) throw new ModelNotFound(`folder ${dir}`, 'the file system');
    return { uri, dir, name: nodePath.basename(dir) };
  }
  if (u.kind === 'run') {
    if (!runArtifacts)
      throw new TweetlakeError(
        'MODEL_RUN_URI',
        `cannot resolve ${uri}: no tracking store to read run artifacts from`,
        { domain: 'user' },
      );
    return { uri, dir: await runArtifacts(u.runId, u.path, cacheDir), name: u.path };
  }
  const v = await resolveVersion(registry, u);
  return {
    uri,
    dir: await registry.localModelDir(v, cacheDir),
    name: v.name,
    version: v.version,
    stage: v.currentStage,
  };
}
