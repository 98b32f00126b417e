import { existsSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { TweetlakeError, errorMessage } from '../errors.js';
import { isKafkaUri } from '../engine/kafka-uri.js';
import type { KafkaConnection } from '../engine/kafka-reader.js';
import type { KafkaSourceOptions } from '../engine/kafka-source.js';
import { resolveLocation, type StorageOptions } from '../storage/locations.js';
import { CONFIG_FILE_SCHEMA, configIssues } from './config-schema.js';
import { DEFAULT_MODEL_URI } from '../model/bundled.js';
import type { ModelServerSettings } from '../model/load.js';
import type { Orchestration, TriggerMode } from './pipeline.js';

/** Every setting of tweetlake, with its default. Paths derive from `root`. */
export interface TweetlakeConfig {
  /** Lakehouse root: tables, checkpoints, MLflow store, stream state (a folder or `s3://bucket/prefix`). */
  root: string;
  /** Folder (or `s3://bucket/prefix`) of source JSON files. */
  source: string;
  orchestration: Orchestration;
  trigger: TriggerMode;
  pollIntervalMs: number;
  maxFilesPerTrigger?: number;
  /** Source bytes per bronze batch: large files are read in ranges of this size (bounds memory). */
  maxBytesPerTrigger?: number;
  /** A source file is read once it has not changed for this long (ms). */
  fileSettleMs: number;
  /** Read a source file again, whole, when it changes after it was read (else: a warning and a quarantine record). */
  allowOverwrites: boolean;
  /** A source record longer than this (bytes) is quarantined by offset and length, not read. */
  maxRecordBytes: number;
  dropTweetsWithoutMentions: boolean;
  schemaEvolution: boolean;
  /** Failed attempts of a batch (retryable errors are retried at once, with backoff) before it is given up on. */
  maxBatchAttempts: number;
  /** First wait before retrying a batch (ms); doubled on each attempt, with jitter. */
  retryBackoffMs: number;
  model: {
    /** A registered model, a folder, or a model server (`mlflow+http(s)://…`, `oip+http(s)://…/v2/models/NAME`). */
    uri: string;
    workers?: number;
    threadsPerWorker?: number;
    batchSize: number;
    /** Take scores from the prediction cache and add new ones to it (`--no-cache` turns it off). */
    cache: boolean;
    /** How to call a model server (batch size, requests in flight, time-out, tries); token: TWEETLAKE_MODEL_TOKEN. */
    server?: ModelServerSettings;
  };
  duckdb: { memoryLimit?: string; threads?: number };
  /** `tweetlake schedule`: the IANA time zone cron expressions are read in (default: the machine's). */
  schedule: { timezone?: string };
  /** How `s3://` locations are reached (the rest from the AWS variables and chain) and the local cache of their data files. */
  storage: StorageOptions;
  /**
   * A `kafka://` source: where partitions start the first time, records per batch, the client id,
   * and how long the broker may stay unreachable before a batch fails (default 120 s).
   */
  kafka: {
    startingOffsets?: string;
    maxOffsetsPerTrigger?: number;
    clientId?: string;
    retryMs?: number;
    /** SASL over the connection (with `tls`, SASL_SSL); the password in the file or, better, in a variable. */
    sasl?: {
      mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
      username: string;
      password?: string;
      passwordEnv?: string;
    };
    /** TLS to the brokers: true (the system's CAs), or a CA file, host name check and server name. */
    tls?: boolean | { caFile?: string; rejectUnauthorized?: boolean; serverName?: string };
  };
}

/** The Kafka client's connection settings of a config: client id, SASL (password resolved) and TLS. */
export function kafkaConnection(k: TweetlakeConfig['kafka']): KafkaConnection {
  const out: KafkaConnection = k.clientId ? { clientId: k.clientId } : {};
  if (k.sasl) {
    const { mechanism, username, password, passwordEnv } = k.sasl;
    if ((password === undefined) === (passwordEnv === undefined))
      throw new ConfigError('kafka.sasl needs one of password and passwordEnv (the variable that holds it)');
    const secret = password ?? process.env[passwordEnv!];
    if (secret === undefined || secret === '')
      throw new ConfigError(`kafka.sasl.passwordEnv names ${passwordEnv}, which is not set`);
    out.sasl = { mechanism, username, password: secret };
  }
  if (k.tls === true) out.tls = {};
  else if (k.tls) {
    let ca: string | undefined;
    if (k.tls.caFile)
      try {
        ca = readFileSync(k.tls.caFile, 'utf8');
      } catch (err) {
        throw new ConfigError(`kafka.tls.caFile ${k.tls.caFile} cannot be read: ${errorMessage(err)}`);
      }
    out.tls = {
      ...(ca ? { ca } : {}),
      ...(k.tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: k.tls.rejectUnauthorized } : {}),
      ...(k.tls.serverName ? { servername: k.tls.serverName } : {}),
    };
  }
  return out;
}

