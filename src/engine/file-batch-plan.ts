import type { ObjectMeta, ObjectStore } from '../storage/object-store.js';
import type { LoggedRange } from './file-source-log.js';
import type { AdmissionLimits } from './source.js';

/** A range to admit; for a gzip file, how many decompressed bytes its trailer announces. */
export type Candidate = LoggedRange & { estimate?: number };

/** The ranges of one batch, within the file and byte limits; a batch takes at least one range. */
export class BatchPlan {
  readonly ranges: LoggedRange[] = [];
  private bytes = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  /**
   * Adds a range, cut to the room left: a file that does not fit waits for the next batch, unless
   * the batch is empty (then its first `maxBytesPerTrigger` bytes are taken). False once full.
   */
  addRange(candidate: Candidate): boolean {
    const maxFiles = this.limits.maxFilesPerTrigger;
    if (maxFiles !== undefined && this.ranges.length >= maxFiles) return false;
    const { estimate, ...range } = candidate;
    if (range.changed) {
      this.ranges.push(range);
      return true;
    }
    const budget = this.limits.maxBytesPerTrigger ?? Infinity;
    const room = this.ranges.length === 0 ? budget : budget - this.bytes;
    // Bytes left to read: a plain file's; a gzip file's as its trailer says for its first range, and
    // an unknown number (counted as all the room) for a later one.
    const left = !range.gzip
      ? Math.max(1, range.size - range.start)
      : estimate !== undefined
        ? Math.max(1, Math.max(estimate, range.size) - range.start)
        : Infinity;
    if (this.ranges.length > 0 && left > room) return false;
    const take = Math.min(left, room);
    // A gzip range ends where its budget does (its true size is known only once it is read).
    if (range.gzip)
      range.end = Number.isFinite(room) ? range.start + Math.max(1, room) : Number.MAX_SAFE_INTEGER;
    else range.end = range.start + take;
    this.bytes += take;
    this.ranges.push(range);
    return this.bytes < budget;
  }
}

/** A gzip file's decompressed size as its trailer says (exact for one member under 4 GiB). */
export async function gzipSizeEstimate(store: ObjectStore, m: ObjectMeta): Promise<number> {
  if (m.size < 18) return m.size;
  const tail = await store.getRange(m.path, m.size - 4, 4).catch(() => new Uint8Array(0));
  if (tail.length < 4) return m.size;
  return Buffer.from(tail).readUInt32LE(0);
}
