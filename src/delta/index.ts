export * from './actions.js';
export * from './errors.js';
export * from './schema.js';
export {
  Snapshot,
  fileStats,
  numRecordsOf,
  liveRecordsOf,
  type TableContext,
  type FileStats,
} from './snapshot.js';
export { LogReader, logReaderOf, commitInfoOf, type Commit } from './log-reader.js';
export { DeltaTable, commitTimestamps, type SnapshotSpec } from './table.js';
export { Transaction, type CommitResult, type TransactionOptions } from './transaction.js';
export {
  writeTable,
  createTable,
  mergeSchemas,
  type CreateTableOptions,
  type DataSource,
  type WriteOptions,
  type WriteResult,
  type SaveMode,
} from './write.js';
export { planScan, type ScanPlan, type ScanOptions } from './scan.js';
export { tableHistory, type HistoryEntry } from './history.js';
export { optimizeTable, planBins, type OptimizeOptions, type OptimizeResult } from './optimize.js';
export { vacuumTable, RetentionTooShort, type VacuumOptions, type VacuumResult } from './vacuum.js';
export { writeCheckpoint, checkpointActions } from './checkpoint-writer.js';
export {
  SUPPORTED_READER_FEATURES,
  SUPPORTED_WRITER_FEATURES,
  checkReadSupported,
  checkWriteSupported,
} from './features.js';
