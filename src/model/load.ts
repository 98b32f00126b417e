import { availableParallelism } from 'node:os';
import { InferencePool } from './inference-pool.js';
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
