import { mlflowLocation, type MlflowLocation } from '../mlflow/artifact-repo.js';
import { FileModelRegistry } from './file-registry.js';
import { MlflowHttpClient, mlflowHttpOptionsFromEnv } from '../mlflow/http-client.js';
import type { ModelRegistry } from './registry.js';
import { RestModelRegistry } from './rest-registry.js';
import { logFor } from '../log.js';
import { storeAt } from '../storage/locations.js';

/** Which registry the environment asks for (MLFLOW_REGISTRY_URI, else MLFLOW_TRACKING_URI, else the lakehouse). */
export function registryChoice(
  lakehouseMlflowDir: string,
  env: NodeJS.ProcessEnv = process.env,
): MlflowLocation {
  return env.MLFLOW_REGISTRY_URI
    ? mlflowLocation(env.MLFLOW_REGISTRY_URI, 'MLFLOW_REGISTRY_URI', lakehouseMlflowDir)
    : mlflowLocation(env.MLFLOW_TRACKING_URI, 'MLFLOW_TRACKING_URI', lakehouseMlflowDir);
}

/** Opens the model registry: a RestModelRegistry when an http(s) MLflow URI is set, else a FileModelRegistry. */
export function openRegistry(options: {
  lakehouseMlflowDir: string;
  env?: NodeJS.ProcessEnv;
}): ModelRegistry {
  const env = options.env ?? process.env;
  const choice = registryChoice(options.lakehouseMlflowDir, env);
  logFor('model').debug({ kind: choice.kind, location: choice.location }, 'model registry');
  if (choice.kind === 'file') return new FileModelRegistry(storeAt(choice.location));
  const http = mlflowHttpOptionsFromEnv(env, 'registry');
  return new RestModelRegistry(new MlflowHttpClient(http ?? { baseUrl: choice.location }));
}
