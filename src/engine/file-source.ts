import * as nodePath from 'node:path';
import type { DuckSession, JsonValue } from '../duck/session.js';
import { TweetlakeError } from '../errors.js';
import { isRemoteLocation, storeAt } from '../storage/locations.js';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.js';
import { CheckpointError, RECOVERY_HINT } from './checkpoint-file.js';
import { systemClock, type Clock } from './clock.js';
import { BatchPlan, gzipSizeEstimate, type Candidate } from './file-batch-plan.js';
import {
  changeMessage,
  changes,
  describeRanges,
  FileSourceLog,
  isFinalRange,
  type LoggedRange,
  type RangeEnd,
} from './file-source-log.js';
import { FileTracker, type TrackedFile } from './file-tracker.js';
import { GzipCursors } from './gzip-cursor.js';
import { isGzipName, readRange, type RangeRead } from './range-reader.js';
import { DEFAULT_MAX_RECORD_BYTES, RawRecordsTable } from './raw-records.js';
import type { RecordSink } from './record-sink.js';
import type { AdmissionLimits, Source, SourceBatch, SourceContext } from './source.js';

export interface FileSourceOptions {
  /** Folder watched for new files (recursively; names starting with '.' or '_' are ignored). */
  path: string;
  /** Where the folder's files are read from (default: the local folder `path`). */
  store?: ObjectStore;
  /** Only files whose names match (default: everything not hidden). */
  pattern?: RegExp;
  /** A file is admitted once its size and modification time stayed the same this long (default 1 s). */
  settleMs?: number;
  /** availableNow waits this long at most for files still changing at start (default 10 × settleMs). */
  maxSettleWaitMs?: number;
  /** Read a file again, whole, when it changes after it was read (Auto Loader's cloudFiles.allowOverwrites). */
  allowOverwrites?: boolean;
  /** A record longer than this is quarantined by offset and length, never held whole (default 10 MiB). */
  maxRecordBytes?: number;
  /** Bytes per read from the store (default 4 MiB). */
  chunkBytes?: number;
  /** Time for the settle rule (default: the system clock; file times are wall-clock times). */
  clock?: Clock;
  /**
   * List only the keys after the last one seen (S3's start-after), with a full listing at start and
   * every `fullListingIntervalMs`; default: on for object stores (s3://), off for local folders.
   * A new object whose key sorts before keys already seen, or an overwritten one, is found by the next
   * full listing (Auto Loader's incremental listing has the same rule): name objects in time order.
   */
  incrementalListing?: boolean;
  /** How often an incremental listing lists everything again (default 5 minutes). */
  fullListingIntervalMs?: number;
}

export const DEFAULT_SETTLE_MS = 1000;

/** Whether a source object is one the file source reads: no part of its path starts with '.' or '_'. */
export function isSourceFile(path: string): boolean {
  return !path.split('/').some((s) => s.startsWith('.') || s.startsWith('_'));
}
const DEFAULT_CHUNK_BYTES = 4 << 20;

/** The source folder is missing, not a folder, or cannot be read. */
export class SourcePathError extends TweetlakeError {
  constructor(message: string) {
    super('SOURCE_PATH', message, { domain: 'user' });
  }
}

/**
 * Auto Loader-style file source for JSON. Discovers files in a folder in (modification time, name)
 * order, admits each once it has settled (stopped changing), and reads it in byte ranges cut at
 * record boundaries, so that a batch holds at most `maxBytesPerTrigger` bytes whatever the file
 * sizes. The ranges of a batch are logged in the checkpoint before the batch runs, so a replay reads
 * the same bytes. A file that changes after it was read is reported (a warning and one quarantine
 * record), or read again whole with `allowOverwrites`. Files are read through the object store,
 * never handed to DuckDB by name. A batch is the raw-record relation (see raw-records.ts).
 */
export class FileSource implements Source {
  readonly description: string;
  private readonly store: ObjectStore;
  private readonly clock: Clock;
  private readonly settleMs: number;
  private log!: FileSourceLog;
  private session!: DuckSession;
  private context: SourceContext = { warn: () => {} };
  private readonly tracker = new FileTracker();
  private readonly batches = new Map<number, LoggedRange[]>();
  private readonly observed = new Map<string, { size: number; mtime: number; since: number }>();
  private readonly gzipCursors = new GzipCursors();
  /** availableNow: the files pending at start, as they were then, and whether they had settled. */
  private availableNow?: {
    files: Map<string, { size: number; mtime: number; settled: boolean }>;
    deadline: number;
  };
  private warnedEmpty = false;
  /** The objects of the last listing, by key (the incremental listing adds to it). */
  private known = new Map<string, ObjectMeta>();
  private lastFullListing = -Infinity;