/** A Kafka source's options from a config: where to start, batch size, retries and the connection. */
export function kafkaSourceOptions(k: TweetlakeConfig['kafka']): Omit<KafkaSourceOptions, 'uri'> {
  return {
    ...(k.startingOffsets !== undefined ? { startingOffsets: k.startingOffsets } : {}),
    ...(k.maxOffsetsPerTrigger !== undefined ? { maxOffsetsPerTrigger: k.maxOffsetsPerTrigger } : {}),
    ...(k.retryMs !== undefined ? { retryMs: k.retryMs } : {}),
    ...kafkaConnection(k),
  };
}

/** The package's own folder (holds models/ and data/sample/). */
export function packageRoot(): string {
  const here = nodePath.dirname(fileURLToPath(import.meta.url));
  return nodePath.resolve(here, '../..');
}

/** The bundled sample source. */
export function bundledSampleDir(): string {
  return nodePath.join(packageRoot(), 'data', 'sample');
}

export function defaultConfig(): TweetlakeConfig {
  return {
    root: nodePath.resolve('lakehouse'),
    source: bundledSampleDir(),
    orchestration: 'sequential',
    trigger: 'available-now',
    pollIntervalMs: 1000,
    maxFilesPerTrigger: 10,
    // Keeps a bronze batch well inside the default DuckDB limit of 512 MB (docs/BENCHMARKS.md).
    maxBytesPerTrigger: 64 << 20,
    fileSettleMs: 1000,
    allowOverwrites: false,
    maxRecordBytes: 10 << 20,
    dropTweetsWithoutMentions: false,
    schemaEvolution: false,
    maxBatchAttempts: 3,
    retryBackoffMs: 1000,
    model: { uri: DEFAULT_MODEL_URI, batchSize: 32, cache: true },
    // DuckDB keeps freed buffers up to its limit (80% of RAM by default); a limit keeps memory flat,
    // and DuckDB spills to disk past it (docs/BENCHMARKS.md).
    duckdb: { memoryLimit: '512MB' },
    schedule: {},
    storage: {},
    kafka: {},
  };
}

export class ConfigError extends TweetlakeError {
  constructor(message: string) {
    super('CONFIG_INVALID', message, { domain: 'user' });
  }
}

/** Each key optional, one level down too: what a config file, the environment or flags may set. */
export type ConfigOverrides = {
  [K in keyof TweetlakeConfig]?: TweetlakeConfig[K] extends object
    ? Partial<TweetlakeConfig[K]>
    : TweetlakeConfig[K];
};

