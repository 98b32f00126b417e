import { availableParallelism } from 'node:os';
import { InferencePool } from './inference-pool.js';
import { ModelServerClassifier, type ModelServerOptions } from './model-server-classifier.js';
import { readMlflowModel } from './mlmodel.js';
import type { ResolvedModel } from './resolve.js';

/** How to run a model. */
export interface InferenceSettings {
  /** Worker threads (default: one per core). */
  workers?: number;
  threadsPerWorker?: number;
  batchSize?: number;
  /** Force fp32 weights when both are present. */
  dtype?: 'q8' | 'fp32';
}

/** Starts an inference pool for a resolved model. */
export async function loadClassifier(
  model: ResolvedModel,
  settings: InferenceSettings = {},
): Promise<InferencePool> {
  const m = readMlflowModel(model.dir);
  return InferencePool.create({
    modelDir: m.hfDir,
    info: { name: model.name, ...(model.version ? { version: model.version } : {}), uri: model.uri },
    workers: settings.workers ?? availableParallelism(),
    threadsPerWorker: settings.threadsPerWorker ?? 1,
    batchSize: settings.batchSize ?? 32,
    dtype: settings.dtype ?? m.dtype,
    maxLength: m.maxLength,
  });
}

/** How to call a model server (config `model.server`); the token comes from the environment only. */
export type ModelServerSettings = Omit<ModelServerOptions, 'uri' | 'token'>;

/** The environment variable holding the bearer token for a model server. */
export const MODEL_TOKEN_ENV = 'TWEETLAKE_MODEL_TOKEN';

/** Connects to the model server a `mlflow+…` or `oip+…` URI names, with the token from the environment. */
export function openModelServer(
  uri: string,
  settings: ModelServerSettings = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ModelServerClassifier> {
  const token = env[MODEL_TOKEN_ENV];
  return ModelServerClassifier.open({ ...settings, uri, ...(token ? { token } : {}) });
}
