import type { DuckSession, JsonValue } from '../duck/session.js';
import { DeltaTable } from '../delta/table.js';
import { FileSource } from '../engine/file-source.js';
import { StreamingQueryManager } from '../engine/manager.js';
import type { QueryProgress } from '../engine/progress.js';
import type { StreamingQuery } from '../engine/query.js';
import { StreamCheckpoint } from '../engine/checkpoint.js';
import type { Source } from '../engine/source.js';
import { Trigger } from '../engine/trigger.js';
import { LeaseLost } from '../storage/lease.js';
import { hostname } from 'node:os';
import { isRemoteLocation, joinLocation, removeLocation, storeAt } from '../storage/locations.js';
import { withLakehouseLease } from './lakehouse-lease.js';
import { checkMentionFormat } from './mention-format.js';
import { PredictionCache } from '../model/prediction-cache.js';
import {
  lakehousePaths,
  STREAM_NAMES,
  TABLE_NAMES,
  type LakehousePaths,
  type StreamName,
  type TableName,
} from './paths.js';
import { stageQueries, type StageOptions } from './stages.js';
import { StateStore, type StreamState } from './state.js';
import { logFor } from '../log.js';
import { TweetlakeError } from '../errors.js';

const log = logFor('pipeline');

export type Orchestration = 'sequential' | 'concurrent';
export type TriggerMode = 'available-now' | 'continuous';

export interface PipelineOptions extends Omit<StageOptions, 'paths'> {
  root: string;
  orchestration?: Orchestration;
  trigger?: TriggerMode;
  /** Poll interval of continuous and concurrent streams (ms). */
  pollIntervalMs?: number;
  onProgress?: (stream: StreamName, progress: QueryProgress) => void;
  onStreamStart?: (stream: StreamName) => void;
  /** What holds the lakehouse's lease while the pipeline runs (shown to a second run); default the process's command line. */
  command?: string;
  /** What a stream's source warns about (files still changing, changed files, an empty folder). */
  onWarning?: (stream: StreamName, message: string) => void;
  /** Try again batches that had failed too often (after their cause was fixed). */
  retryFailedBatches?: boolean;
  /** Failed attempts after which a batch is given up on (default 3; see StreamingQueryOptions). */
  maxBatchAttempts?: number;
  /** First wait before a batch is retried after a retryable error (ms, default 1000). */
  retryBackoffMs?: number;
}

/** What bronze read in a run, and where it went: records = bronze + quarantined. */
export interface IngestFigures {
  inputRecords: number;
  bronzeRows: number;
  quarantinedRows: number;
}

/** Rows and versions of each table after a run. */
export interface PipelineSummary {
  elapsedMs: number;
  tables: Record<TableName, { version: number | null; rows: number | null; files: number }>;
  batches: Record<StreamName, number>;
  /** The run ended on a stop request (Ctrl-C, `tweetlake stop`), not because the source was done. */
  stopped: boolean;
  /** The records bronze read in this run (replayed batches included) and where they went. */
  ingest: IngestFigures;
  /** What the sources warned about during the run. */
  warnings: string[];
}

/** A run or clear was refused: workers of a group are writing the lakehouse. */
export class WorkersRunning extends TweetlakeError {
  constructor(root: string, what: string, workers: StreamState[]) {
    super(
      'WORKERS_RUNNING',
      `cannot ${what} ${root}: ${workers.length} worker(s) of group ${[...new Set(workers.map((w) => w.worker!.group))].join(', ')} ` +
        `are writing it (${workers.map((w) => `pid ${w.pid} on ${w.host ?? 'this host'}`).join(', ')}); ` +
        'stop them first (Ctrl-C, SIGTERM or `tweetlake stop`)',
      { domain: 'user', retryable: true },
    );
  }
}

/** A batch position not yet committed: the stream is (or was, when it died) running a batch. */
const IN_FLIGHT = Symbol('in flight');

/**
 * The medallion pipeline: bronze_stream -> silver_stream -> gold_stream -> application_stream,
 * run one stage after another (sequential) or all at once with a watch that stops them when the
 * source has flowed through to the application table (concurrent), or kept running (continuous).
 */
export class Pipeline {
  readonly paths: LakehousePaths;
  readonly manager = new StreamingQueryManager();
  readonly state: StateStore;
  private readonly batches = Object.fromEntries(STREAM_NAMES.map((s) => [s, 0])) as Record<
    StreamName,
    number
  >;
  private readonly histories = new Map<StreamName, StreamState['history']>();
  /** The last state write of each stream (writes of one stream are chained, see publish). */
  private readonly publishing = new Map<string, Promise<void>>();
  private readonly startedAt = new Map<StreamName, string>();
  private fileSource?: FileSource;
  /** The connections of streams that run at the same time (closed when the run ends). */
  private readonly forks: DuckSession[] = [];
  private readonly sources = new Map<StreamName, Source>();
  private readonly prior = new Map<StreamName, StreamState>();
  private stopRequested = false;
  private leaseLost?: LeaseLost;
  private readonly ingest: IngestFigures = { inputRecords: 0, bronzeRows: 0, quarantinedRows: 0 };
  private readonly warnings: string[] = [];

