import { hostname } from 'node:os';
import type { DuckSession } from '../duck/session.js';
import { CommitConflict } from '../delta/errors.js';
import type { Snapshot } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import { ensureTable } from '../engine/delta-tables-sink.js';
import { KafkaGroupMember, type GroupTiming } from '../engine/kafka-group.js';
import { KafkaReader } from '../engine/kafka-reader.js';
import {
  readKafkaRanges,
  share,
  DEFAULT_MAX_OFFSETS_PER_TRIGGER,
  type KafkaRange,
} from '../engine/kafka-source.js';
import { PartitionStarts } from '../engine/kafka-starts.js';
import { isKafkaUri, parseKafkaUri, parseStartingOffsets, type KafkaLocation } from '../engine/kafka-uri.js';
import { StreamingQueryManager } from '../engine/manager.js';
import type { StreamingQuery } from '../engine/query.js';
import { Trigger } from '../engine/trigger.js';
import { errorMessage, TweetlakeError } from '../errors.js';
import { logFor } from '../log.js';
import { Lease, LeaseHeld, LeaseLost } from '../storage/lease.js';
import { joinLocation, storeAt } from '../storage/locations.js';
import { bronzeRowsSql, newKeysSql, quarantineRowsSql } from './bronze.js';
import { scoreBatch } from './gold.js';
import { lakehouseLease, LEASE_TIMING } from './lakehouse-lease.js';
import { lakehousePaths, type LakehousePaths } from './paths.js';
import { BRONZE_SCHEMA, GOLD_SCHEMA, QUARANTINE_SCHEMA, SILVER_SCHEMA } from './schemas.js';
import { silverRowsSql } from './silver.js';
import { applicationQuery, batchCache, type StageOptions } from './stages.js';
import { StateStore } from './state.js';

const log = logFor('group-worker');

/** The tables a worker writes itself, in commit order: each record goes through all four. */
const WORKER_TABLES = ['bronze', 'quarantine', 'silver', 'gold'] as const;
type WorkerTable = (typeof WORKER_TABLES)[number];
const SCHEMAS = {
  bronze: BRONZE_SCHEMA,
  quarantine: QUARANTINE_SCHEMA,
  silver: SILVER_SCHEMA,
  gold: GOLD_SCHEMA,
};

/** The application lease's folder under the lakehouse root: who keeps the application table. */
export const APPLICATION_LEASE_PREFIX = '_leases/application/';

/** Conflicts in a row (other workers committing the same partitions) before a worker gives up. */
const MAX_CONFLICTS = 20;

/** `run --group` was given something a worker cannot do. */
export class GroupWorkerError extends TweetlakeError {
  constructor(message: string) {
    super('GROUP_WORKER', message, { domain: 'user' });
  }
}

export interface GroupWorkerOptions extends Omit<
  StageOptions,
  'paths' | 'maxFilesPerTrigger' | 'maxBytesPerTrigger'
> {
  root: string;
  /** The consumer group: the workers of one group share the topic's partitions. */
  group: string;
  /** available-now: stop once gold holds the whole topic up to its end at start (default); continuous: until stopped. */
  trigger?: 'available-now' | 'continuous';
  /** Failed attempts of a batch (a retryable error) before the worker gives up (default 3), and the first wait. */
  maxBatchAttempts?: number;
  retryBackoffMs?: number;
  /** Wait between polls when there is nothing to read (ms, default 1000). */
  pollIntervalMs?: number;
  /** How the worker keeps its place in the group. */
  timing?: GroupTiming;
  /** What holds the application lease (default the command line). */
  command?: string;
  /** Progress lines for the user. */
  onLine?: (line: string) => void;
}

/** What one worker did. */
export interface GroupWorkerSummary {
  worker: string;
  batches: number;
  records: number;
  rows: Record<WorkerTable, number>;
  /** Batches of the application stream this worker ran while it held the lease. */
  applicationBatches: number;
  stopped: boolean;
  elapsedMs: number;
}

/** A batch's plan: what it reads of each partition, and where each table stands in it. */
interface BatchPlan {
  ranges: KafkaRange[];
  /** Per table and partition, the first offset the table does not hold yet. */
  next: Record<WorkerTable, Map<number, number>>;
  snapshots: Record<WorkerTable, Snapshot>;
}