  constructor(private readonly options: FileSourceOptions) {
    this.store = options.store ?? storeAt(options.path);
    this.description = `FileSource[${this.store.root}]`;
    this.clock = options.clock ?? systemClock;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  }

  private get maxRecordBytes(): number {
    return this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  private get readOptions() {
    return {
      chunkBytes: this.options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      maxRecordBytes: this.maxRecordBytes,
      gzipCursors: this.gzipCursors,
    };
  }

  async initialize(checkpoint: ObjectStore, session: DuckSession, context?: SourceContext): Promise<void> {
    await this.checkRoot();
    this.session = session;
    if (context) this.context = context;
    this.log = new FileSourceLog(checkpoint, this.store.root);
    const { batches, ends } = await this.log.readAll();
    for (const id of [...batches.keys()].sort((a, b) => a - b)) {
      const ranges = batches.get(id)!;
      this.batches.set(id, ranges);
      for (const r of ranges) this.tracker.admit(r);
      this.tracker.applyEnds(ranges, ends.get(id) ?? []);
    }
  }

  /** Refuses a source folder that is missing, not a folder, or unreadable. */
  private async checkRoot(): Promise<void> {
    const status = await this.store.rootStatus?.();
    const where = this.store.root;
    if (!status || status.kind === 'ok') return;
    if (status.kind === 'missing')
      throw new SourcePathError(
        `the source folder ${where} does not exist: give a folder of JSON files (--source)`,
      );
    if (status.kind === 'not-a-folder')
      throw new SourcePathError(
        `the source ${where} is not a folder: give the folder that holds the JSON files (--source)`,
      );
    throw new SourcePathError(`the source folder ${where} cannot be read (${status.reason})`);
  }

  async verifyCheckpoint(lastPlanned: JsonValue | undefined): Promise<void> {
    if (typeof lastPlanned !== 'number') return;
    const missing: number[] = [];
    for (let id = 0; id <= lastPlanned; id++) if (!this.batches.has(id)) missing.push(id);
    if (missing.length === 0) return;
    const which = missing.length > 3 ? `${missing[0]}..${missing.at(-1)}` : missing.join(', ');
    throw new CheckpointError(
      `the file source log ${this.log.location} has lost the entries of batches ${which}, which the ` +
        `offsets log planned: the files they read would be read again (duplicate rows). ${capitalize(RECOVERY_HINT)}`,
    );
  }

  /** Files admitted so far, by this run or earlier ones. */
  get admittedFiles(): number {
    return this.tracker.files.size;
  }

  /** The folder's files that a batch may read: not hidden, matching the pattern. */
  private async listing(): Promise<ObjectMeta[]> {
    const files = (await this.listAll())
      .filter((m) => isSourceFile(m.path))
      .filter((m) => !this.options.pattern || this.options.pattern.test(nodePath.basename(m.path)));
    if (files.length === 0 && this.tracker.files.size === 0 && !this.warnedEmpty) {
      this.warnedEmpty = true;
      this.context.warn(`no files in ${this.store.root}`);
    }
    return files;
  }

  /** Every object of the source: listed whole, or only the keys after the last one seen (incremental). */
  private async listAll(): Promise<ObjectMeta[]> {
    const now = this.clock.now();
    const incremental = this.options.incrementalListing ?? isRemoteLocation(this.store.root);
    const last = [...this.known.keys()].at(-1);
    const interval = this.options.fullListingIntervalMs ?? 5 * 60_000;
    if (!incremental || last === undefined || now - this.lastFullListing >= interval) {
      this.known = new Map((await this.store.list('')).map((m) => [m.path, m]));
      this.lastFullListing = now;
    } else {
      // keys after the last one sort after every key known, so the map stays in key order
      for (const m of await this.store.list('', last)) this.known.set(m.path, m);
    }
    return [...this.known.values()];
  }

  /** Whether a file stopped changing: its time is older than the settle time, or it stayed the same that long. */
  private settled(m: ObjectMeta, now: number): boolean {
    const seen = this.observed.get(m.path);
    if (!seen || seen.size !== m.size || seen.mtime !== m.lastModified)
      this.observed.set(m.path, { size: m.size, mtime: m.lastModified, since: now });
    const since = this.observed.get(m.path)!.since;
    return now - m.lastModified >= this.settleMs || now - since >= this.settleMs;
  }

  /** Files that are new, or changed since they were accounted for, whether settled or not. */
  private pending(listing: ObjectMeta[]): ObjectMeta[] {
    return listing.filter((m) => {
      const f = this.tracker.files.get(m.path);
      return !f || f.known.size !== m.size || f.known.mtime !== m.lastModified;
    });
  }

  async prepareForAvailableNow(): Promise<void> {
    const now = this.clock.now();
    const files = new Map<string, { size: number; mtime: number; settled: boolean }>();
    for (const m of this.pending(await this.listing()))
      files.set(m.path, { size: m.size, mtime: m.lastModified, settled: this.settled(m, now) });
    const wait = this.options.maxSettleWaitMs ?? 10 * this.settleMs;
    this.availableNow = { files, deadline: now + wait };
  }

  /**
   * availableNow reads what was there at start: a file that had settled then and changed during the
   * run waits for the next run; one still being written at start is waited for (within the bounds).
   */
  private inAvailableNow(m: ObjectMeta): boolean {
    const cap = this.availableNow;
    if (!cap) return true;
    const then = cap.files.get(m.path);
    if (!then) return false;
    return !then.settled || (then.size === m.size && then.mtime === m.lastModified);
  }

  async latestOffset(start: JsonValue | undefined, limits: AdmissionLimits): Promise<JsonValue | undefined> {
    const startId = typeof start === 'number' ? start : -1;
    const id = startId + 1;
    // A batch logged by a run that stopped before planning it: offer it again, unchanged.
    if (this.batches.has(id)) return id;
    for (const f of this.tracker.unreadLast()) await this.probe(f);
    for (;;) {
      const ranges = await this.plan(limits);
      if (ranges.length > 0) {
        const logged = await this.log.writeBatch(id, ranges);
        this.remember(id, logged);
        return id;
      }
      if (!(await this.waitForSettling())) return start;
    }
  }

  /** availableNow: waits a little when files present at start are still changing; false when none is. */
  private async waitForSettling(): Promise<boolean> {
    const cap = this.availableNow;
    if (!cap || cap.files.size === 0) return false;
    const listing = await this.listing();
    const waiting = this.pending(listing).filter((m) => cap.files.get(m.path)?.settled === false);
    if (waiting.length === 0) return false;
    if (this.clock.now() >= cap.deadline) {
      for (const m of waiting) {
        cap.files.delete(m.path);
        this.context.warn(
          `${this.store.location(m.path)} is still changing: left for the next run (a file is read once it ` +
            `has not changed for ${this.settleMs} ms)`,
        );
      }
      return false;
    }
    await this.clock.sleep(Math.max(10, Math.min(100, this.settleMs / 4)));
    return true;
  }

  /** The ranges of the next batch: files that go on first, then changed and new files that have settled. */
  private async plan(limits: AdmissionLimits): Promise<LoggedRange[]> {
    const listing = await this.listing();
    const byKey = new Map(listing.map((m) => [m.path, m]));
    const now = this.clock.now();
    const batch = new BatchPlan(limits);
    for (const f of this.tracker.continuing()) {
      const m = byKey.get(f.key);
      if (m && (m.size !== f.size || m.lastModified !== f.mtime)) continue; // changed: handled below
      if (!batch.addRange(this.continuation(f))) return batch.ranges;
    }
    const candidates = this.pending(listing)
      .filter((m) => this.inAvailableNow(m) && this.settled(m, now))
      .sort((a, b) => a.lastModified - b.lastModified || compareKeys(a.path, b.path));
    for (const m of candidates) {
      const f = this.tracker.files.get(m.path);
      const range = !f
        ? await this.firstRange(m, false)
        : this.options.allowOverwrites
          ? await this.firstRange(m, true)
          : this.changeNotice(f, m);
      if (!batch.addRange(range)) break;
    }
    return batch.ranges;
  }

  private continuation(f: TrackedFile): LoggedRange {
    return {
      ...f.last,
      start: f.next!.offset,
      end: f.next!.offset,
      line: f.next!.line,
      ...(f.format ? { format: f.format } : {}),
    };
  }

  /** The first range of a file (new, or changed and read again with allowOverwrites). */
  private async firstRange(m: ObjectMeta, overwrite: boolean): Promise<Candidate> {
    const gzip = isGzipName(m.path);
    return {
      key: m.path,
      path: this.store.location(m.path),
      start: 0,
      end: 0,
      line: 1,
      size: m.size,
      mtime: m.lastModified,
      gzip,
      ...(overwrite ? { overwrite: true } : {}),
      ...(gzip ? { estimate: await gzipSizeEstimate(this.store, m) } : {}),
    };
  }

  private changeNotice(f: TrackedFile, m: ObjectMeta): LoggedRange {
    return {
      key: f.key,
      path: f.path,
      start: Math.min(f.known.size, m.size),
      end: Math.min(f.known.size, m.size),
      line: 0,
      size: f.known.size,
      mtime: f.known.mtime,
      gzip: f.gzip,
      changed: { size: m.size, mtime: m.lastModified },
    };
  }

  private remember(id: number, ranges: LoggedRange[]): void {
    this.batches.set(id, ranges);
    for (const r of ranges) {
      const before = this.tracker.files.get(r.key);
      this.tracker.admit(r);
      if (r.changed) this.context.warn(`${r.path}: ${changeMessage(r)}`);
      else if (r.overwrite && r.start === 0 && before)
        this.context.warn(
          `${r.path}: the file changed after it was read (${changes(before, r)}): reading it again, whole (allowOverwrites)`,
        );
    }
  }

  private async currentState(key: string): Promise<{ size: number; mtime: number } | undefined> {
    const meta = await this.store.head(key).catch(() => undefined);
    return meta ? { size: meta.size, mtime: meta.lastModified } : undefined;
  }

  /** Finds where the last range of a file read by an earlier run ended, by reading it again (no rows kept). */
  private async probe(f: TrackedFile): Promise<void> {
    const read = await readRange(this.store, f.last, NULL_SINK, this.readOptions);
    this.tracker.learn(f.last, read);
  }

  /** Ranges admitted in batches (start, end]. */
  rangesBetween(start: JsonValue | undefined, end: JsonValue): { id: number; ranges: LoggedRange[] }[] {
    const from = typeof start === 'number' ? start : -1;
    const out: { id: number; ranges: LoggedRange[] }[] = [];
    for (let id = from + 1; id <= Number(end); id++) out.push({ id, ranges: this.batches.get(id) ?? [] });
    return out;
  }

  async getBatch(start: JsonValue | undefined, end: JsonValue): Promise<SourceBatch> {
    const batches = this.rangesBetween(start, end);
    const raw = await RawRecordsTable.read(this.session, async (table) => {
      for (const { id, ranges } of batches) await this.readBatch(id, ranges, table);
    });
    return { ...raw, description: describeRanges(batches.flatMap((b) => b.ranges)) };
  }

  private async readBatch(id: number, ranges: LoggedRange[], table: RawRecordsTable): Promise<void> {
    const ends: RangeEnd[] = [];
    for (const r of ranges) {
      const sink = table.sink(r.path);
      if (r.changed) {
        sink.error(r.start, null, changeMessage(r));
        continue;
      }
      const read: RangeRead = await readRange(this.store, r, sink, this.readOptions);
      this.tracker.learn(r, read);
      // What a failed read found is accounted for (logged too), so that it is not reported again.
      const seen = read.failure ? ((await this.currentState(r.key)) ?? { size: -1, mtime: -1 }) : undefined;
      if (seen) this.tracker.sawWhileReading(r.key, seen.size < 0 ? undefined : seen);
      if (!isFinalRange(r) || seen)
        ends.push({
          key: r.key,
          start: r.start,
          ...(read.format ? { format: read.format } : {}),
          ...(read.next ? { next: read.next } : {}),
          ...(seen ? { seen } : {}),
        });
    }
    if (ends.length) await this.log.writeEnds(id, ends);
  }

  async backlog(): Promise<{ files: number }> {
    const pending = this.pending(await this.listing()).length;
    return { files: pending + this.tracker.continuing().length + this.tracker.unreadLast().length };
  }
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const NULL_SINK: RecordSink = { lines: () => {}, record: () => {}, error: () => {} };
