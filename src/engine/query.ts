import { randomUUID } from 'node:crypto';
import type { DuckSession, JsonValue } from '../duck/session.js';
import { errorMessage, TweetlakeError } from '../errors.js';
import { joinLocation, storeAt } from '../storage/locations.js';
import { CheckpointError, StreamCheckpoint, type BatchFailures } from './checkpoint.js';
import { systemClock, type Clock } from './clock.js';
import { heldTxnVersions, recoverCheckpoint } from './recovery.js';
import type { QueryProgress, QueryStatus } from './progress.js';
import type { BatchResult, Sink } from './sink.js';
import type { AdmissionLimits, Source, SourceBatch } from './source.js';
import type { Trigger } from './trigger.js';
import { logFor } from '../log.js';

const log = logFor('engine');

/** A pure step between source and sink: one batch in, one batch out (as SQL). */
export type Transform = (batch: SourceBatch, session: DuckSession) => Promise<SourceBatch>;

export interface StreamingQueryOptions {
  name: string;
  source: Source;
  sink: Sink;
  transform?: Transform;
  /** Folder of the query's checkpoint (offsets, commits, source logs). */
  checkpointLocation: string;
  trigger: Trigger;
  limits?: AdmissionLimits;
  session: DuckSession;
  clock?: Clock;
  /** Called after every batch with its progress. */
  onProgress?: (progress: QueryProgress) => void;
  /** Batches of history kept in the checkpoint (Spark's minBatchesToRetain, default 100). */
  minBatchesToRetain?: number;
  /** Called with what the source warns about (files still changing, changed files, an empty folder). */
  onWarning?: (message: string) => void;
  /** Failed attempts after which a batch is given up on, across restarts (default 3). */
  maxBatchAttempts?: number;
  /**
   * Wait before retrying a batch after a retryable error; doubled on each attempt, at most
   * `retryMaxBackoffMs`, plus up to 20% of random jitter from the clock (default 1 s).
   */
  retryBackoffMs?: number;
  /** The longest wait between two attempts of a batch (default 60 s). */
  retryMaxBackoffMs?: number;
  /** Try again a batch that had failed maxBatchAttempts times (after its cause was fixed). */
  retryFailedBatches?: boolean;
}

/** A batch failed too often for a reason that does not go away: the query stops instead of replaying it. */
export class BatchFailedRepeatedly extends TweetlakeError {
  constructor(
    readonly queryName: string,
    readonly failures: BatchFailures,
    file: string,
    cause?: unknown,
  ) {
    super(
      'STREAM_BATCH_FAILED_REPEATEDLY',
      `batch ${failures.batchId} of streaming query '${queryName}' has failed ${failures.attempts} times in a row ` +
        `(last error: ${failures.lastError}). ` +
        (failures.retryable
          ? `The error is a passing one (retried with backoff); once the cause is fixed (the server or store answers again), run ` +
            `again: the batch is tried afresh, nothing of it was written twice`
          : `It reads the same data on every attempt, so it fails the same way until the cause is fixed: fix ` +
            `it (for a DuckDB out-of-memory error, raise duckdb.memoryLimit), then run again with ` +
            `--retry-failed (the attempts are counted in ${file}); or rebuild everything with ` +
            `\`tweetlake run --clear\``),
      { domain: cause instanceof TweetlakeError ? cause.domain : 'user', cause },
    );
  }
}

/** The query stopped because a batch failed. */
export class StreamingQueryException extends TweetlakeError {
  constructor(
    readonly queryName: string,
    cause: unknown,
  ) {
    super(
      'STREAMING_QUERY_FAILED',
      `streaming query '${queryName}' failed: ${(cause as Error)?.message ?? String(cause)}`,
      {
        domain: (cause as TweetlakeError)?.domain ?? 'internal',
        cause,
      },
    );
  }
}

