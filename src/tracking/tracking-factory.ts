import { TweetlakeError } from '../errors.js';
import { localPathOf } from '../model/artifact-repo.js';
import { isHttpUri, MlflowHttpClient, mlflowHttpOptionsFromEnv } from '../model/mlflow-http.js';
import { FileTrackingStore } from './file-tracking-store.js';
import { RestTrackingStore } from './rest-tracking-store.js';
import type { TrackingStore } from './tracking-store.js';

/** Which tracking store the environment asks for. */
export interface TrackingChoice {
  kind: 'rest' | 'file';
  location: string;
}

/** MLFLOW_TRACKING_URI=http(s)://… → that server; a file:// URI or folder → a file store there; unset → `<lakehouse>/mlruns`. */
export function trackingChoice(
  lakehouseMlflowDir: string,
  env: NodeJS.ProcessEnv = process.env,
): TrackingChoice {
  const uri = env.MLFLOW_TRACKING_URI;
  if (!uri) return { kind: 'file', location: lakehouseMlflowDir };
  if (isHttpUri(uri)) return { kind: 'rest', location: uri };
  const local = /^databricks(-uc)?(:|$)/.test(uri) ? undefined : localPathOf(uri);
  if (local === undefined) {
    throw new TweetlakeError(
      'MLFLOW_URI_UNSUPPORTED',
      `unsupported MLFLOW_TRACKING_URI '${uri}': use an http(s):// MLflow server (for Databricks: https://<workspace-host> with MLFLOW_TRACKING_TOKEN), a local folder (file:///path), or unset it to use ${lakehouseMlflowDir}`,
      { domain: 'user' },
    );
  }
  return { kind: 'file', location: local };
}

/** Opens the tracking store the environment names (see trackingChoice). */
export function openTrackingStore(options: {
  lakehouseMlflowDir: string;
  env?: NodeJS.ProcessEnv;
}): TrackingStore {
  const env = options.env ?? process.env;
  const choice = trackingChoice(options.lakehouseMlflowDir, env);
  if (choice.kind === 'file') return new FileTrackingStore(choice.location);
  return new RestTrackingStore(
    new MlflowHttpClient(mlflowHttpOptionsFromEnv(env, 'tracking') ?? { baseUrl: choice.location }),
  );
}