/**
 * One worker of a consumer group (kafka-delta-ingest's design, on the lakehouse's four tables):
 * Kafka assigns it partitions of the topic; each micro-batch reads a range of every partition it
 * holds and takes the same records through bronze (+ quarantine), silver and gold, each table in
 * its own commit carrying one txn per partition (appId `tweetlake-group-<group>-<topic>-<partition>`,
 * version = the last offset the table holds). Where a partition starts is read from those txns,
 * never from Kafka's committed offsets, on every batch: a partition that moved to this worker
 * starts where the tables stop, and a table behind the others (a crash between two commits) gets
 * only what it lacks. Two workers that both think they hold a partition (a rebalance under way)
 * cannot both commit it: the second commit of the same txn app id is a ConcurrentTransaction
 * conflict, and its worker plans again from the tables. The application table, one aggregate of
 * all of gold, is kept by whichever worker holds the application lease (`_leases/application/`),
 * running the usual application_stream.
 */
export class GroupWorker {
  readonly paths: LakehousePaths;
  readonly name: string;
  private readonly location: KafkaLocation;
  private readonly state: StateStore;
  private readonly tables = new Map<WorkerTable, DeltaTable>();
  private readonly manager = new StreamingQueryManager();
  private reader?: KafkaReader;
  private member?: KafkaGroupMember;
  private starts?: PartitionStarts;
  private stopRequested = false;
  private wake?: () => void;
  private batchNumber = 0;
  private readonly cacheAppId: string;
  private readonly startedAt = new Date().toISOString();
  private lag = 0;
  private readonly summary: Omit<GroupWorkerSummary, 'elapsedMs' | 'stopped'>;

