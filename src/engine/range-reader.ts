import type { ObjectStore } from '../storage/object-store.js';
import { GzipCursors } from './gzip-cursor.js';
import { JsonArrayParser } from './json-array.js';
import { JsonLinesParser } from './json-lines.js';
import { FileTruncated, unreadableReason } from './range-errors.js';
import { isJsonSpace, type RecordParser, type RecordPosition, type RecordSink } from './record-sink.js';

/** How a file's records are laid out: JSON Lines, or one JSON array. */
export type RecordFormat = 'lines' | 'array';

/**
 * A byte range of one source file. `start` is a record boundary (0, or where the range before it
 * ended); the range holds the records that start before `end`. Offsets of gzip files count
 * decompressed bytes.
 */
export interface FileRange {
  /** The file's key in its object store. */
  key: string;
  /** The file's name as the tables record it (`source_file`). */
  path: string;
  start: number;
  end: number;
  /** Number of the record at `start` (line number, or element number of an array). */
  line: number;
  /** Size (compressed, for gzip) and modification time when admitted: nothing past `size` is read. */
  size: number;
  mtime: number;
  gzip: boolean;
  /** Known once the file's first range was read. */
  format?: RecordFormat;
}

/** What reading a range found. */
export interface RangeRead {
  /** Records handed to the sink (errors included). */
  records: number;
  format?: RecordFormat;
  /** Where the file's next range starts; undefined when the file has no records left. */
  next?: RecordPosition;
  /** Why the file could not be read to the end (its error record says the same). */
  failure?: string;
}

export interface ReadOptions {
  /** Bytes per read from the store (and per decompressed chunk of gzip). */
  chunkBytes: number;
  maxRecordBytes: number;
  /** Cursors that let a gzip file's next range continue where the last one stopped. */
  gzipCursors?: GzipCursors;
}

/** Whether a file name says gzip. */
export function isGzipName(key: string): boolean {
  return /\.gz$/i.test(key);
}

/** Plain bytes [start, size) of a file, in chunks; a file shorter than `size` is FileTruncated. */
async function* plainChunks(
  store: ObjectStore,
  range: FileRange,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  for (let pos = range.start; pos < range.size;) {
    const want = Math.min(chunkBytes, range.size - pos);
    const bytes = await store.getRange(range.key, pos, want);
    if (bytes.length > 0) yield bytes;
    pos += bytes.length;
    if (bytes.length < want) throw new FileTruncated(pos, range.size);
  }
}

/** Reads one range of a file into `sink`. A file that cannot be read gives one error record with the reason. */
export async function readRange(
  store: ObjectStore,
  range: FileRange,
  sink: RecordSink,
  options: ReadOptions,
): Promise<RangeRead> {
  const cursors = options.gzipCursors ?? new GzipCursors(0);
  const cursor = range.gzip
    ? cursors.take(store, range, range.start, options.chunkBytes, options.maxRecordBytes + options.chunkBytes)
    : undefined;
  const chunks = cursor ? cursor.chunks(range.start) : plainChunks(store, range, options.chunkBytes);
  const sniffer = new FormatSniffer(sink, range, options.maxRecordBytes);
  let at = range.start;
  let failure: string | undefined;
  try {
    for await (const chunk of chunks) {
      at += chunk.length;
      if (!sniffer.push(chunk)) break;
    }
  } catch (err) {
    failure = unreadableReason(err);
    if (failure === undefined) {
      cursor?.dispose();
      throw err;
    }
  }
  const parser = sniffer.parser;
  if (!parser?.next) sniffer.finish();
  let records = parser?.records ?? 0;
  if (failure !== undefined) {
    sink.error(failurePosition(at, range), null, failure);
    records++;
  }
  const next = failure === undefined ? parser?.next : undefined;
  if (cursor && next && cursor.rewindTo(next.offset)) cursors.keep(cursor);
  else cursor?.dispose();
  return {
    records,
    ...(sniffer.format ? { format: sniffer.format } : {}),
    ...(next ? { next } : {}),
    ...(failure !== undefined ? { failure } : {}),
  };
}

function failurePosition(at: number, range: FileRange): number {
  return range.gzip ? at : Math.min(at, range.size);
}

/**
 * Decides a file's format from its first bytes that are not white space (after a byte-order mark):
 * '[' is a JSON array, anything else JSON Lines; then hands every byte to that format's parser.
 * Ranges after the first know their format already.
 */
class FormatSniffer {
  parser?: RecordParser;
  format?: RecordFormat;
  private readonly lines: JsonLinesParser;
  private offset: number;

  constructor(
    private readonly sink: RecordSink,
    private readonly range: FileRange,
    private readonly maxRecordBytes: number,
  ) {
    this.offset = range.start;
    this.lines = new JsonLinesParser(sink, {
      offset: range.start,
      line: range.line,
      end: range.end,
      maxRecordBytes,
    });
    if (range.format === 'lines' || range.start > 0) {
      this.format = range.format ?? 'lines';
      this.parser = this.format === 'array' ? this.arrayParser(range.start, true) : this.lines;
    }
  }

  private arrayParser(offset: number, opened: boolean): JsonArrayParser {
    return new JsonArrayParser(this.sink, {
      offset,
      line: this.range.line,
      end: this.range.end,
      maxRecordBytes: this.maxRecordBytes,
      opened,
    });
  }

  /** False once the range is done. */
  push(chunk: Uint8Array): boolean {
    if (this.parser) return this.parser.push(chunk);
    const first = firstContent(chunk, this.offset === 0 ? bomLength(chunk) : 0);
    if (first < 0 || chunk[first] !== 0x5b) {
      // White space so far (JSON Lines keeps counting its lines), or the first record of JSON Lines.
      if (first >= 0) {
        this.format = 'lines';
        this.parser = this.lines;
      }
      this.offset += chunk.length;
      return this.lines.push(chunk);
    }
    this.format = 'array';
    this.parser = this.arrayParser(this.offset + first, false);
    this.offset += chunk.length;
    return this.parser.push(chunk.subarray(first));
  }

  finish(): void {
    (this.parser ?? this.lines).finish();
  }
}

function bomLength(chunk: Uint8Array): number {
  return chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0;
}

/** Index of the first byte that is not JSON white space, from `from`; -1 when there is none. */
function firstContent(chunk: Uint8Array, from: number): number {
  for (let i = from; i < chunk.length; i++) if (!isJsonSpace(chunk[i]!)) return i;
  return -1;
}
