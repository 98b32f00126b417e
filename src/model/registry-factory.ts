import { TweetlakeError } from '../errors.js';
import { localPathOf } from './artifact-repo.js';
import { FileModelRegistry } from './file-registry.js';
import { isHttpUri, MlflowHttpClient, mlflowHttpOptionsFromEnv } from './mlflow-http.js';
import type { ModelRegistry } from './registry.js';
import { RestModelRegistry } from './rest-registry.js';

/** Where the registry is, from the environment: an MLflow server, or MLflow's file store in the lakehouse. */
export interface RegistryChoice {
  kind: 'rest' | 'file';
  location: string;
}

/** Which registry the environment asks for (MLFLOW_REGISTRY_URI, else MLFLOW_TRACKING_URI, else the lakehouse). */
export function registryChoice(
  lakehouseMlflowDir: string,
  env: NodeJS.ProcessEnv = process.env,
): RegistryChoice {
  const uri = env.MLFLOW_REGISTRY_URI || env.MLFLOW_TRACKING_URI;
  if (!uri) return { kind: 'file', location: lakehouseMlflowDir };
  if (isHttpUri(uri)) return { kind: 'rest', location: uri };
  const local = /^databricks(-uc)?(:|$)/.test(uri) ? undefined : localPathOf(uri);
  if (local === undefined) {
    throw new TweetlakeError(
      'MLFLOW_URI_UNSUPPORTED',
      `unsupported MLflow registry URI '${uri}': use an http(s):// MLflow server (for Databricks: https://<workspace-host> with MLFLOW_TRACKING_TOKEN), a local folder (file:///path), or unset MLFLOW_REGISTRY_URI/MLFLOW_TRACKING_URI to use ${lakehouseMlflowDir}`,
      { domain: 'user' },
    );
  }
  return { kind: 'file', location: local };
}

/** Opens the model registry: a RestModelRegistry when an http(s) MLflow URI is set, else a FileModelRegistry. */
export function openRegistry(options: {
  lakehouseMlflowDir: string;
  env?: NodeJS.ProcessEnv;
}): ModelRegistry {
  const env = options.env ?? process.env;
  const choice = registryChoice(options.lakehouseMlflowDir, env);
  if (choice.kind === 'file') return new FileModelRegistry(choice.location);
  const http = mlflowHttpOptionsFromEnv(env, 'registry');
  return new RestModelRegistry(new MlflowHttpClient(http ?? { baseUrl: choice.location }));
}