  constructor(private readonly options: GroupWorkerOptions) {
    this.paths = lakehousePaths(options.root);
    this.location = parseKafkaUri(options.source);
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(options.group))
      throw new GroupWorkerError(
        `the group name '${options.group}' is not valid: use letters, digits, '.', '_' and '-' (at most 200)`,
      );
    this.name = `${options.group}/${hostname()}:${process.pid}`;
    this.state = new StateStore(storeAt(this.paths.state));
    this.cacheAppId = `tweetlake-group-${options.group}-cache-${hostname()}-${process.pid}-${Date.now()}`;
    this.summary = {
      worker: this.name,
      batches: 0,
      records: 0,
      rows: { bronze: 0, quarantine: 0, silver: 0, gold: 0 },
      applicationBatches: 0,
    };
  }

  private get session(): DuckSession {
    return this.options.session;
  }

  private line(text: string): void {
    this.options.onLine?.(`worker ${this.name}: ${text}`);
  }

  /** The txn app id of a partition, the same in every table. */
  private appId(partition: number): string {
    return `tweetlake-group-${this.options.group}-${this.location.topic}-${partition}`;
  }

  /** Asks the worker to stop after its current batch (and to give its lease and partitions up). */
  stop(): void {
    this.stopRequested = true;
    this.wake?.();
    void this.manager.stopAll();
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /** Runs the worker until it is stopped or (available-now) the topic is done; then leaves the group. */
  async run(): Promise<GroupWorkerSummary> {
    const t0 = performance.now();
    const kafka = this.options.kafka ?? {};
    this.reader = new KafkaReader(this.location, kafka, kafka.retryMs);
    // a single-process run holds the lakehouse's lease and writes the same tables with its own checkpoints
    const run = await lakehouseLease(this.paths.root);
    if (run && !run.stale) throw new LeaseHeld(run.holder, this.paths.root);
    const partitionCount = await this.reader.partitions();
    this.starts = new PartitionStarts(
      storeAt(joinLocation(this.paths.root, '_checkpoints', `group-${this.options.group}`)),
      this.location.topic,
      parseStartingOffsets(kafka.startingOffsets, this.location.topic),
    );
    await this.starts.load();
    for (const name of WORKER_TABLES)
      this.tables.set(name, await ensureTable(this.paths.tables[name], SCHEMAS[name], this.session));
    const ends =
      (this.options.trigger ?? 'available-now') === 'available-now'
        ? await this.reader.offsets('latest')
        : undefined;
    this.member = new KafkaGroupMember(this.location, this.options.group, kafka, this.options.timing);
    this.member.onAssignment = (ps) => {
      this.line(`partitions ${ps.length ? ps.join(',') : '(none)'} of ${partitionCount}`);
      this.wake?.();
    };
    const stopWatch = this.watchStopRequests();
    let applicationError: unknown;
    const application = ends
      ? undefined
      : this.keepApplication().catch((err: unknown) => {
          applicationError = err; // the application stream failed: the worker stops, and says why
          this.stop();
        });
    try {
      await this.member.join(kafka.retryMs);
      this.line(
        `joined group ${this.options.group} on ${this.location.uri} (member ${this.member.memberId}, ` +
          `generation ${this.member.generation})`,
      );
      await this.consume(ends);
      await this.member.close();
      this.member = undefined;
      if (ends && !this.stopRequested) await this.applicationOnce();
    } finally {
      stopWatch.close();
      this.stopRequested = true;
      this.wake?.();
      await application;
      await this.member?.close();
      await this.manager.stopAll();
      await this.reader.close();
      await this.publish(false).catch(() => undefined);
    }
    if (applicationError) throw applicationError;
    const failed = this.manager.all.find((q) => q.exception);
    if (failed) throw failed.exception;
    return { ...this.summary, stopped: this.stopRequested && !ends, elapsedMs: performance.now() - t0 };
  }

  /** Batches of the partitions this worker holds, until stopped or (with `ends`) gold holds them all. */
  private async consume(ends: number[] | undefined): Promise<void> {
    let conflicts = 0;
    let failures = 0;
    let published = 0;
    while (!this.stopRequested) {
      try {
        const plan = await this.plan(this.member!.partitions, ends);
        if (Date.now() - published > 3_000) {
          published = Date.now();
          await this.publish(true).catch((err: unknown) =>
            log.warn({ err }, 'could not publish the worker state'),
          );
        }
        if (!plan) {
          if (ends && (await this.topicDone(ends))) {
            this.line('gold holds every partition of the topic up to its end at start: done');
            return;
          }
          await this.sleep(this.options.pollIntervalMs ?? 1_000);
          continue;
        }
        await this.runBatch(plan);
        conflicts = 0;
        failures = 0;
        // advisory, for Kafka's own lag tools: where gold now stands in each partition of the batch
        await this.member!.commitAdvisory(new Map(plan.ranges.map((r) => [r.partition, r.to])));
      } catch (err) {
        if (!(err instanceof CommitConflict) && err instanceof TweetlakeError && err.retryable) {
          // storage or broker trouble that may pass (planning or writing): planned again from the tables
          if (++failures >= (this.options.maxBatchAttempts ?? 3)) throw err;
          const wait = (this.options.retryBackoffMs ?? 1_000) * 2 ** (failures - 1);
          this.line(`batch failed (${err.code}: ${err.message}); trying again in ${wait} ms`);
          await this.sleep(wait);
          continue;
        }
        if (!(err instanceof CommitConflict) || ++conflicts > MAX_CONFLICTS) throw err;
        // another worker committed these partitions (a rebalance): plan again from the tables
        this.line(`${err.kind} on a table (partitions moving between workers): planning again`);
        log.info({ worker: this.name, err: err.message }, 'commit conflict; planning again');
        await this.sleep(Math.min(100 * conflicts, 2_000));
      }
    }
  }

  /** The latest snapshot of each table the worker writes. */
  private async snapshots(): Promise<Record<WorkerTable, Snapshot>> {
    const out = {} as Record<WorkerTable, Snapshot>;
    for (const name of WORKER_TABLES) out[name] = await this.tables.get(name)!.snapshot();
    return out;
  }

  /** Where a partition starts in a table: after the table's txn, else at the partition's logged start. */
  private nextIn(snapshot: Snapshot, partition: number): number | undefined {
    const held = snapshot.txnVersion(this.appId(partition));
    return held !== undefined ? held + 1 : this.starts!.get(partition);
  }

  /** What the next batch reads of `partitions` (undefined: nothing new), from the tables' txns. */
  private async plan(
    partitions: readonly number[],
    ends: number[] | undefined,
  ): Promise<BatchPlan | undefined> {
    if (!partitions.length) return undefined;
    const snapshots = await this.snapshots();
    let latest = await this.reader!.offsets('latest');
    if (ends) latest = latest.map((e, p) => Math.min(e, ends[p] ?? e));
    const next = Object.fromEntries(
      WORKER_TABLES.map((t) => [t, new Map<number, number>()]),
    ) as BatchPlan['next'];
    const from: number[] = [];
    const backlog: number[] = [];
    for (const p of partitions) {
      if (this.starts!.get(p) === undefined)
        await this.starts!.record(p, await this.starts!.resolve(p, true, latest, this.reader!));
      for (const t of WORKER_TABLES) next[t].set(p, this.nextIn(snapshots[t], p)!);
      const first = Math.min(...WORKER_TABLES.map((t) => next[t].get(p)!));
      from.push(first);
      backlog.push(Math.max(0, (latest[p] ?? first) - first));
    }
    const take = share(backlog, this.options.kafka?.maxOffsetsPerTrigger ?? DEFAULT_MAX_OFFSETS_PER_TRIGGER);
    this.lag = backlog.reduce((a, b) => a + b, 0);
    if (take.every((t) => t === 0)) return undefined;
    const ranges = partitions
      .map((partition, i) => ({ partition, from: from[i]!, to: from[i]! + take[i]! }))
      .filter((r) => r.to > r.from);
    return { ranges, next, snapshots };
  }

  /** Whether gold holds every partition of the topic up to `ends` (the worker's available-now end). */
  private async topicDone(ends: number[]): Promise<boolean> {
    const gold = await this.tables.get('gold')!.snapshot();
    for (let p = 0; p < ends.length; p++) {
      const next = this.nextIn(gold, p) ?? (await this.starts!.resolve(p, true, ends, this.reader!));
      if (next < ends[p]!) return false;
    }
    return true;
  }

  /** SQL filter of raw records: those of `ranges` at or after each partition's `next` offset. */
  private pendingFilter(ranges: readonly KafkaRange[], next: Map<number, number>): string {
    const arms = ranges
      .filter((r) => next.get(r.partition)! < r.to)
      .map(
        (r) =>
          `(starts_with(source_file, '${this.location.uri.replace(/'/g, "''")}/${r.partition}/') AND line_number >= ${next.get(r.partition)!})`,
      );
    return arms.length ? arms.join(' OR ') : 'false';
  }

  /** The txns a table's commit carries: each partition of the batch it did not hold yet. */
  private txnsFor(
    ranges: readonly KafkaRange[],
    next: Map<number, number>,
  ): { appId: string; version: number }[] {
    return ranges
      .filter((r) => next.get(r.partition)! < r.to)
      .map((r) => ({ appId: this.appId(r.partition), version: r.to - 1 }));
  }

  private async runBatch(plan: BatchPlan): Promise<void> {
    const t0 = performance.now();
    const batch = await readKafkaRanges(this.reader!, this.session, this.location, plan.ranges, {
      ...(this.options.kafka?.maxFetchBytes ? { maxFetchBytes: this.options.kafka.maxFetchBytes } : {}),
      ...(this.options.maxRecordBytes ? { maxRecordBytes: this.options.maxRecordBytes } : {}),
    });
    const id = ++this.batchNumber;
    const rows = { bronze: 0, quarantine: 0, silver: 0, gold: 0 };
    try {
      const raw = (t: WorkerTable) =>
        `(SELECT * FROM ${batch.table} WHERE ${this.pendingFilter(plan.ranges, plan.next[t])})`;
      const now = new Date().toISOString();
      let columns = plan.snapshots.bronze.schema.fields
        .map((f) => f.name)
        .filter((n) => !['_rescued_data', 'source_file', 'processing_time'].includes(n));
      let evolved = false;
      if (this.options.schemaEvolution) {
        const added = (await this.session.all(newKeysSql(raw('bronze'), columns))).map((r) => String(r.k));
        if (added.length) [columns, evolved] = [[...columns, ...added], true];
      }
      const bronzeOf = (t: WorkerTable) => bronzeRowsSql(raw(t), columns, now);
      const silverOf = (t: WorkerTable) =>
        silverRowsSql(bronzeOf(t), { dropWithoutMentions: this.options.dropTweetsWithoutMentions });
      rows.bronze = await this.write('bronze', plan, bronzeOf('bronze'), evolved);
      rows.quarantine = await this.write(
        'quarantine',
        plan,
        quarantineRowsSql(raw('quarantine'), 'bronze_stream', now),
        true,
      );
      rows.silver = await this.write('silver', plan, silverOf('silver'));
      if (this.txnsFor(plan.ranges, plan.next.gold).length)
        rows.gold = await this.writeGold(plan, silverOf('gold'), id);
    } finally {
      await batch.dispose?.();
    }
    this.summary.batches++;
    this.summary.records += batch.numRows ?? 0;
    for (const t of WORKER_TABLES) this.summary.rows[t] += rows[t];
    const ms = Math.round(performance.now() - t0);
    this.line(
      `batch ${id} ${plan.ranges.map((r) => `${r.partition}:[${r.from},${r.to})`).join(' ')}: ` +
        `${batch.numRows ?? 0} records -> bronze ${rows.bronze}, quarantine ${rows.quarantine}, ` +
        `silver ${rows.silver}, gold ${rows.gold}, ${ms} ms`,
    );
    log.info({ worker: this.name, batch: id, ranges: plan.ranges, rows, ms }, 'batch committed');
  }

  /** Appends a table's rows of the batch with its txns, on the planned snapshot (a conflict throws). */
  private async write(
    table: WorkerTable,
    plan: BatchPlan,
    sql: string,
    mergeSchema = false,
  ): Promise<number> {
    const txns = this.txnsFor(plan.ranges, plan.next[table]);
    if (!txns.length) return 0; // a crash came after this table's commit: it holds the batch
    const result = await this.tables.get(table)!.write(
      { sql },
      {
        mode: 'append',
        snapshot: plan.snapshots[table],
        ...(mergeSchema ? { mergeSchema: true } : {}),
        txns,
        // where the plan found each partition: a worker that committed one of them since is a conflict
        expectedTxns: txns.map((t) => ({
          appId: t.appId,
          version: plan.snapshots[table].txnVersion(t.appId),
        })),
        operation: 'STREAMING UPDATE',
        operationParameters: {
          outputMode: 'Append',
          queryName: `group ${this.options.group}`,
          worker: this.name,
          offsets: plan.ranges.map((r) => `${r.partition}:[${r.from},${r.to})`).join(' '),
        },
      },
    );
    return result.numRows;
  }

  /** Gold: the batch's silver rows scored (prediction cache first), then appended like the others. */
  private async writeGold(plan: BatchPlan, silver: string, id: number): Promise<number> {
    const classifier = await this.options.classifier();
    const cache = batchCache({ ...this.options, paths: this.paths }, classifier);
    const scored = await scoreBatch(
      { sql: silver, description: `group batch ${id}`, dispose: async () => {} },
      this.session,
      classifier,
      {
        chunkSize: this.options.inferenceBatchSize,
        ...(this.options.onInference ? { onChunk: this.options.onInference } : {}),
        ...(cache ? { cache } : {}),
      },
    );
    try {
      if (cache && scored.metrics.cachedTexts < scored.metrics.distinctTexts)
        await cache.cache.append(cache.key, scored.newScores, {
          appId: this.cacheAppId,
          version: id,
          queryName: `group ${this.options.group}`,
        });
      return await this.write('gold', plan, scored.batch.sql);
    } finally {
      await scored.batch.dispose?.();
    }
  }

  /** The application lease: one worker of the lakehouse keeps the application table. */
  private acquireApplicationLease(): Promise<Lease> {
    return Lease.acquire(
      storeAt(this.paths.root),
      APPLICATION_LEASE_PREFIX,
      this.options.command ?? process.argv.slice(1).join(' '),
      {
        staleAfterMs: LEASE_TIMING.staleAfterMs,
      },
    );
  }

  /** available-now: the worker that takes the lease brings the application table up to date with gold. */
  private async applicationOnce(): Promise<void> {
    let lease: Lease;
    try {
      lease = await this.acquireApplicationLease();
    } catch (err) {
      if (!(err instanceof LeaseHeld)) throw err;
      this.line(
        `application table kept by pid ${err.holder.pid} on ${err.holder.host}: leaving it to that worker`,
      );
      return;
    }
    await this.withLease(lease, async () => {
      const q = await this.startApplication(Trigger.availableNow());
      await q.awaitTermination();
    });
  }

  /** continuous: takes the application lease whenever it is free and runs application_stream while held. */
  private async keepApplication(): Promise<void> {
    while (!this.stopRequested) {
      let lease: Lease | undefined;
      try {
        lease = await this.acquireApplicationLease();
      } catch (err) {
        if (!(err instanceof LeaseHeld)) log.warn({ err }, 'could not read the application lease');
      }
      if (lease)
        await this.withLease(lease, async () => {
          const q = await this.startApplication(Trigger.processingTime(this.options.pollIntervalMs ?? 1_000));
          await q.awaitTermination();
        });
      else await this.sleep(LEASE_TIMING.refreshMs);
    }
  }

  /** Runs `fn` holding `lease`, refreshed in the background; losing it stops the application stream. */
  private async withLease(lease: Lease, fn: () => Promise<void>): Promise<void> {
    this.line(
      `holds the application lease (generation ${lease.generationNumber}): keeping the application table`,
    );
    let refreshing: Promise<void> | undefined;
    const timer = setInterval(() => {
      refreshing ??= lease
        .refresh()
        .catch((err: unknown) => {
          if (!(err instanceof LeaseLost)) return; // tried again at the next refresh
          this.line(`lost the application lease: ${err.message}`);
          void this.manager.stop('application_stream');
        })
        .finally(() => (refreshing = undefined));
    }, LEASE_TIMING.refreshMs);
    timer.unref();
    try {
      await fn();
    } finally {
      clearInterval(timer);
      await refreshing;
      await lease.release();
    }
  }

  private async startApplication(trigger: Trigger): Promise<StreamingQuery> {
    const base = applicationQuery({ ...this.options, paths: this.paths });
    const q = await this.manager.start({
      ...base,
      trigger,
      onProgress: (p) => {
        this.summary.applicationBatches++;
        this.line(
          `application_stream: batch ${p.batchId}: ${p.numInputRows} gold rows, ${p.durationMs.triggerExecution} ms`,
        );
      },
    });
    if (this.stopRequested) await q.stop();
    return q;
  }

  /** Polls stop requests written by `tweetlake stop` (all streams, or this worker by name) since it started. */
  private watchStopRequests(): { close(): void } {
    const timer = setInterval(() => {
      void this.state
        .stopRequestedSince(this.stateName, this.startedAt)
        .then((asked) => {
          if (asked && !this.stopRequested) {
            this.line('stop requested');
            this.stop();
          }
        })
        .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'could not read stop requests'));
    }, 3_000);
    timer.unref();
    return { close: () => clearInterval(timer) };
  }

  /** The name of the worker's published state (`tweetlake streams`, `tweetlake stop <name>`). */
  get stateName(): string {
    return `worker-${this.options.group}-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_');
  }

  /** Publishes what the worker holds and how far behind it is. */
  private async publish(active: boolean): Promise<void> {
    const partitions = [...(this.member?.partitions ?? [])];
    const app = this.manager.get('application_stream');
    await this.state.publish({
      name: this.stateName,
      id: `group:${this.options.group}`,
      runId: this.cacheAppId,
      pid: process.pid,
      host: hostname(),
      active,
      status: {
        message: active ? (partitions.length ? 'Consuming' : 'Waiting for partitions') : 'Stopped',
        isDataAvailable: this.lag > 0,
        isTriggerActive: active,
      },
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      history: [],
      worker: {
        group: this.options.group,
        topic: this.location.uri,
        partitions,
        lag: this.lag,
        batches: this.summary.batches,
        records: this.summary.records,
        application: app?.isActive ?? false,
      },
    });
  }
}

/** A source that is not a Kafka topic cannot be shared by a group. */
export function checkGroupSource(source: string): void {
  if (!isKafkaUri(source))
    throw new GroupWorkerError(
      `--group needs a Kafka source (--source kafka://host:port/topic): ${source} is a folder, which a group ` +
        `cannot share out (run one \`tweetlake run\` on it instead)`,
    );
  parseKafkaUri(source); // a malformed URI is said now
}
