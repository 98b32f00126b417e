import type { JsonValue } from '../duck/session.js';

/** Durations of a batch's phases, as Spark's StreamingQueryProgress.durationMs. */
export interface DurationMs {
  latestOffset: number;
  walCommit: number;
  getBatch: number;
  addBatch: number;
  commitOffsets: number;
  triggerExecution: number;
}

/** Progress of one micro-batch (the fields Spark users read from `lastProgress`). */
export interface QueryProgress {
  id: string;
  runId: string;
  name: string;
  timestamp: string;
  batchId: number;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  durationMs: DurationMs;
  sources: {
    description: string;
    startOffset: JsonValue | null;
    endOffset: JsonValue | null;
    numInputRows: number;
    batch: string;
  }[];
  sink: { description: string; numOutputRows: number };
  metrics: Record<string, number>;
}

/** What a query is doing now (Spark's StreamingQueryStatus). */
export interface QueryStatus {
  message: string;
  isDataAvailable: boolean;
  isTriggerActive: boolean;
}
