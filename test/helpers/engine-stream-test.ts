/**
 * A small StreamTest language for the engine tests (after Spark's StreamTest): add files to a
 * source folder (AddData), start a query with a trigger (StartStream), check the sink table's
 * answer (CheckAnswer), stop and restart on the same checkpoint (StopStream / StartStream), and
 * move a manual clock (AdvanceManualClock). Everything is real: files on disk, Delta tables, checkpoints.
 */
import { existsSync, mkdirSync, promises as fs, utimesSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { DuckSession, type JsonRow } from '../../src/duck/session.js';
import { DeltaTable } from '../../src/delta/index.js';
import { tempDirs } from './delta.js';
import { ManualClock } from '../../src/engine/clock.js';
import { FileSource } from '../../src/engine/file-source.js';
import { StreamingQuery, type StreamingQueryOptions, type Transform } from '../../src/engine/query.js';
import {
  DeltaSink,
  ForeachBatchSink,
  type BatchContext,
  type BatchResult,
  type Sink,
} from '../../src/engine/sink.js';
import type { AdmissionLimits, Source, SourceBatch } from '../../src/engine/source.js';
import { Trigger } from '../../src/engine/trigger.js';

/** Raw records (FileSource's columns) -> rows (id BIGINT, v VARCHAR, source_file VARCHAR). */
export const parseIdRecords: Transform = async (batch) => ({
  sql: `SELECT CAST(json_extract_string(line, '$.id') AS BIGINT) AS id, json_extract_string(line, '$.v') AS v,
      source_file FROM (${batch.sql})`,
  description: batch.description,
  dispose: async () => {},
});

/** Polls `check` every few milliseconds until it is true (fails after `timeoutMs`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A ManualClock that also tells how many sleeps have started, so a test can wait until a query sleeps. */
export class ObservedClock extends ManualClock {
  sleeps = 0;

  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps++;
    return super.sleep(ms, signal);
  }

  /** Waits until the number of sleeps started reaches `n`. */
  async sleeping(n: number): Promise<void> {
    await waitFor(() => this.sleeps >= n, `sleep #${n} of the query`);
  }
}

export interface QuerySpec {
  trigger?: Trigger;
  limits?: AdmissionLimits;
  /** Default: a DeltaSink on `table`. */
  sink?: Sink;
  /** Default: a FileSource on `source`. */
  source?: Source;
  transform?: Transform | null;
  clock?: StreamingQueryOptions['clock'];
  name?: string;
  retryFailedBatches?: boolean;
}

/** One stream under test: a source folder, a sink table and a checkpoint in a temp directory. */
export class StreamTest {
  readonly source: string;
  readonly table: string;
  readonly checkpoint: string;
  /** The files each committed batch read (batch id -> sorted base names), from the sink's point of view. */
  readonly batchFiles = new Map<number, string[]>();
  private mtime = 1_600_000_000;

  constructor(
    readonly session: DuckSession,
    readonly root: string,
  ) {
    this.source = nodePath.join(root, 'source');
    this.table = nodePath.join(root, 'table');
    this.checkpoint = nodePath.join(root, 'checkpoint');
    mkdirSync(this.source, { recursive: true });
  }

  /** AddData: a JSON Lines file of records {id, v}; each new file is 10 s newer than the last unless `mtime` is given. */
  addFile(name: string, ids: number[], mtime?: number): string {
    const path = nodePath.join(this.source, name);
    mkdirSync(nodePath.dirname(path), { recursive: true });
    writeFileSync(path, ids.map((id) => JSON.stringify({ id, v: `v${id}` })).join('\n') + '\n');
    this.mtime += 10;
    const t = mtime ?? this.mtime;
    utimesSync(path, t, t);
    return path;
  }

  /** The default sink: the Delta table, recording which files each batch read. */
  deltaSink(): Sink {
    const delta = new DeltaSink(this.table);
    return new ForeachBatchSink(
      delta.description,
      async (batch: SourceBatch, ctx: BatchContext): Promise<BatchResult> => {
        const files = await this.session.all(
          `SELECT DISTINCT source_file AS f FROM (${batch.sql}) ORDER BY f`,
        );
        const result = await delta.addBatch(batch, ctx);
        this.batchFiles.set(
          ctx.batchId,
          files.map((r) => nodePath.basename(String(r.f))),
        );
        return result;
      },
    );
  }

  /** The raw records (FileSource's columns) the rawSink received, in order of batches. */
  readonly rawRecords: JsonRow[] = [];

  /** A sink that keeps every raw record of each batch in `rawRecords` (use with `transform: null`). */
  rawSink(): Sink {
    return new ForeachBatchSink('raw records', async (batch: SourceBatch): Promise<BatchResult> => {
      const rows = await this.session.all(
        `SELECT source_file, line_number, byte_offset, line, file_error, raw_bytes FROM (${batch.sql}) ORDER BY source_file, byte_offset NULLS LAST, line_number`,
      );
      this.rawRecords.push(...rows);
      return { numInputRows: batch.numRows ?? rows.length, numOutputRows: rows.length };
    });
  }

