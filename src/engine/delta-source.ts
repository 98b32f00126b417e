import type { DuckSession, JsonValue } from '../duck/session.js';
import type { AddFile } from '../delta/actions.js';
import { TweetlakeError } from '../errors.js';
import { logReaderOf } from '../delta/log-reader.js';
import { planScan } from '../delta/scan.js';
import { liveRecordsOf, numRecordsOf, Snapshot } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { AdmissionLimits, Source, SourceBatch } from './source.js';

/**
 * Offset of a Delta source: every change up to `version` is read. While the snapshot the stream
 * started from is being read (`initial`), `index` counts its files read so far (absent: all of
 * them), so a large table is read in batches too. The files are in the order of `order`: 'time'
 * (modification time, then path: the order they were written, as Spark reads a starting snapshot,
 * so two runs of one source cut the same batches), or path order in offsets written before it.
 */
interface DeltaOffset {
  version: number;
  initial?: boolean;
  index?: number;
  order?: 'time';
}

type InitialOrder = 'time' | 'path';
const orderOf = (o: DeltaOffset): InitialOrder => (o.order === 'time' ? 'time' : 'path');

export interface DeltaSourceOptions {
  /** Read changes from this version on, instead of the latest snapshot and then its changes. */
  startingVersion?: number;
  /** Skip commits that remove data (updates, deletes, overwrites) instead of failing. */
  skipChangeCommits?: boolean;
}

/** The source table changed in a way an append-only stream cannot follow. */
export class SourceDataRemoved extends TweetlakeError {
  constructor(table: string, version: number) {
    super(
      'STREAM_SOURCE_REMOVED_DATA',
      `version ${version} of source table ${table} removes data (update, delete or overwrite); ` +
        `a streaming read only follows appends. Restart with skipChangeCommits to ignore such commits, ` +
        `or clear the stream's checkpoint to start over`,
      { domain: 'user' },
    );
  }
}

function asOffset(v: JsonValue | undefined): DeltaOffset | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as unknown as DeltaOffset) : undefined;
}

/**
 * Streams a Delta table (Spark's `readStream.format("delta")`): first the snapshot present when the
 * stream starts (unless `startingVersion` is set), then the files each new version appends.
 * `dataChange=false` commits (OPTIMIZE) bring nothing new.
 */
export class DeltaSource implements Source {
  readonly description: string;
  private table!: DeltaTable;
  private snapshot?: Snapshot;
  /** The snapshot batches are planned on, moved forward from batch to batch (never rebuilt from the log). */
  private batchSnapshot?: Snapshot;
  private cap?: number;
  private initial?: { version: number; order: InitialOrder; files: AddFile[] };

  constructor(
    private readonly path: string,
    private readonly options: DeltaSourceOptions = {},
  ) {
    this.description = `DeltaSource[${path}]`;
  }

  async initialize(_checkpoint: ObjectStore, session: DuckSession): Promise<void> {
    this.table = await DeltaTable.forPath(this.path, session);
  }

  private async latest(): Promise<Snapshot | undefined> {
    if (!(await this.table.exists())) return undefined;
    this.snapshot = this.snapshot ? await this.snapshot.update() : await this.table.snapshot();
    return this.snapshot;
  }

  async prepareForAvailableNow(): Promise<void> {
    this.cap = (await this.latest())?.version;
  }

  async latestOffset(start: JsonValue | undefined, limits: AdmissionLimits): Promise<JsonValue | undefined> {
    const snap = await this.latest();
    if (!snap) return start;
    const latest = this.cap === undefined ? snap.version : Math.min(this.cap, snap.version);
    const from = asOffset(start);
    if (!from) {
      if (this.options.startingVersion === undefined) return this.admitInitial(latest, 0, 'time', limits);
      if (this.options.startingVersion > latest) return start;
      return this.admit(this.options.startingVersion - 1, latest, limits);
    }
    if (from.initial && from.index !== undefined) {
      const total = (await this.initialFiles(from.version, orderOf(from))).length;
      if (from.index < total) return this.admitInitial(from.version, from.index, orderOf(from), limits);
    }
    if (from.version >= latest) return start;
    return this.admit(from.version, latest, limits);
  }

