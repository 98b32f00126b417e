import { isUtf8 } from 'node:buffer';
import {
  isJsonSpace,
  tooLongReason,
  type RecordParser,
  type RecordPosition,
  type RecordSink,
} from './record-sink.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** Where an array range starts: at the file's '[' (element 1), or between two elements. */
export interface ArrayStart {
  offset: number;
  /** Number of the next element (from 1). */
  line: number;
  /** Elements starting at or after this offset belong to the next range. */
  end: number;
  maxRecordBytes: number;
  /** False when `offset` is the '[' that opens the array. */
  opened: boolean;
}

type Phase = 'open' | 'value' | 'element' | 'closed' | 'trailing';

/** Bytes of one element (or of text after the array) as they arrive, up to the record limit. */
interface Piece {
  offset: number;
  parts: Uint8Array[];
  length: number;
  /** End (exclusive, absolute) of the last byte that is not white space outside a string. */
  contentEnd: number;
  depth: number;
  inString: boolean;
  escape: boolean;
  /** The bytes went over the limit and were let go. */
  dropped: boolean;
}

/**
 * A streaming scanner of one JSON array: finds where each element starts and ends by counting
 * brackets outside strings (with their escapes), never parsing or holding more than one element.
 * Each element is a record numbered from 1; whether it is valid JSON is for the SQL to decide. An
 * element over `maxRecordBytes` is skipped and reported by offset and length; text after the closing
 * ']' and a file that ends inside the array are reported as errors. Good elements before them stay.
 */
export class JsonArrayParser implements RecordParser {
  next: RecordPosition | undefined;
  records = 0;
  private phase: Phase;
  private base: number;
  private element: number;
  private piece?: Piece;

  constructor(
    private readonly sink: RecordSink,
    private readonly start: ArrayStart,
  ) {
    this.phase = start.opened ? 'value' : 'open';
    this.base = start.offset;
    this.element = start.line;
  }

  push(chunk: Uint8Array): boolean {
    if (this.next) return false;
    const len = chunk.length;
    let i = 0;
    while (i < len && !this.next) {
      if (this.phase === 'element') i = this.scanElement(chunk, i);
      else if (this.phase === 'trailing') i = this.collect(chunk, i, len);
      else i = this.between(chunk, i);
    }
    if (this.piece && (this.phase === 'element' || this.phase === 'trailing'))
      this.append(chunk.subarray(this.pieceStartIn(chunk), len));
    this.base += len;
    return this.next === undefined;
  }

  finish(): void {
    if (this.next) return;
    const eof = this.base;
    if (this.phase === 'element') {
      this.emitError('the file ends inside this element: the JSON array is not closed', this.element);
    } else if (this.phase === 'trailing') {
      this.emitError('text after the closing ] of the JSON array', null);
    } else if (this.phase !== 'closed') {
      this.sink.error(eof, null, 'the file ends before the closing ] of the JSON array');
      this.records++;
    }
  }

  /** Outside any element: the opening '[', white space, commas, the closing ']', text after it. */
  private between(data: Uint8Array, i: number): number {
    const b = data[i]!;
    if (isJsonSpace(b)) return i + 1;
    const at = this.base + i;
    if (this.phase === 'open') {
      this.phase = 'value'; // the reader starts an array range at its '['
      return i + 1;
    }
    if (this.phase === 'closed') {
      this.phase = 'trailing';
      this.piece = newPiece(at);
      return i;
    }
    if (b === CLOSE_BRACKET) {
      this.phase = 'closed';
      return i + 1;
    }
    if (at >= this.start.end) {
      this.next = { offset: at, line: this.element };
      return i;
    }
    if (b === COMMA) {
      this.sink.error(at, this.element++, 'an empty element in the JSON array');
      this.records++;
      return i + 1;
    }
    this.phase = 'element';
    this.piece = newPiece(at);
    return i;
  }

