/**
 * The public API of tweetlake for TypeScript users (`import { DeltaTable } from 'tweetlake'`):
 * Delta tables and snapshots, the streaming engine, the medallion pipeline, object stores, the
 * model registry and classifier, MLflow tracking, errors and logging. docs/api.md has an example.
 * Everything else under dist/ is internal and may change between versions.
 */

// Errors and logging.
export { TweetlakeError, errorMessage, type ErrorDomain } from './errors.js';
export { logger, logFor, setLogLevel, configureLogging, LOG_LEVELS, type LogLevel } from './log.js';
export { redactSecrets } from './redact.js';

// Storage.
export { ObjectNotFound, ObjectExists, type ObjectStore } from './storage/object-store.js';
export { LocalObjectStore } from './storage/local-store.js';

// DuckDB.
export {
  DuckSession,
  SqlError,
  type DuckSessionOptions,
  type JsonRow,
  type JsonValue,
} from './duck/session.js';

// Delta Lake.
export { DeltaTable, type SnapshotSpec } from './delta/table.js';
export { Snapshot } from './delta/snapshot.js';
export { Transaction, type CommitResult, type TransactionOptions } from './delta/transaction.js';
export type { DataSource, SaveMode, WriteOptions, WriteResult, CreateTableOptions } from './delta/write.js';
export type { ScanPlan, ScanOptions } from './delta/scan.js';
export type { HistoryEntry } from './delta/history.js';
export type { StructType, StructField, DataType } from './delta/schema.js';
export { TWEETLAKE_VERSION } from './delta/version.js';

// Streaming.
export {
  StreamingQuery,
  StreamingQueryException,
  BatchFailedRepeatedly,
  type StreamingQueryOptions,
  type Transform,
} from './engine/query.js';
export { StreamingQueryManager } from './engine/manager.js';
export { Trigger } from './engine/trigger.js';
export {
  DeltaSink,
  ForeachBatchSink,
  type Sink,
  type BatchContext,
  type BatchResult,
} from './engine/sink.js';
export type { Source, SourceBatch } from './engine/source.js';
export { DeltaSource } from './engine/delta-source.js';
export { FileSource } from './engine/file-source.js';
export type { QueryProgress, QueryStatus } from './engine/progress.js';

// Models.
export { loadClassifier, type InferenceSettings } from './model/load.js';
export { resolveModel, type ResolvedModel } from './model/resolve.js';
export { openRegistry } from './model/registry-factory.js';
export {
  SENTIMENT_LABELS,
  type Classifier,
  type Prediction,
  type SentimentLabel,
} from './model/classifier.js';
export type { ModelRegistry } from './model/registry.js';

// MLflow tracking.
export { openTrackingStore } from './tracking/tracking-factory.js';
export { FileTrackingStore } from './tracking/file-tracking-store.js';
export { RestTrackingStore } from './tracking/rest-tracking-store.js';
export type { TrackingStore } from './tracking/tracking-store.js';

// The pipeline.
export { Pipeline, type PipelineOptions, type PipelineSummary } from './pipeline/pipeline.js';
export { loadConfig, defaultConfig, ConfigError, type TweetlakeConfig } from './pipeline/config.js';
export { lakehousePaths, type LakehousePaths } from './pipeline/paths.js';
