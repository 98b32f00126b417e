import { isFinalRange, type LoggedRange, type RangeEnd } from './file-source-log.js';
import type { RecordFormat, RangeRead } from './range-reader.js';
import type { RecordPosition } from './record-sink.js';

/** What the file source knows of one file it admitted. */
export interface TrackedFile {
  key: string;
  path: string;
  gzip: boolean;
  /** Size and modification time of the version being read (as admitted). */
  size: number;
  mtime: number;
  /** The latest state of the file accounted for: admitted, or reported as changed. */
  known: { size: number; mtime: number };
  format?: RecordFormat;
  /** The last range admitted. */
  last: LoggedRange;
  /** Where the next range starts; set once the last range was read and the file goes on. */
  next?: RecordPosition;
  /** No range of this version is left to admit. */
  complete: boolean;
  /** The last range was admitted but is not read yet (in this process): where it ends is unknown. */
  unread: boolean;
  /** Order of first admission. */
  order: number;
}

/**
 * The file source's memory of admitted files, rebuilt from its log on start: which version of each
 * file was admitted, which ranges of it, and where the next range starts.
 */
export class FileTracker {
  readonly files = new Map<string, TrackedFile>();
  private order = 0;

  /** Applies a logged range (batches in order). */
  admit(r: LoggedRange): void {
    const f = this.files.get(r.key);
    if (r.changed) {
      if (f) {
        f.known = { ...r.changed };
        f.complete = true; // what is left of the old version is not read
        f.next = undefined;
        f.unread = false;
      }
      return;
    }
    const final = isFinalRange(r);
    if (r.start === 0 || !f) {
      this.files.set(r.key, {
        key: r.key,
        path: r.path,
        gzip: r.gzip,
        size: r.size,
        mtime: r.mtime,
        known: { size: r.size, mtime: r.mtime },
        ...(r.format ? { format: r.format } : {}),
        last: r,
        complete: final,
        unread: !final,
        order: f?.order ?? this.order++,
      });
      return;
    }
    f.last = r;
    f.next = undefined;
    f.complete = final;
    f.unread = !final;
  }

  /** Records where reading a range ended (when it is still the file's last range). */
  learn(r: LoggedRange, read: Pick<RangeRead, 'format' | 'next'>): void {
    const f = this.files.get(r.key);
    if (!f || r.changed || f.last.start !== r.start || f.size !== r.size || f.mtime !== r.mtime) return;
    if (read.format) f.format = read.format;
    f.unread = false;
    f.next = isFinalRange(r) ? undefined : read.next;
    f.complete = f.next === undefined;
  }

  /** The file was found in another state while being read (truncated, removed): that state is accounted for. */
  sawWhileReading(key: string, now: { size: number; mtime: number } | undefined): void {
    const f = this.files.get(key);
    if (f) f.known = now ?? { size: -1, mtime: -1 };
  }

  /** Applies the range ends logged for a batch. */
  applyEnds(ranges: LoggedRange[], ends: RangeEnd[]): void {
    for (const end of ends) {
      const r = ranges.find((x) => x.key === end.key && x.start === end.start && !x.changed);
      if (!r) continue;
      this.learn(r, end);
      if (end.seen) this.sawWhileReading(r.key, end.seen.size < 0 ? undefined : end.seen);
    }
  }

  /** Files whose next range is known, oldest first. */
  continuing(): TrackedFile[] {
    return [...this.files.values()]
      .filter((f) => !f.complete && !f.unread && f.next)
      .sort((a, b) => a.order - b.order);
  }

  /** Files whose last range's end is not known in this process (read by an earlier one). */
  unreadLast(): TrackedFile[] {
    return [...this.files.values()].filter((f) => !f.complete && f.unread);
  }
}
