/**
 * MLflow tracking behind one interface: experiments, runs, metrics/params/tags (log-batch), artifacts.
 * Two backends: MLflow's file store in the lakehouse (FileTrackingStore) and an MLflow server (RestTrackingStore).
 */
import { osUserName } from '../os-user.js';
import * as nodePath from 'node:path';
import { TweetlakeError } from '../errors.js';
import type { ArtifactEntry } from '../mlflow/http-client.js';

export type { ArtifactEntry };

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: string;
  tags: Record<string, string>;
  creationTime?: number;
  lastUpdateTime?: number;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  lifecycleStage: string;
}

export interface Metric {
  key: string;
  value: number;
  /** ms since the epoch */
  timestamp: number;
  step: number;
}

export interface RunData {
  /** The latest value of each metric (largest step, then timestamp, then value: MLflow's rule). */
  metrics: Record<string, number>;
  params: Record<string, string>;
  tags: Record<string, string>;
}

export interface Run {
  info: RunInfo;
  data: RunData;
}

/** What one log-batch call carries; the store splits it to the server's limits. */
export interface LogBatch {
  metrics?: Metric[];
  params?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface CreateRunOptions {
  runName?: string;
  tags?: Record<string, string>;
  startTime?: number;
}

/** An MLflow tracking store. */
export interface TrackingStore {
  /** A folder or a server URL, for messages. */
  readonly location: string;
  getExperimentByName(name: string): Promise<Experiment | undefined>;
  /** The experiment with this name, created when there is none. */
  getOrCreateExperiment(name: string, tags?: Record<string, string>): Promise<Experiment>;
  /** Starts a run (status RUNNING) carrying the mlflow.* source/user/runName tags. */
  createRun(experimentId: string, options?: CreateRunOptions): Promise<RunInfo>;
  /** Logs metrics, params and tags; params are write-once as in MLflow. */
  logBatch(runId: string, batch: LogBatch): Promise<void>;
  setTag(runId: string, key: string, value: string): Promise<void>;
  /** Copies a local file to `<artifact root>/<artifactPath>/<basename>`. */
  logArtifact(runId: string, localFile: string, artifactPath?: string): Promise<void>;
  /** Copies a local folder's contents below `<artifact root>/<artifactPath>`. */
  logArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void>;
  listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]>;
  /** Downloads a run's artifact (file or folder) into `destDir`; the local path of what came. */
  downloadArtifacts(runId: string, path: string, destDir: string): Promise<string>;
  endRun(runId: string, status?: RunStatus, endTime?: number): Promise<void>;
  getRun(runId: string): Promise<Run>;
  getMetricHistory(runId: string, key: string): Promise<Metric[]>;
  /** Runs of an experiment, newest first (by start time). */
  searchRuns(experimentId: string, options?: { maxResults?: number }): Promise<Run[]>;
}

/** Bad input to a tracking call (names, lengths, changing a param). */
export class InvalidTrackingInput extends TweetlakeError {
  constructor(message: string) {
    super('TRACKING_INVALID_INPUT', message, { domain: 'user' });
  }
}

/** A run or experiment that is not there. */
export class TrackingNotFound extends TweetlakeError {
  constructor(what: string, where: string) {
    super('TRACKING_NOT_FOUND', `${what} is not in the MLflow tracking store at ${where}`, {
      domain: 'user',
    });
  }
}

/** MLflow's limits (mlflow/utils/validation.py) that a log-batch request must respect. */
export const MLFLOW_LIMITS = {
  maxMetricsPerBatch: 1000,
  maxParamsTagsPerBatch: 100,
  maxEntitiesPerBatch: 1000,
  maxRequestBytes: 1_000_000,
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
} as const;

export type BatchLimits = { -readonly [K in keyof typeof MLFLOW_LIMITS]: number };

// MLflow (POSIX): alphanumerics (Python's \w is Unicode-aware), '_', '-', '.', ' ', ':', '/'
const KEY = /^[/\p{L}\p{N}_.\- :]*$/u;

/** Throws unless `key` is a metric/param/tag name MLflow accepts (and that is safe as a file path). */
export function checkKey(kind: string, key: string): void {
  if (!key || !KEY.test(key)) {
    throw new InvalidTrackingInput(
      `invalid ${kind} name '${key}': names may only contain alphanumerics, '_', '-', '.', ' ', ':' and '/'`,
    );
  }
  const norm = nodePath.posix.normalize(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    throw new InvalidTrackingInput(`invalid ${kind} name '${key}': it would resolve to the path '${norm}'`);
  }
  if (key.length > MLFLOW_LIMITS.maxKeyLength)
    throw new InvalidTrackingInput(
      `${kind} name '${key.slice(0, 40)}…' is longer than ${MLFLOW_LIMITS.maxKeyLength} characters`,
    );
}

