import * as nodePath from 'node:path';

/** The medallion tables, by the names `tweetlake sql` knows them. */
export const TABLE_NAMES = ['bronze', 'silver', 'gold', 'application', 'quarantine'] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** The streaming queries, in pipeline order. */
export const STREAM_NAMES = ['bronze_stream', 'silver_stream', 'gold_stream', 'application_stream'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

/** Every location of a lakehouse, derived from its root. */
export interface LakehousePaths {
  root: string;
  tables: Record<TableName, string>;
  checkpoints: Record<StreamName, string>;
  /** MLflow file store (model registry; local tracking when no server is configured). */
  mlflow: string;
  /** Live state of running streams, readable by other processes (`tweetlake streams`). */
  state: string;
  /** Cache of downloaded models. */
  modelCache: string;
  /** Schedules and their run history. */
  schedules: string;
  /** Delta table of model scores by model version and text (survives `clear`). */
  predictionCache: string;
}

export function lakehousePaths(root: string): LakehousePaths {
  const r = nodePath.resolve(root);
  const tables = Object.fromEntries(TABLE_NAMES.map((t) => [t, nodePath.join(r, t)])) as Record<
    TableName,
    string
  >;
  const checkpoints = Object.fromEntries(
    STREAM_NAMES.map((s) => [s, nodePath.join(r, '_checkpoints', s)]),
  ) as Record<StreamName, string>;
  return {
    root: r,
    tables,
    checkpoints,
    mlflow: nodePath.join(r, 'mlruns'),
    state: nodePath.join(r, '_state'),
    modelCache: nodePath.join(r, '_models'),
    schedules: nodePath.join(r, '_schedules'),
    predictionCache: nodePath.join(r, '_cache', 'predictions'),
  };
}