  /** A plain DeltaSink on the sink table (for sources without a source_file column). */
  deltaSinkPlain(): Sink {
    return new DeltaSink(this.table);
  }

  /** A query on this stream's checkpoint (not started). */
  query(spec: QuerySpec = {}): StreamingQuery {
    return new StreamingQuery(this.queryOptions(spec));
  }

  /** The options of `query(spec)` (for StreamingQueryManager.start). */
  queryOptions(spec: QuerySpec = {}): StreamingQueryOptions {
    const transform = spec.transform === null ? undefined : (spec.transform ?? parseIdRecords);
    return {
      name: spec.name ?? 'test_stream',
      source: spec.source ?? new FileSource({ path: this.source }),
      sink: spec.sink ?? this.deltaSink(),
      ...(transform ? { transform } : {}),
      checkpointLocation: this.checkpoint,
      trigger: spec.trigger ?? Trigger.availableNow(),
      ...(spec.limits ? { limits: spec.limits } : {}),
      ...(spec.clock ? { clock: spec.clock } : {}),
      ...(spec.retryFailedBatches ? { retryFailedBatches: true } : {}),
      session: this.session,
    };
  }

  /** StartStream: starts a query in the background. */
  async start(spec: QuerySpec = {}): Promise<StreamingQuery> {
    return this.query(spec).start();
  }

  /** StartStream + wait: runs a query until it ends by itself (availableNow / once); rethrows its failure. */
  async run(spec: QuerySpec = {}): Promise<StreamingQuery> {
    const q = await this.start(spec);
    await q.awaitTermination();
    return q;
  }

  /** The sink table's rows, sorted by id (empty when the table does not exist yet). */
  async rows(columns = 'id, v, source_file'): Promise<JsonRow[]> {
    const table = await DeltaTable.forPath(this.table, this.session);
    if (!(await table.exists())) return [];
    const plan = await table.scan();
    try {
      return await this.session.all(`SELECT ${columns} FROM (${plan.sql}) ORDER BY ALL`);
    } finally {
      await plan.dispose();
    }
  }

  /** The ids in the sink table, sorted (duplicates kept). */
  async ids(): Promise<number[]> {
    return (await this.rows('id')).map((r) => Number(r.id));
  }

  /** CheckAnswer: the sink table holds exactly these ids (as a multiset). */
  async checkAnswer(expected: number[]): Promise<void> {
    expect(await this.ids()).toEqual([...expected].sort((a, b) => a - b));
  }

  /** The sink table's latest version (-1 when it does not exist). */
  async tableVersion(): Promise<number> {
    const table = await DeltaTable.forPath(this.table, this.session);
    if (!(await table.exists())) return -1;
    return (await table.snapshot()).version;
  }

  /** Whether the checkpoint holds `offsets/<n>` or `commits/<n>`. */
  hasLog(dir: 'offsets' | 'commits', batchId: number): boolean {
    return existsSync(nodePath.join(this.checkpoint, dir, String(batchId)));
  }

  /** Deletes `commits/<n>`: as if the process died after the sink committed but before the commit log. */
  async dropCommit(batchId: number): Promise<void> {
    await fs.rm(nodePath.join(this.checkpoint, 'commits', String(batchId)));
  }
}

/** Ids from `from` to `to` inclusive. */
/**
 * For one test file: a DuckDB session opened before its tests and closed after, and temporary
 * folders removed after; `stream()` makes a StreamTest in a new folder.
 */
export function streamTests(prefix: string): {
  stream: () => StreamTest;
  session: () => DuckSession;
  dir: () => string;
} {
  let session: DuckSession | undefined;
  const dirs = tempDirs(prefix);
  beforeAll(async () => {
    session = await DuckSession.create();
  });
  afterAll(() => {
    session?.close();
    dirs.cleanup();
  });
  const get = (): DuckSession => {
    if (!session) throw new Error('the session opens in beforeAll');
    return session;
  };
  return { session: get, dir: () => dirs.make(), stream: () => new StreamTest(get(), dirs.make()) };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A sink that fails: before writing, or (with `after`) after the inner sink committed. */
export function failingSink(inner: Sink, when: (batchId: number) => 'before' | 'after' | 'no'): Sink {
  return new ForeachBatchSink(`failing(${inner.description})`, async (batch, ctx) => {
    const mode = when(ctx.batchId);
    if (mode === 'before') throw new Error(`injected failure before batch ${ctx.batchId}`);
    const result = await inner.addBatch(batch, ctx);
    if (mode === 'after') throw new Error(`injected failure after batch ${ctx.batchId} was committed`);
    return result;
  });
}

/** Appends rows (id BIGINT, v VARCHAR) to a Delta table (creating it), one commit; returns the version. */
export async function appendIds(
  session: DuckSession,
  path: string,
  ids: number[],
  mode: 'append' | 'overwrite' = 'append',
): Promise<number> {
  const table = await DeltaTable.forPath(path, session);
  const values = ids.map((id) => `(${id}::BIGINT, 'v${id}')`).join(', ');
  const result = await table.write({ sql: `SELECT * FROM (VALUES ${values}) t(id, v)` }, { mode });
  return result.version;
}