function sameOffset(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * A running micro-batch stream (Spark's StreamingQuery). Each batch: ask the source for the next end
 * offset, log it (write-ahead), read the batch, transform it, hand it to the sink, log the commit.
 * On restart an offset logged without a commit is replayed with the same offsets; the sink's
 * idempotency makes that exactly-once.
 */
export class StreamingQuery {
  readonly name: string;
  readonly runId = randomUUID();
  id = '';
  status: QueryStatus = { message: 'Initializing', isDataAvailable: false, isTriggerActive: false };
  readonly recentProgress: QueryProgress[] = [];
  exception?: StreamingQueryException;

  private readonly abort = new AbortController();
  private readonly checkpoint: StreamCheckpoint;
  private readonly clock: Clock;
  private done!: Promise<void>;
  private active = false;
  private lastTriggerStart?: number;
  private recovered?: { lastCommitted?: number; lastPlanned?: number };
  /** Warnings of the source, newest last (at most 100). */
  readonly warnings: string[] = [];

  constructor(private readonly options: StreamingQueryOptions) {
    this.name = options.name;
    this.checkpoint = new StreamCheckpoint(storeAt(options.checkpointLocation));
    this.clock = options.clock ?? systemClock;
  }

  get lastProgress(): QueryProgress | undefined {
    return this.recentProgress.at(-1);
  }

  get isActive(): boolean {
    return this.active;
  }

  /**
   * Starts the query in the background; resolves once it has read its checkpoint and checked it
   * against the sink's tables (a damaged or lost checkpoint is refused with a CheckpointError).
   */
  async start(): Promise<this> {
    const { source, sink, session, name } = this.options;
    const sourceLog = storeAt(joinLocation(this.options.checkpointLocation, 'sources', '0'));
    await source.initialize(sourceLog, session, { warn: (m) => this.warn(m) });
    const recovered = await recoverCheckpoint(this.checkpoint, { name, tables: sink.tables ?? [], session });
    this.id = recovered.queryId;
    const lastPlanned =
      recovered.lastPlanned === undefined
        ? undefined
        : await this.checkpoint.readOffsets(recovered.lastPlanned);
    await source.verifyCheckpoint?.(lastPlanned?.sources[0]);
    if (source.resumeFrom) {
      const held = await heldTxnVersions(sink.tables ?? [], session);
      await source.resumeFrom((key) => held(`${this.id}-${key}`));
    }
    this.recovered = recovered;
    this.active = true;
    this.done = this.run()
      .finally(() => this.closeSource())
      .then(
        () => {
          this.active = false;
          this.status = { message: 'Stopped', isDataAvailable: false, isTriggerActive: false };
        },
        (err: unknown) => {
          this.active = false;
          this.exception =
            err instanceof StreamingQueryException ? err : new StreamingQueryException(this.name, err);
          this.status = {
            message: `Terminated with exception: ${this.exception.message}`,
            isDataAvailable: false,
            isTriggerActive: false,
          };
        },
      );
    return this;
  }

  /** Frees the source's connections once the query has stopped (a failure to close is only logged). */
  private async closeSource(): Promise<void> {
    try {
      await this.options.source.close?.();
    } catch (err) {
      log.warn({ query: this.name, error: errorMessage(err) }, 'the source did not close cleanly');
    }
  }

  /** Asks the query to stop after the batch in progress; resolves when it has stopped. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done?.catch(() => undefined);
  }

  /** Resolves when the query ends (rejects with its exception if it failed). */
  async awaitTermination(): Promise<void> {
    await this.done;
    if (this.exception) throw this.exception;
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private warn(message: string): void {
    this.warnings.push(message);
    if (this.warnings.length > 100) this.warnings.shift();
    this.options.onWarning?.(message);
  }

  /** The end offset of a batch from the offsets log (undefined before batch 0). */
  private async endOf(batchId: number): Promise<JsonValue | undefined> {
    if (batchId < 0) return undefined;
    if (!(await this.checkpoint.hasOffsets(batchId)))
      throw new CheckpointError(
        `batch ${batchId + 1} of streaming query '${this.name}' must run again, but the offsets of batch ` +
          `${batchId}, where it starts, are gone from ${this.checkpoint.store.root}/offsets`,
      );
    return (await this.checkpoint.readOffsets(batchId)).sources[0];
  }

  private async run(): Promise<void> {
    const { source, trigger } = this.options;
    const { lastCommitted, lastPlanned } = this.recovered ?? {};
    let start = await this.endOf(lastCommitted ?? -1);
    let nextBatch = (lastCommitted ?? -1) + 1;
    if (lastPlanned !== undefined && lastPlanned >= nextBatch) {
      // Planned but never committed (a run stopped mid-batch, or the commits log lost them): run each
      // again with the same offsets; the tables' txn skips what they already hold.
      for (let b = nextBatch; b <= lastPlanned && !this.stopping; b++) {
        const end = (await this.checkpoint.readOffsets(b)).sources[0] as JsonValue;
        await this.attemptBatch(b, start, end, 0, 0);
        start = end;
        nextBatch = b + 1;
      }
      if (trigger.kind === 'once' || this.stopping) return;
    }
    if ((trigger.kind === 'availableNow' || trigger.kind === 'once') && source.prepareForAvailableNow) {
      await source.prepareForAvailableNow();
    }
    while (!this.stopping) {
      const triggerStart = this.clock.now();
      this.status = { message: 'Getting offsets from source', isDataAvailable: false, isTriggerActive: true };
      const end = await source.latestOffset(
        start,
        trigger.kind === 'once' ? {} : (this.options.limits ?? {}),
      );
      const latestOffsetMs = this.clock.now() - triggerStart;
      if (end === undefined || sameOffset(end, start)) {
        if (trigger.kind !== 'processingTime') break;
        this.status = {
          message: 'Waiting for data to arrive',
          isDataAvailable: false,
          isTriggerActive: false,
        };
        await this.clock.sleep(
          Math.max(0, trigger.intervalMs - (this.clock.now() - triggerStart)),
          this.abort.signal,
        );
        continue;
      }
      const walStart = this.clock.now();
      await this.checkpoint.writeOffsets({
        batchId: nextBatch,
        sources: [end],
        batchTimestampMs: triggerStart,
      });
      const walMs = this.clock.now() - walStart;
      await this.attemptBatch(nextBatch, start, end, latestOffsetMs, walMs, triggerStart);
      start = end;
      nextBatch++;
      if (trigger.kind === 'once') break;
      if (trigger.kind === 'processingTime') {
        this.status = { message: 'Waiting for next trigger', isDataAvailable: true, isTriggerActive: false };
        await this.clock.sleep(
          Math.max(0, trigger.intervalMs - (this.clock.now() - triggerStart)),
          this.abort.signal,
        );
      }
    }
  }

  /**
   * Runs a batch; a retryable error is retried after a backoff, any failure is counted in the
   * checkpoint, and a batch that failed maxBatchAttempts times (across restarts) stops the query
   * with BatchFailedRepeatedly instead of being replayed again.
   */
  private async attemptBatch(
    batchId: number,
    start: JsonValue | undefined,
    end: JsonValue,
    latestOffsetMs: number,
    walMs: number,
    triggerStart = this.clock.now(),
  ): Promise<void> {
    const max = this.options.maxBatchAttempts ?? 3;
    const file = this.checkpoint.store.location(`failures/${batchId}`);
    let failed = await this.checkpoint.readFailures(batchId);
    // A batch whose last failure was retryable (a server down, a busy store) was given up on for this
    // run only: a later run tries it afresh. One that failed for a lasting cause waits for --retry-failed.
    if (failed && (this.options.retryFailedBatches || failed.retryable)) {
      await this.checkpoint.clearFailures(batchId);
      failed = undefined;
    }
    if (failed && failed.attempts >= max) throw new BatchFailedRepeatedly(this.name, failed, file);
    for (;;) {
      try {
        await this.runBatch(batchId, start, end, latestOffsetMs, walMs, triggerStart);
        if (failed) await this.checkpoint.clearFailures(batchId);
        return;
      } catch (err) {
        const retryable = err instanceof TweetlakeError && err.retryable;
        failed = await this.checkpoint.recordFailure(batchId, errorMessage(err), retryable);
        if (failed.attempts >= max) throw new BatchFailedRepeatedly(this.name, failed, file, err);
        if (!retryable || this.stopping) throw err;
        const backoff = this.backoffMs(failed.attempts);
        log.warn(
          {
            query: this.name,
            batchId,
            attempt: failed.attempts,
            backoffMs: backoff,
            error: errorMessage(err),
          },
          'batch failed with a retryable error; retrying',
        );
        this.status = {
          message: `Retrying batch ${batchId} in ${backoff} ms after: ${errorMessage(err)}`,
          isDataAvailable: true,
          isTriggerActive: true,
        };
        await this.clock.sleep(backoff, this.abort.signal);
        if (this.stopping) throw err;
      }
    }
  }

  /**
   * The wait before attempt `attempts + 1`: exponential (base retryBackoffMs, doubled per attempt,
   * capped) plus jitter of up to a fifth of it when the clock gives randomness.
   */
  private backoffMs(attempts: number): number {
    const base = this.options.retryBackoffMs ?? 1000;
    const wait = Math.min(base * 2 ** (attempts - 1), this.options.retryMaxBackoffMs ?? 60_000);
    return Math.round(wait + wait * 0.2 * (this.clock.random?.() ?? 0));
  }

  private async runBatch(
    batchId: number,
    start: JsonValue | undefined,
    end: JsonValue,
    latestOffsetMs: number,
    walMs: number,
    triggerStart = this.clock.now(),
  ): Promise<void> {
    const { source, sink, transform, session } = this.options;
    this.status = { message: `Processing batch ${batchId}`, isDataAvailable: true, isTriggerActive: true };
    const t0 = this.clock.now();
    const input = await source.getBatch(start, end);
    const getBatchMs = this.clock.now() - t0;
    let result: BatchResult;
    const t1 = this.clock.now();
    let output = input;
    const txns = source
      .transactions?.(start, end)
      .map((t) => ({ appId: `${this.id}-${t.key}`, version: t.version }));
    const ctx = {
      batchId,
      queryId: this.id,
      queryName: this.name,
      session,
      ...(txns?.length ? { txns } : {}),
    };
    try {
      // The txn is checked once, here: a batch every table holds is neither transformed nor written.
      // (The source still reads it: a file source learns from the read where its next batch starts.)
      if (await sink.holdsBatch?.(ctx)) {
        result = { numInputRows: input.numRows ?? 0, numOutputRows: 0 };
      } else {
        output = transform ? await transform(input, session) : input;
        result = await sink.addBatch(output, ctx);
      }
    } finally {
      if (output !== input) await output.dispose();
      await input.dispose();
    }
    const addBatchMs = this.clock.now() - t1;
    const commitStart = this.clock.now();
    await source.commit?.(end);
    await this.checkpoint.writeCommit(batchId);
    if (batchId % 10 === 0) await this.checkpoint.purge(batchId, this.options.minBatchesToRetain ?? 100);
    const commitMs = this.clock.now() - commitStart;
    const total = Math.max(1, this.clock.now() - triggerStart);
    const sinceLast =
      this.lastTriggerStart === undefined ? total : Math.max(1, triggerStart - this.lastTriggerStart);
    this.lastTriggerStart = triggerStart;
    const progress: QueryProgress = {
      id: this.id,
      runId: this.runId,
      name: this.name,
      timestamp: new Date(this.clock.now()).toISOString(),
      batchId,
      numInputRows: result.numInputRows,
      inputRowsPerSecond: (result.numInputRows * 1000) / sinceLast,
      processedRowsPerSecond: (result.numInputRows * 1000) / total,
      durationMs: {
        latestOffset: latestOffsetMs,
        walCommit: walMs,
        getBatch: getBatchMs,
        addBatch: addBatchMs,
        commitOffsets: commitMs,
        triggerExecution: total,
      },
      sources: [
        {
          description: source.description,
          startOffset: start ?? null,
          endOffset: end,
          numInputRows: result.numInputRows,
          batch: input.description,
        },
      ],
      sink: { description: sink.description, numOutputRows: result.numOutputRows },
      metrics: result.metrics ?? {},
    };
    this.recentProgress.push(progress);
    if (this.recentProgress.length > 100) this.recentProgress.shift();
    this.options.onProgress?.(progress);
  }
}