  /** Files of the snapshot a stream starts from, in a fixed order so batches replay the same. */
  private async initialFiles(version: number, order: InitialOrder): Promise<AddFile[]> {
    if (this.initial?.version !== version || this.initial.order !== order) {
      const byPath = (a: AddFile, b: AddFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
      const files = (await this.table.snapshot({ version })).files.sort(
        order === 'time' ? (a, b) => a.modificationTime - b.modificationTime || byPath(a, b) : byPath,
      );
      this.initial = { version, order, files };
    }
    return this.initial.files;
  }

  /** The next slice of the starting snapshot, within the file and row limits. */
  private async admitInitial(
    version: number,
    index: number,
    order: InitialOrder,
    limits: AdmissionLimits,
  ): Promise<JsonValue> {
    const files = await this.initialFiles(version, order);
    const maxFiles = limits.maxFilesPerTrigger ?? files.length;
    let end = index;
    let rows = 0;
    while (end < files.length && end - index < Math.max(1, maxFiles)) {
      const r = numRecordsOf(files[end]!) ?? 0;
      if (limits.maxRowsPerTrigger !== undefined && end > index && rows + r > limits.maxRowsPerTrigger) break;
      rows += r;
      end++;
    }
    const next = Math.min(files.length, Math.max(end, index + 1));
    return { version, initial: true, index: next, ...(order === 'time' ? { order } : {}) };
  }

  /** The end of the next batch: whole versions after `after`, up to `latest`, within the file and row limits. */
  private async admit(after: number, latest: number, limits: AdmissionLimits): Promise<JsonValue> {
    let files = 0;
    let rows = 0;
    let end = after;
    for (let v = after + 1; v <= latest; v++) {
      const adds = await this.changes(v);
      const r = adds.reduce((n, a) => n + (numRecordsOf(a) ?? 0), 0);
      if (
        limits.maxFilesPerTrigger !== undefined &&
        end > after &&
        files + adds.length > limits.maxFilesPerTrigger
      )
        break;
      if (limits.maxRowsPerTrigger !== undefined && end > after && rows + r > limits.maxRowsPerTrigger) break;
      files += adds.length;
      rows += r;
      end = v;
    }
    return { version: end };
  }

  /** Files a version appended; throws when it removed data (unless told to skip such commits). */
  private async changes(version: number): Promise<AddFile[]> {
    const { actions } = await logReaderOf(this.table.store).requireCommit(version);
    const removes = actions.some((a) => 'remove' in a && a.remove.dataChange);
    if (removes) {
      if (this.options.skipChangeCommits) return [];
      throw new SourceDataRemoved(this.table.location, version);
    }
    return actions.flatMap((a) => ('add' in a && a.add.dataChange ? [a.add] : []));
  }

  async getBatch(start: JsonValue | undefined, end: JsonValue): Promise<SourceBatch> {
    const to = asOffset(end)!;
    const from = asOffset(start);
    const snapshot = await this.snapshotAt(to.version);
    let files: AddFile[];
    if (to.initial) {
      const all = await this.initialFiles(to.version, orderOf(to));
      const first = from?.initial && from.version === to.version ? (from.index ?? all.length) : 0;
      files = all.slice(first, to.index ?? all.length);
    } else {
      files = [];
      const first = from ? from.version + 1 : (this.options.startingVersion ?? 0);
      for (let v = first; v <= to.version; v++) files.push(...(await this.changes(v)));
    }
    const plan = await planScan(snapshot, { files });
    const rows = files.reduce((n, f) => n + liveRecordsOf(f), 0);
    return {
      sql: plan.sql,
      description: to.initial
        ? `snapshot at version ${to.version}, ${files.length} file(s)`
        : `versions ${(from?.version ?? -1) + 1}..${to.version}`,
      dispose: plan.dispose,
      numRows: rows,
    };
  }

  /** The table at `version`: the batch snapshot (or the latest one) moved forward to it. */
  private async snapshotAt(version: number): Promise<Snapshot> {
    const base =
      this.batchSnapshot ?? (this.snapshot && this.snapshot.version <= version ? this.snapshot : undefined);
    this.batchSnapshot = base ? await base.update(version) : await this.table.snapshot({ version });
    return this.batchSnapshot;
  }

  /** Files not yet read after `start` (0 when the stream has caught up with the table). */
  async backlog(start: JsonValue | undefined): Promise<{ files: number }> {
    const snap = await this.latest();
    if (!snap) return { files: 0 };
    const from = asOffset(start);
    if (!from) return { files: Math.max(1, snap.numFiles) };
    let files = 0;
    if (from.initial && from.index !== undefined)
      files += (await this.initialFiles(from.version, orderOf(from))).length - from.index;
    for (let v = from.version + 1; v <= snap.version; v++)
      files += Math.max(1, (await this.changes(v)).length);
    return { files };
  }

  /** The newest version of the source table (undefined while it does not exist). */
  async latestVersion(): Promise<number | undefined> {
    return (await this.latest())?.version;
  }
}
