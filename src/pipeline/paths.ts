import { homedir } from 'node:os';
import * as nodePath from 'node:path';
import { isRemoteLocation, joinLocation, resolveLocation } from '../storage/locations.js';

/** The medallion tables, by the names `tweetlake sql` knows them. */
export const TABLE_NAMES = ['bronze', 'silver', 'gold', 'application', 'quarantine'] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** The streaming queries, in pipeline order. */
export const STREAM_NAMES = ['bronze_stream', 'silver_stream', 'gold_stream', 'application_stream'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

/** Every location of a lakehouse, derived from its root (a local folder or an `s3://` prefix). */
export interface LakehousePaths {
  root: string;
  tables: Record<TableName, string>;
  checkpoints: Record<StreamName, string>;
  /** MLflow file store (model registry; local tracking when no server is configured). */
  mlflow: string;
  /** Live state of running streams, readable by other processes (`tweetlake streams`). */
  state: string;
  /** Cache of downloaded models: a local folder (under the root, or the user's cache when the root is remote). */
  modelCache: string;
  /** Schedules and their run history. */
  schedules: string;
  /** Delta table of model scores by model version and text (survives `clear`). */
  predictionCache: string;
}

export function lakehousePaths(root: string): LakehousePaths {
  const r = resolveLocation(root);
  const tables = Object.fromEntries(TABLE_NAMES.map((t) => [t, joinLocation(r, t)])) as Record<
    TableName,
    string
  >;
  const checkpoints = Object.fromEntries(
    STREAM_NAMES.map((s) => [s, joinLocation(r, '_checkpoints', s)]),
  ) as Record<StreamName, string>;
  return {
    root: r,
    tables,
    checkpoints,
    mlflow: joinLocation(r, 'mlruns'),
    state: joinLocation(r, '_state'),
    modelCache: isRemoteLocation(r) ? localModelCache() : joinLocation(r, '_models'),
    schedules: joinLocation(r, '_schedules'),
    predictionCache: joinLocation(r, '_cache', 'predictions'),
  };
}

/** Where models are unpacked for a lakehouse on object storage: onnxruntime opens local files only. */
function localModelCache(): string {
  const base = process.env.XDG_CACHE_HOME || nodePath.join(homedir(), '.cache');
  return nodePath.join(base, 'tweetlake', 'models');
}
