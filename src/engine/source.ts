import type { DuckSession, JsonValue } from '../duck/session.js';
import type { ObjectStore } from '../storage/object-store.js';

/** Rows of one micro-batch from a source, as SQL over the session. */
export interface SourceBatch {
  sql: string;
  /** A table that holds exactly the batch's rows, when the source made one (a sink may read it instead of copying `sql`). */
  table?: string;
  /** Files or versions the batch covers, for progress reports. */
  description: string;
  /** Number of rows, when the source knows it without reading the data. */
  numRows?: number;
  dispose(): Promise<void>;
}

/** Limits on how much one batch takes (Spark's maxFilesPerTrigger / maxBytesPerTrigger). */
export interface AdmissionLimits {
  maxFilesPerTrigger?: number;
  maxBytesPerTrigger?: number;
  /** Rows per batch, from the files' statistics (Delta sources). */
  maxRowsPerTrigger?: number;
}

/** What a query gives its source: a way to warn the user (shown in the progress and logs). */
export interface SourceContext {
  warn(message: string): void;
}

/**
 * What a batch consumed of one part of a source (a Kafka partition), recorded as a Delta `txn`
 * (app id `<query id>-<key>`, version) in the same commit as the batch's rows.
 */
export interface SourceTransaction {
  key: string;
  version: number;
}

/**
 * A streaming source, with Spark's contract: offsets are JSON values; `latestOffset` may look at
 * new data and returns the end of the next batch (or the start when nothing is new);
 * `getBatch(start, end]` returns the same rows after a restart.
 */
export interface Source {
  readonly description: string;
  /** Called once before the first batch with the source's private checkpoint folder. */
  initialize(checkpoint: ObjectStore, session: DuckSession, context?: SourceContext): Promise<void>;
  /**
   * Checks the source's own log against `lastPlanned`, the end offset of the last batch in the
   * query's offsets log: throws CheckpointError when the log lost what those batches read (it
   * would read it again).
   */
  verifyCheckpoint?(lastPlanned: JsonValue | undefined): Promise<void>;
  /** For availableNow: fix the end of what exists now; later data waits for the next run. */
  prepareForAvailableNow?(): Promise<void>;
  /** The end offset of the next batch after `start` within `limits`; equal to `start` when there is nothing new. */
  latestOffset(start: JsonValue | undefined, limits: AdmissionLimits): Promise<JsonValue | undefined>;
  getBatch(start: JsonValue | undefined, end: JsonValue): Promise<SourceBatch>;
  /** Data up to `end` is committed downstream; the source may forget it. */
  commit?(end: JsonValue): Promise<void>;
  /** Rows not yet admitted (for progress and for "watch until done"); undefined if unknown. */
  backlog?(start: JsonValue | undefined): Promise<{ files?: number; rows?: number } | undefined>;
  /** The txn actions that record what the batch (start, end] consumed, per part (see SourceTransaction). */
  transactions?(start: JsonValue | undefined, end: JsonValue): SourceTransaction[];
  /**
   * Called once after the checkpoint was recovered, with the version every table of the sink holds
   * for a key (undefined when some table holds none): a part the checkpoint does not cover starts
   * after it.
   */
  resumeFrom?(held: (key: string) => number | undefined): Promise<void>;
  /** Called when the query stops: frees connections. */
  close?(): Promise<void>;
}
