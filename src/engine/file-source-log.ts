import * as nodePath from 'node:path';
import { ObjectExists, type ObjectStore } from '../storage/object-store.js';
import { CheckpointError, formatLogEntry, parseLogEntry, RECOVERY_HINT } from './checkpoint-file.js';
import type { FileRange, RecordFormat } from './range-reader.js';
import type { RecordPosition } from './record-sink.js';

/**
 * One piece of a batch in the file source's log: bytes of a file, or (with `changed`) a notice that a
 * file read before has changed since, which becomes one quarantine record and reads nothing.
 */
export interface LoggedRange extends FileRange {
  changed?: { size: number; mtime: number };
  /** A changed file read again from the start (allowOverwrites). */
  overwrite?: boolean;
}

/** Where reading a range ended, for ranges that stop inside their file or failed (`<batch>.reads`). */
export interface RangeEnd {
  key: string;
  start: number;
  format?: RecordFormat;
  next?: RecordPosition;
  /** The file's state when reading it failed (truncated, removed: size -1), so that it is not reported again. */
  seen?: { size: number; mtime: number };
}

const BATCH = /^(\d+)$/;
const READS = /^(\d+)\.reads$/;

/** Whether a range reaches the end of its file (so no range of it follows). */
export function isFinalRange(r: LoggedRange): boolean {
  return r.changed !== undefined || (!r.gzip && r.end >= r.size);
}

/**
 * The file source's log in its checkpoint folder (`sources/0`): `<batch>` holds the ranges of a batch,
 * written before the batch runs; `<batch>.reads` where its ranges that stop inside their files ended.
 */
export class FileSourceLog {
  constructor(
    readonly store: ObjectStore,
    /** The source folder, to read logs of older tweetlake that listed absolute paths. */
    private readonly sourceRoot: string,
  ) {}

  /** Every batch's ranges and range ends, by batch id. */
  async readAll(): Promise<{ batches: Map<number, LoggedRange[]>; ends: Map<number, RangeEnd[]> }> {
    const batches = new Map<number, LoggedRange[]>();
    const ends = new Map<number, RangeEnd[]>();
    for (const entry of await this.store.list('')) {
      const b = BATCH.exec(entry.path);
      const r = READS.exec(entry.path);
      if (b) batches.set(Number(b[1]), await this.readBatch(Number(b[1])));
      else if (r) {
        const parsed = parseLogEntry<{ ranges?: RangeEnd[] }>(
          await this.store.get(entry.path),
          this.file(entry.path),
        );
        ends.set(Number(r[1]), parsed.ranges ?? []);
      }
    }
    return { batches, ends };
  }

  private file(path: string): string {
    return this.store.location(path);
  }

  /** The ranges of one batch (also from the `{files: [...]}` entries older tweetlake wrote). */
  async readBatch(id: number): Promise<LoggedRange[]> {
    const path = String(id);
    const parsed = parseLogEntry<{
      ranges?: LoggedRange[];
      files?: { path: string; size: number; mtime: number }[];
    }>(await this.store.get(path), this.file(path));
    if (Array.isArray(parsed.ranges)) return parsed.ranges;
    if (Array.isArray(parsed.files)) return parsed.files.map((f) => this.wholeFile(f));
    throw new CheckpointError(`checkpoint file ${this.file(path)} lists no files; ${RECOVERY_HINT}`);
  }

  /** An old entry (a whole file by absolute path) as a range. */
  private wholeFile(f: { path: string; size: number; mtime: number }): LoggedRange {
    const key = nodePath.relative(this.sourceRoot, f.path).split(nodePath.sep).join('/');
    return { key, path: f.path, start: 0, end: f.size, line: 1, size: f.size, mtime: f.mtime, gzip: false };
  }

  /** Logs a batch's ranges; when another run logged that batch first, returns its ranges instead. */
  async writeBatch(id: number, ranges: LoggedRange[]): Promise<LoggedRange[]> {
    try {
      await this.store.putIfAbsent(String(id), formatLogEntry({ ranges }));
      return ranges;
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
      return this.readBatch(id);
    }
  }

  /** Records where a batch's ranges ended (written again, the same, when the batch is replayed). */
  async writeEnds(id: number, ends: RangeEnd[]): Promise<void> {
    await this.store.put(`${id}.reads`, formatLogEntry({ ranges: ends }));
  }

  /** Where the log is, for messages. */
  get location(): string {
    return this.store.root;
  }
}

/** What differs between two states of a file, in words. */
export function changes(was: { size: number; mtime: number }, now: { size: number; mtime: number }): string {
  return [
    was.size !== now.size ? `size ${was.size} -> ${now.size} bytes` : undefined,
    was.mtime !== now.mtime
      ? `modified ${new Date(was.mtime).toISOString()} -> ${new Date(now.mtime).toISOString()}`
      : undefined,
  ]
    .filter(Boolean)
    .join(', ');
}

/** The quarantine reason (and warning) for a file that changed after it was read. */
export function changeMessage(r: LoggedRange): string {
  return (
    `the file changed after it was read (${changes(r, r.changed!)}): its new content is not read; ` +
    `set allowOverwrites to read changed files again, whole`
  );
}

/** "N file(s)", and how many of them are read in part. */
export function describeRanges(ranges: LoggedRange[]): string {
  const files = new Set(ranges.map((r) => r.key)).size;
  const partial = ranges.filter((r) => !r.changed && (r.start > 0 || !isFinalRange(r))).length;
  return `${files} file(s)${partial ? ` (${partial} in part)` : ''}`;
}