  constructor(private readonly options: PipelineOptions) {
    this.paths = lakehousePaths(options.root);
    this.state = new StateStore(storeAt(this.paths.state));
  }

  get session(): DuckSession {
    return this.options.session;
  }

  private get command(): string {
    return this.options.command ?? process.argv.slice(1).join(' ');
  }

  /**
   * Deletes every table, checkpoint and stream state of the lakehouse; models, tracking and the
   * prediction cache stay (the cache too goes with `{ predictionCache: true }`). It holds the
   * lakehouse's lease: it refuses while a run is using the lakehouse.
   */
  async clear(options: { predictionCache?: boolean } = {}): Promise<void> {
    await withLakehouseLease(this.paths.root, this.command, async () => {
      await this.refuseWhileWorkersRun('clear');
      await this.deleteTablesAndCheckpoints(options);
    });
  }

  private async deleteTablesAndCheckpoints(options: { predictionCache?: boolean } = {}): Promise<void> {
    for (const t of TABLE_NAMES) await removeLocation(this.paths.tables[t]);
    await removeLocation(joinLocation(this.paths.root, '_checkpoints'));
    await removeLocation(this.paths.state);
    if (options.predictionCache) await new PredictionCache(this.paths.predictionCache, this.session).clear();
  }

  /** Workers of a group (`run --group`) write the tables without the lakehouse's lease: their states say they run. */
  private async refuseWhileWorkersRun(what: 'run' | 'clear'): Promise<void> {
    const workers = (await this.state.streams()).filter((s) => s.worker && s.active);
    if (workers.length) throw new WorkersRunning(this.paths.root, what, workers);
  }

  /** Asks every stream to stop after its current batch; `run()` then resolves with `stopped` set. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.manager.stopAll();
  }

  /**
   * Runs the pipeline as configured (after clearing the lakehouse, with `clear`); resolves with a
   * summary when every stream has stopped. One run per lakehouse: it holds the lakehouse's lease,
   * and refuses to start (LeaseHeld, naming the holder) while another process holds it.
   */
  async run(options: { clear?: boolean } = {}): Promise<PipelineSummary> {
    const summary = await withLakehouseLease(
      this.paths.root,
      this.command,
      async () => {
        await this.refuseWhileWorkersRun('run');
        if (options.clear) await this.deleteTablesAndCheckpoints();
        else await checkMentionFormat(this.session, this.paths);
        return this.runStreams();
      },
      (err) => {
        if (!(err instanceof LeaseLost)) return; // a failed refresh is tried again at the next one
        this.leaseLost = err;
        void this.stop();
      },
    );
    if (this.leaseLost) throw this.leaseLost;
    return summary;
  }

  private async runStreams(): Promise<PipelineSummary> {
    const started = performance.now();
    const trigger = this.options.trigger ?? 'available-now';
    const orchestration =
      trigger === 'continuous' ? 'concurrent' : (this.options.orchestration ?? 'sequential');
    for (const s of await this.state.streams()) this.prior.set(s.name as StreamName, s);
    await this.state.takeStopRequests(); // left by a `tweetlake stop` when no run was there to take it
    const stopWatcher = this.watchStopRequests();
    const monitor = await this.monitorProcess();
    try {
      if (orchestration === 'sequential') {
        for (const name of STREAM_NAMES) {
          if (this.stopRequested) break;
          const q = await this.startStream(name, Trigger.availableNow());
          if (this.stopRequested) await q.stop(); // asked while it was starting
          await q.awaitTermination();
        }
      } else {
        const interval = this.options.pollIntervalMs ?? 1000;
        for (const name of STREAM_NAMES) {
          if (this.stopRequested) break; // stopped before it started (an early Ctrl-C)
          await this.startStream(name, Trigger.processingTime(interval), true);
        }
        if (this.stopRequested) await this.manager.stopAll();
        else if (trigger === 'available-now') await this.watchUntilDone();
        else await this.manager.awaitAll();
      }
    } finally {
      await monitor.close();
      stopWatcher.close();
      await this.manager.stopAll();
      for (const q of this.manager.all) {
        await this.publish(q);
        // A failure is the run's error, which the CLI prints; the log records it with the stop.
        log.info(
          {
            stream: q.name,
            status: q.status.message,
            batches: this.batches[q.name as StreamName],
            ...(q.exception ? { failed: q.exception.code } : {}),
          },
          'stream stopped',
        );
      }
      for (const f of this.forks.splice(0)) f.close();
    }
    const failed = this.manager.all.find((q) => q.exception);
    if (failed) throw failed.exception;
    return this.summary(performance.now() - started);
  }