function merge(base: TweetlakeConfig, over: ConfigOverrides): TweetlakeConfig {
  const out = {
    ...base,
    model: { ...base.model },
    duckdb: { ...base.duckdb },
    schedule: { ...base.schedule },
    storage: { ...base.storage },
    kafka: { ...base.kafka },
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    if (k === 'model' || k === 'duckdb' || k === 'schedule' || k === 'storage' || k === 'kafka')
      Object.assign(
        out[k],
        Object.fromEntries(Object.entries(v as object).filter(([, x]) => x !== undefined)),
      );
    else (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new ConfigError(`${name} must be a non-negative number, got '${value}'`);
  return n;
}

function bool(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be true or false (1 or 0), got '${value}'`);
}

/** Settings from environment variables (TWEETLAKE_*). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigOverrides {
  return {
    root: env.TWEETLAKE_ROOT,
    source: env.TWEETLAKE_SOURCE,
    maxFilesPerTrigger: num(env.TWEETLAKE_MAX_FILES_PER_TRIGGER, 'TWEETLAKE_MAX_FILES_PER_TRIGGER'),
    maxBytesPerTrigger: num(env.TWEETLAKE_MAX_BYTES_PER_TRIGGER, 'TWEETLAKE_MAX_BYTES_PER_TRIGGER'),
    maxBatchAttempts: num(env.TWEETLAKE_MAX_BATCH_ATTEMPTS, 'TWEETLAKE_MAX_BATCH_ATTEMPTS'),
    retryBackoffMs: num(env.TWEETLAKE_RETRY_BACKOFF_MS, 'TWEETLAKE_RETRY_BACKOFF_MS'),
    model: {
      uri: env.TWEETLAKE_MODEL_URI,
      workers: num(env.TWEETLAKE_INFERENCE_WORKERS, 'TWEETLAKE_INFERENCE_WORKERS'),
      threadsPerWorker: num(env.TWEETLAKE_INFERENCE_THREADS, 'TWEETLAKE_INFERENCE_THREADS'),
      batchSize: num(env.TWEETLAKE_INFERENCE_BATCH_SIZE, 'TWEETLAKE_INFERENCE_BATCH_SIZE'),
      cache: bool(env.TWEETLAKE_PREDICTION_CACHE, 'TWEETLAKE_PREDICTION_CACHE'),
    },
    duckdb: {
      memoryLimit: env.TWEETLAKE_DUCKDB_MEMORY_LIMIT,
      threads: num(env.TWEETLAKE_DUCKDB_THREADS, 'TWEETLAKE_DUCKDB_THREADS'),
    },
  };
}

/**
 * The effective configuration: defaults, then the config file (`--config`, else ./tweetlake.config.json
 * when present), then environment variables, then command-line flags. The file is checked against
 * the schema (src/pipeline/config-schema.ts): a wrong value or an unknown key is an error naming the
 * file and the key.
 */
export function loadConfig(flags: ConfigOverrides = {}, configFile?: string): TweetlakeConfig {
  let config = defaultConfig();
  const file = configFile ?? (existsSync('tweetlake.config.json') ? 'tweetlake.config.json' : undefined);
  if (file) config = merge(config, readConfigFile(file));
  config = merge(config, configFromEnv());
  config = merge(config, flags);
  config.root = resolveLocation(config.root);
  // a Kafka topic is a URI the engine reads; folders and S3 prefixes are locations
  if (!isKafkaUri(config.source)) config.source = resolveLocation(config.source);
  return checkConfig(config, 'the settings (flags and TWEETLAKE_* variables)');
}

/** The settings of a config file, checked against the schema. */
export function readConfigFile(file: string): ConfigOverrides {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${errorMessage(err)}`);
  }
  const result = CONFIG_FILE_SCHEMA.safeParse(parsed);
  if (!result.success) throw new ConfigError(configIssues(file, result.error));
  return result.data as ConfigOverrides;
}

/** What the file schema cannot see: values that came from flags or the environment. */
function checkConfig(config: TweetlakeConfig, where: string): TweetlakeConfig {
  if (!['sequential', 'concurrent'].includes(config.orchestration))
    throw new ConfigError(
      `${where}: orchestration must be sequential or concurrent, got '${config.orchestration}'`,
    );
  if (!['available-now', 'continuous'].includes(config.trigger))
    throw new ConfigError(`${where}: trigger must be available-now or continuous, got '${config.trigger}'`);
  if (typeof config.model.cache !== 'boolean')
    throw new ConfigError(
      `${where}: model.cache must be true or false, got ${JSON.stringify(config.model.cache)}`,
    );
  if (!Number.isInteger(config.maxBatchAttempts) || config.maxBatchAttempts < 1)
    throw new ConfigError(
      `${where}: maxBatchAttempts must be a whole number of at least 1, got ${JSON.stringify(config.maxBatchAttempts)}`,
    );
  if (typeof config.retryBackoffMs !== 'number' || !(config.retryBackoffMs >= 0))
    throw new ConfigError(
      `${where}: retryBackoffMs must be a number of milliseconds, got ${JSON.stringify(config.retryBackoffMs)}`,
    );
  return config;
}