/** Validates a batch as MLflow would, before anything is written or sent. */
export function validateBatch(batch: LogBatch): void {
  for (const m of batch.metrics ?? []) {
    checkKey('metric', m.key);
    if (typeof m.value !== 'number')
      throw new InvalidTrackingInput(`metric '${m.key}' has a non-numeric value`);
    if (!Number.isSafeInteger(m.timestamp))
      throw new InvalidTrackingInput(`metric '${m.key}' needs an integer timestamp in ms`);
    if (!Number.isSafeInteger(m.step))
      throw new InvalidTrackingInput(`metric '${m.key}' needs an integer step`);
  }
  for (const [k, v] of Object.entries(batch.params ?? {})) {
    checkKey('param', k);
    if (v.length > MLFLOW_LIMITS.maxParamValueLength)
      throw new InvalidTrackingInput(
        `param '${k}' is longer than ${MLFLOW_LIMITS.maxParamValueLength} characters`,
      );
  }
  for (const [k, v] of Object.entries(batch.tags ?? {})) {
    checkKey('tag', k);
    if (v.length > MLFLOW_LIMITS.maxTagValueLength)
      throw new InvalidTrackingInput(
        `tag '${k}' is longer than ${MLFLOW_LIMITS.maxTagValueLength} characters`,
      );
  }
}

/** A metric as MLflow's JSON wants it (NaN and infinities as protobuf JSON strings). */
export function metricJson(m: Metric): {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
} {
  const value = Number.isFinite(m.value)
    ? m.value
    : Number.isNaN(m.value)
      ? 'NaN'
      : m.value > 0
        ? 'Infinity'
        : '-Infinity';
  return { key: m.key, value, timestamp: m.timestamp, step: m.step };
}

/** One log-batch request body, ready to POST. */
export interface LogBatchRequest {
  run_id: string;
  metrics: ReturnType<typeof metricJson>[];
  params: { key: string; value: string }[];
  tags: { key: string; value: string }[];
}

/**
 * Splits a batch into requests within MLflow's limits: at most 1000 metrics, 100 params, 100 tags and
 * 1000 entities in all, and at most 1,000,000 bytes of JSON each. Params go first, then tags, then metrics.
 */
export function splitLogBatch(
  runId: string,
  batch: LogBatch,
  limits: BatchLimits = { ...MLFLOW_LIMITS },
): LogBatchRequest[] {
  const envelope = Buffer.byteLength(JSON.stringify({ run_id: runId, metrics: [], params: [], tags: [] }));
  const out: LogBatchRequest[] = [];
  let cur: LogBatchRequest | undefined;
  let bytes = 0;
  const add = (kind: 'metrics' | 'params' | 'tags', entity: LogBatchRequest[typeof kind][number]): void => {
    const size = Buffer.byteLength(JSON.stringify(entity)) + 1;
    const fits = (r: LogBatchRequest): boolean => {
      const entities = r.metrics.length + r.params.length + r.tags.length;
      const countOk =
        kind === 'metrics'
          ? r.metrics.length < limits.maxMetricsPerBatch
          : r[kind].length < limits.maxParamsTagsPerBatch;
      return countOk && entities < limits.maxEntitiesPerBatch && bytes + size <= limits.maxRequestBytes;
    };
    if (!cur || !fits(cur)) {
      if (envelope + size > limits.maxRequestBytes)
        throw new InvalidTrackingInput(`one ${kind} entry is larger than a whole log-batch request`);
      cur = { run_id: runId, metrics: [], params: [], tags: [] };
      out.push(cur);
      bytes = envelope;
    }
    (cur[kind] as (typeof entity)[]).push(entity);
    bytes += size;
  };
  for (const [key, value] of Object.entries(batch.params ?? {})) add('params', { key, value });
  for (const [key, value] of Object.entries(batch.tags ?? {})) add('tags', { key, value });
  for (const m of batch.metrics ?? []) add('metrics', metricJson(m));
  return out;
}

/** The latest value per key, by MLflow's rule (max of step, timestamp, value). */
export function latestMetrics(history: Metric[]): Record<string, number> {
  const best = new Map<string, Metric>();
  for (const m of history) {
    const b = best.get(m.key);
    if (
      !b ||
      m.step > b.step ||
      (m.step === b.step && (m.timestamp > b.timestamp || (m.timestamp === b.timestamp && m.value > b.value)))
    )
      best.set(m.key, m);
  }
  return Object.fromEntries([...best].map(([k, m]) => [k, m.value]));
}

/** A readable default run name: `<prefix>-YYYYMMDD-HHMMSS`. */
export function defaultRunName(prefix = 'tweetlake', now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${prefix}-${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}

/** The tags MLflow's own clients put on every run (user, source, run name), merged under the caller's tags. */
export function systemRunTags(runName: string, extra: Record<string, string> = {}): Record<string, string> {
  // MLflow's clients put the entry script's path here; ours is the CLI (or the caller's script)
  const script = process.argv[1] || 'tweetlake';
  return {
    'mlflow.user': runUser(),
    'mlflow.source.name': script,
    'mlflow.source.type': 'LOCAL',
    'mlflow.runName': runName,
    ...extra,
  };
}

/** The user name runs are created under. */
export function runUser(): string {
  return osUserName() ?? 'unknown';
}

/** The newest run of an experiment (by start time), if it has any. */
export async function latestRun(store: TrackingStore, experimentId: string): Promise<Run | undefined> {
  return (await store.searchRuns(experimentId, { maxResults: 1 }))[0];
}
