import { mlflowLocation, type MlflowLocation } from '../mlflow/artifact-repo.js';
import { MlflowHttpClient, mlflowHttpOptionsFromEnv } from '../mlflow/http-client.js';
import { FileTrackingStore } from './file-tracking-store.js';
import { RestTrackingStore } from './rest-tracking-store.js';
import type { TrackingStore } from './tracking-store.js';
import { logFor } from '../log.js';
import { storeAt } from '../storage/locations.js';

/** MLFLOW_TRACKING_URI=http(s)://… → that server; a file:// URI or folder → a file store there; unset → `<lakehouse>/mlruns`. */
export function trackingChoice(
  lakehouseMlflowDir: string,
  env: NodeJS.ProcessEnv = process.env,
): MlflowLocation {
  return mlflowLocation(env.MLFLOW_TRACKING_URI, 'MLFLOW_TRACKING_URI', lakehouseMlflowDir);
}

/** Opens the tracking store the environment names (see trackingChoice). */
export function openTrackingStore(options: {
  lakehouseMlflowDir: string;
  env?: NodeJS.ProcessEnv;
}): TrackingStore {
  const env = options.env ?? process.env;
  const choice = trackingChoice(options.lakehouseMlflowDir, env);
  logFor('tracking').debug({ kind: choice.kind, location: choice.location }, 'tracking store');
  if (choice.kind === 'file') return new FileTrackingStore(storeAt(choice.location));
  return new RestTrackingStore(
    new MlflowHttpClient(mlflowHttpOptionsFromEnv(env, 'tracking') ?? { baseUrl: choice.location }),
  );
}