  private async startStream(
    name: StreamName,
    trigger: Trigger,
    ownConnection = false,
  ): Promise<StreamingQuery> {
    // streams that run at the same time each get a connection: their statements then run side by side
    const session = ownConnection ? await this.session.fork() : this.session;
    if (ownConnection) this.forks.push(session);
    const base = stageQueries({ ...this.options, session, paths: this.paths })[name];
    if (base.source instanceof FileSource) this.fileSource = base.source;
    this.sources.set(name, base.source);
    this.startedAt.set(name, new Date().toISOString());
    // The recent batches of earlier runs stay on show (a run with nothing new has none of its own).
    this.histories.set(name, [...(this.prior.get(name)?.history ?? [])]);
    this.options.onStreamStart?.(name);
    log.info({ stream: name, trigger: trigger.kind }, 'stream starting');
    const query = await this.manager.start({
      ...base,
      trigger,
      ...(this.options.retryFailedBatches ? { retryFailedBatches: true } : {}),
      ...(this.options.maxBatchAttempts !== undefined
        ? { maxBatchAttempts: this.options.maxBatchAttempts }
        : {}),
      ...(this.options.retryBackoffMs !== undefined ? { retryBackoffMs: this.options.retryBackoffMs } : {}),
      onWarning: (message) => {
        // At info: the CLI prints every warning to the user already (the default level is warn).
        log.info({ stream: name, warning: message }, 'source warning');
        this.warnings.push(`${name}: ${message}`);
        this.options.onWarning?.(name, message);
      },
      onProgress: (p) => {
        this.batches[name]++;
        log.info(
          {
            stream: name,
            batchId: p.batchId,
            inputRows: p.numInputRows,
            outputRows: p.sink.numOutputRows,
            ms: p.durationMs.triggerExecution,
          },
          'batch committed',
        );
        if (name === 'bronze_stream') {
          this.ingest.inputRecords += p.metrics.inputRecords ?? 0;
          this.ingest.bronzeRows += p.metrics.bronzeRows ?? 0;
          this.ingest.quarantinedRows += p.metrics.quarantinedRows ?? 0;
        }
        const history = this.histories.get(name) ?? [];
        history.push({
          batchId: p.batchId,
          timestamp: p.timestamp,
          numInputRows: p.numInputRows,
          numOutputRows: p.sink.numOutputRows,
          processedRowsPerSecond: p.processedRowsPerSecond,
          durationMs: p.durationMs.triggerExecution,
          phases: { ...p.durationMs },
          metrics: p.metrics,
        });
        if (history.length > 200) history.shift();
        this.histories.set(name, history);
        this.options.onProgress?.(name, p);
        // State is advisory (the next batch publishes again): a failure is a warning, not the stream's end.
        void this.publish(query).catch((err: unknown) =>
          log.warn({ stream: name, err }, 'could not publish the stream state'),
        );
      },
    });
    await this.publish(query);
    return query;
  }

  /**
   * Publishes a stream's state. Writes of one stream run one after another, each reading the query's
   * state when it runs: a write started by a batch or by the sampler can never land after, and undo,
   * the final one (a finished run showing "Processing batch 1").
   */
  private publish(q: StreamingQuery): Promise<void> {
    const next = (this.publishing.get(q.name) ?? Promise.resolve())
      .catch(() => undefined) // the failure was reported to that write's caller
      .then(() => this.writeState(q));
    this.publishing.set(q.name, next);
    return next;
  }

  private async writeState(q: StreamingQuery): Promise<void> {
    const name = q.name as StreamName;
    const lastProgress = q.lastProgress ?? this.prior.get(name)?.lastProgress;
    await this.state.publish({
      name,
      id: q.id,
      runId: q.runId,
      pid: process.pid,
      host: hostname(),
      active: q.isActive,
      status: q.status,
      startedAt: this.startedAt.get(name) ?? new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      ...(lastProgress ? { lastProgress } : {}),
      history: this.histories.get(name) ?? [],
      ...(q.exception ? { error: q.exception.message } : {}),
    });
  }

  /** How often stream states are published and stop requests read: each is a request on object storage. */
  private get statePublishMs(): number {
    return isRemoteLocation(this.paths.root) ? 3_000 : 300;
  }