  /** Scans an element's bytes from data[i]; returns where scanning stopped. */
  private scanElement(data: Uint8Array, i: number): number {
    const p = this.piece!;
    const len = data.length;
    let nextQuote = -2;
    let nextBackslash = -2;
    while (i < len) {
      if (p.inString) {
        if (p.escape) {
          p.escape = false;
          i++;
          continue;
        }
        // Jump to the next quote or backslash (each searched again only once passed).
        if (nextQuote < i && nextQuote !== -1) nextQuote = data.indexOf(QUOTE, i);
        if (nextBackslash < i && nextBackslash !== -1) nextBackslash = data.indexOf(BACKSLASH, i);
        const stop = minFound(nextQuote, nextBackslash);
        if (stop < 0) {
          p.contentEnd = this.base + len;
          return len;
        }
        if (data[stop] === BACKSLASH) p.escape = true;
        else p.inString = false;
        p.contentEnd = this.base + stop + 1;
        i = stop + 1;
        continue;
      }
      const b = data[i]!;
      if (b === QUOTE) p.inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) p.depth++;
      else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && p.depth > 0) p.depth--;
      else if (p.depth === 0 && (b === COMMA || b === CLOSE_BRACKET)) {
        this.append(data.subarray(this.pieceStartIn(data), i));
        this.emitElement();
        this.phase = b === COMMA ? 'value' : 'closed';
        return i + 1;
      }
      if (!isJsonSpace(b)) p.contentEnd = this.base + i + 1;
      i++;
    }
    return len;
  }

  /** Text after the array: kept (up to the limit) for the error record. */
  private collect(data: Uint8Array, i: number, len: number): number {
    for (let j = i; j < len; j++) if (!isJsonSpace(data[j]!)) this.piece!.contentEnd = this.base + j + 1;
    return len;
  }

  /** Index in `data` where the current piece's bytes begin (0 when it began in an earlier chunk). */
  private pieceStartIn(data: Uint8Array): number {
    const rel = this.piece!.offset - this.base;
    return rel > 0 && rel <= data.length ? rel : 0;
  }

  private append(bytes: Uint8Array): void {
    const p = this.piece!;
    p.length += bytes.length;
    if (p.length <= this.start.maxRecordBytes) p.parts.push(bytes.slice());
    else {
      p.parts = [];
      p.dropped = true;
    }
  }

  /** Length of the current piece (its white space included once it was too long to keep). */
  private pieceLength(): number {
    const p = this.piece!;
    const content = p.contentEnd - p.offset;
    return p.dropped ? Math.max(content, p.length, this.start.maxRecordBytes + 1) : content;
  }

  private emitElement(): void {
    const p = this.piece!;
    const n = this.element++;
    this.records++;
    const length = this.pieceLength();
    this.piece = undefined;
    if (length > this.start.maxRecordBytes) {
      this.sink.error(p.offset, n, tooLongReason(length, this.start.maxRecordBytes));
      return;
    }
    const bytes = joined(p.parts, length);
    if (isUtf8(bytes)) this.sink.record(p.offset, n, bytes);
    else this.sink.error(p.offset, n, 'not UTF-8 text', bytes);
  }

  private emitError(reason: string, line: number | null): void {
    const p = this.piece!;
    const length = this.pieceLength();
    this.piece = undefined;
    this.records++;
    const keep = length <= this.start.maxRecordBytes;
    this.sink.error(
      p.offset,
      line,
      keep ? reason : `${reason} (${length} bytes, not kept)`,
      keep ? joined(p.parts, length) : undefined,
    );
  }
}

function newPiece(offset: number): Piece {
  return {
    offset,
    parts: [],
    length: 0,
    contentEnd: offset,
    depth: 0,
    inString: false,
    escape: false,
    dropped: false,
  };
}

function minFound(a: number, b: number): number {
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}

/** The first `length` bytes of the parts, as one array. */
function joined(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length >= length) return parts[0]!.subarray(0, length);
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    if (at >= length) break;
    const take = Math.min(part.length, length - at);
    out.set(part.subarray(0, take), at);
    at += take;
  }
  return out;
}
