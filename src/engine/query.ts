import { randomUUID } from 'node:crypto';
import * as nodePath from 'node:path';
import type { DuckSession, JsonValue } from '../duck/session.js';
import { TweetlakeError } from '../errors.js';
import { LocalObjectStore } from '../storage/local-store.js';
import { StreamCheckpoint } from './checkpoint.js';
import { systemClock, type Clock } from './clock.js';
import type { QueryProgress, QueryStatus } from './progress.js';
import type { BatchResult, Sink } from './sink.js';
import type { AdmissionLimits, Source, SourceBatch } from './source.js';
import type { Trigger } from './trigger.js';

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

  constructor(private readonly options: StreamingQueryOptions) {
    this.name = options.name;
    this.checkpoint = new StreamCheckpoint(new LocalObjectStore(options.checkpointLocation));
    this.clock = options.clock ?? systemClock;
  }

  get lastProgress(): QueryProgress | undefined {
    return this.recentProgress.at(-1);
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Starts the query in the background; resolves once it has read its checkpoint. */
  async start(): Promise<this> {
    this.id = await this.checkpoint.queryId();
    const sourceLog = new LocalObjectStore(nodePath.join(this.options.checkpointLocation, 'sources', '0'));
    await this.options.source.initialize(sourceLog, this.options.session);
    this.active = true;
    this.done = this.run().then(
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

  private async run(): Promise<void> {
    const { source, trigger } = this.options;
    const lastPlanned = await this.checkpoint.latestOffsetBatch();
    const lastCommitted = await this.checkpoint.latestCommittedBatch();
    let start: JsonValue | undefined =
      lastCommitted === undefined ? undefined : (await this.checkpoint.readOffsets(lastCommitted)).sources[0];
    let nextBatch = (lastCommitted ?? -1) + 1;
    if (lastPlanned !== undefined && lastPlanned >= nextBatch) {
      // Planned but never committed (the last run stopped mid-batch): run it again with the same offsets.
      const entry = await this.checkpoint.readOffsets(lastPlanned);
      await this.runBatch(lastPlanned, start, entry.sources[0] as JsonValue, 0, 0);
      start = entry.sources[0] as JsonValue;
      nextBatch = lastPlanned + 1;
      if (trigger.kind === 'once') return;
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
      await this.runBatch(nextBatch, start, end, latestOffsetMs, walMs, triggerStart);
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
    try {
      output = transform ? await transform(input, session) : input;
      result = await sink.addBatch(output, { batchId, queryId: this.id, queryName: this.name, session });
    } finally {
      if (output !== input) await output.dispose();
      await input.dispose();
    }
    const addBatchMs = this.clock.now() - t1;
    const t2 = this.clock.now();
    await source.commit?.(end);
    await this.checkpoint.writeCommit(batchId);
    if (batchId % 10 === 0) await this.checkpoint.purge(batchId, this.options.minBatchesToRetain ?? 100);
    const commitMs = this.clock.now() - t2;
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