  /** Samples memory and DuckDB spill while the pipeline runs; publishes the high-water marks. */
  private async monitorProcess(): Promise<{ close(): Promise<void> }> {
    const startedAt = new Date().toISOString();
    const limit = await this.session.memoryLimit();
    let rss = 0;
    let heap = 0;
    let spill = 0;
    let published = 0;
    const sample = async (final = false) => {
      const m = process.memoryUsage();
      rss = Math.max(rss, m.rss);
      heap = Math.max(heap, m.heapUsed);
      const spilled = await this.session.spilledBytes().catch((err: unknown) => {
        log.warn({ err }, 'could not read DuckDB spill size');
        return 0;
      });
      spill = Math.max(spill, spilled);
      // every sample on disk; on object storage every few seconds (each is a PUT per stream)
      if (!final && Date.now() - published < this.statePublishMs) return;
      published = Date.now();
      for (const q of this.manager.all) await this.publish(q); // statuses change between batches too
      await this.state.publishProcess({
        pid: process.pid,
        startedAt,
        updatedAt: new Date().toISOString(),
        rssHighWaterBytes: rss,
        heapHighWaterBytes: heap,
        duckdbMemoryLimit: limit,
        duckdbSpillHighWaterBytes: spill,
      });
    };
    await sample();
    const timer = setInterval(
      () => void sample().catch((err: unknown) => log.warn({ err }, 'could not sample memory use')),
      500,
    );
    timer.unref();
    return {
      close: async () => {
        clearInterval(timer);
        await sample(true);
      },
    };
  }

  /** Polls stop requests written by `tweetlake stop`. */
  private watchStopRequests(): { close(): void } {
    const timer = setInterval(() => {
      void this.state
        .takeStopRequests()
        .then(async (names) => {
          for (const n of names) {
            log.info({ stream: n === '_all' ? 'all' : n }, 'stop requested');
            if (n === '_all') await this.stop();
            else await this.manager.stop(n);
          }
        })
        // The next poll tries again; an operator sees why `tweetlake stop` is not obeyed.
        .catch((err: unknown) => log.error({ err }, 'could not read or act on stop requests'));
    }, this.statePublishMs);
    timer.unref();
    return { close: () => clearInterval(timer) };
  }

  /** Source files admitted into batches so far (this run and earlier ones). */
  sourceFilesAdmitted(): number {
    return this.fileSource?.admittedFiles ?? 0;
  }

  /**
   * True when every row present in each stream's source has been committed downstream: no stream
   * is in a batch, and from the position each stream's checkpoint has committed (this run or an
   * earlier one) its source has nothing left.
   */
  async caughtUp(): Promise<boolean> {
    const queries = STREAM_NAMES.map((n) => this.manager.get(n));
    if (queries.some((q) => !q || !q.isActive)) return queries.every((q) => !q?.isActive);
    for (const name of STREAM_NAMES) {
      if (this.manager.get(name)!.status.isTriggerActive) return false;
      const position = await this.committedPosition(name);
      if (position === IN_FLIGHT) return false;
      const pending = await this.sources.get(name)?.backlog?.(position);
      if ((pending?.files ?? 0) > 0 || (pending?.rows ?? 0) > 0) return false;
    }
    return true;
  }

  /** The end offset of a stream's last committed batch (undefined before its first). */
  private async committedPosition(name: StreamName): Promise<JsonValue | undefined | typeof IN_FLIGHT> {
    const checkpoint = new StreamCheckpoint(storeAt(this.paths.checkpoints[name]));
    const planned = await checkpoint.latestOffsetBatch();
    const committed = await checkpoint.latestCommittedBatch();
    if (planned !== undefined && (committed === undefined || planned > committed)) return IN_FLIGHT;
    return committed === undefined ? undefined : (await checkpoint.readOffsets(committed)).sources[0];
  }

  private async watchUntilDone(): Promise<void> {
    for (;;) {
      const failed = this.manager.all.find((q) => q.exception);
      if (failed || this.stopRequested) return;
      if (await this.caughtUp()) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Versions and row counts of every table. */
  async summary(elapsedMs: number): Promise<PipelineSummary> {
    const tables = {} as PipelineSummary['tables'];
    for (const name of TABLE_NAMES) {
      const t = await DeltaTable.forPath(this.paths.tables[name], this.session);
      if (!(await t.exists())) {
        tables[name] = { version: null, rows: null, files: 0 };
        continue;
      }
      const s = await t.snapshot();
      tables[name] = { version: s.version, rows: s.numRecords ?? null, files: s.numFiles };
    }
    return {
      elapsedMs,
      tables,
      batches: { ...this.batches },
      stopped: this.stopRequested,
      ingest: { ...this.ingest },
      warnings: [...this.warnings],
    };
  }
}
