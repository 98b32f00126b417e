import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ObjectStore } from '../storage/object-store.js';
import { TweetlakeError } from '../errors.js';
import { FileTruncated } from './range-errors.js';

/** Compressed bytes [0, size) of an object, in chunks of at most `chunkBytes`. */
async function* compressedChunks(
  store: ObjectStore,
  key: string,
  size: number,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  for (let pos = 0; pos < size;) {
    const bytes = await store.getRange(key, pos, Math.min(chunkBytes, size - pos));
    if (bytes.length === 0) throw new FileTruncated(pos, size);
    yield bytes;
    pos += bytes.length;
  }
}

/**
 * The decompressed bytes of a gzip object (every member of a multi-member file), read forward as a
 * stream: only a chunk of compressed and one of decompressed bytes are held at a time. A cursor
 * remembers where the last range ended, so the next range of the same file continues from there
 * instead of decompressing from the start again.
 */
export class GzipCursor {
  /** Decompressed offset of the first byte `chunks()` yields next. */
  position = 0;
  /** Bytes put back by `rewindTo`, yielded before any new ones. */
  private leftover: Uint8Array[] = [];
  /** The chunks yielded last (up to `keepBytes` of them), so that a rewind can go back into them. */
  private recent: { start: number; bytes: Uint8Array }[] = [];
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly close: () => void;

  constructor(
    readonly store: ObjectStore,
    readonly key: string,
    readonly size: number,
    readonly mtime: number,
    chunkBytes: number,
    private readonly keepBytes = chunkBytes,
  ) {
    const source = Readable.from(compressedChunks(store, key, size, chunkBytes));
    const gunzip = createGunzip({ chunkSize: Math.max(64, Math.min(chunkBytes, 1 << 20)) });
    source.on('error', (err) => gunzip.destroy(err));
    source.pipe(gunzip);
    this.iterator = gunzip[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    this.close = () => {
      source.destroy();
      gunzip.destroy();
    };
  }

  /** Decompressed chunks from `start` on (`start` must not be behind the cursor). */
  async *chunks(start: number): AsyncGenerator<Uint8Array> {
    if (start < this.position)
      throw new TweetlakeError(
        'INTERNAL_GZIP_CURSOR',
        `gzip cursor at ${this.position} cannot go back to ${start} (a bug of tweetlake: please report it)`,
      );
    for (;;) {
      const chunk = this.leftover.shift() ?? (await this.pull());
      if (!chunk) return;
      const from = this.position;
      this.position += chunk.length;
      if (this.position <= start) continue; // before the range: decompressed and dropped
      this.remember(from, chunk);
      yield from >= start ? chunk : chunk.subarray(start - from);
    }
  }

  private remember(start: number, bytes: Uint8Array): void {
    this.recent.push({ start, bytes });
    let kept = this.recent.reduce((n, c) => n + c.bytes.length, 0);
    while (this.recent.length > 1 && kept - this.recent[0]!.bytes.length >= this.keepBytes) {
      kept -= this.recent.shift()!.bytes.length;
    }
  }

  /**
   * Moves the cursor back to `offset` (where the next range starts) within the chunks it yielded
   * last; returns false when that is further back than it kept.
   */
  rewindTo(offset: number): boolean {
    if (offset > this.position) return false;
    const from = this.recent.findIndex((c) => c.start <= offset && offset < c.start + c.bytes.length);
    if (offset < this.position && from < 0) return false;
    const back = from < 0 ? [] : this.recent.slice(from);
    if (back.length) back[0] = { start: offset, bytes: back[0]!.bytes.subarray(offset - back[0]!.start) };
    this.leftover = [...back.map((c) => c.bytes), ...this.leftover];
    this.recent = [];
    this.position = offset;
    return true;
  }

  /** Frees the decompressor. */
  dispose(): void {
    this.close();
  }

  private async pull(): Promise<Uint8Array | undefined> {
    const r = await this.iterator.next();
    return r.done ? undefined : r.value;
  }
}

/** The few cursors of gzip files being read in ranges, by file; the oldest is let go past the limit. */
export class GzipCursors {
  private readonly cursors = new Map<string, GzipCursor>();

  constructor(private readonly limit = 4) {}

  /** A cursor of the file at or before `start`: the kept one when it can continue, else a new one. */
  take(
    store: ObjectStore,
    file: { key: string; size: number; mtime: number },
    start: number,
    chunkBytes: number,
    keepBytes: number,
  ): GzipCursor {
    const kept = this.cursors.get(file.key);
    this.cursors.delete(file.key);
    if (kept && kept.size === file.size && kept.mtime === file.mtime && kept.position <= start) return kept;
    kept?.dispose();
    return new GzipCursor(store, file.key, file.size, file.mtime, chunkBytes, keepBytes);
  }

  /** Keeps a cursor for the file's next range. */
  keep(cursor: GzipCursor): void {
    this.cursors.set(cursor.key, cursor);
    while (this.cursors.size > this.limit) {
      const [oldest] = this.cursors.keys();
      this.cursors.get(oldest!)?.dispose();
      this.cursors.delete(oldest!);
    }
  }

  /** Frees every cursor. */
  clear(): void {
    for (const c of this.cursors.values()) c.dispose();
    this.cursors.clear();
  }
}
