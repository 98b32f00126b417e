import { isUtf8 } from 'node:buffer';
import { tooLongReason, type RecordParser, type RecordPosition, type RecordSink } from './record-sink.js';

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);

/** Where a JSON Lines range starts: a line boundary, its byte offset and line number. */
export interface LinesStart {
  offset: number;
  line: number;
  /** Records starting at or after this offset belong to the next range. */
  end: number;
  maxRecordBytes: number;
}

/**
 * Splits JSON Lines into records: lines end at '\n', '\r\n' or a lone '\r'; a UTF-8 byte-order mark
 * at the start of the file is skipped; blank lines give no record. Runs of good lines go to the sink
 * as one block (`lines`), cut at anything that is not one: a line that is not UTF-8 (an error with
 * its bytes), a line over `maxRecordBytes` (an error with its length, skipped without being kept),
 * a blank line. Lone CRs are rewritten to '\n' in place, which keeps every byte offset.
 */
export class JsonLinesParser implements RecordParser {
  next: RecordPosition | undefined;
  records = 0;
  /** Offset of carry[0] in the file. */
  private base: number;
  private line: number;
  private carry: Uint8Array = EMPTY;
  /** An over-long line being skipped (`blank` while it held nothing but white space). */
  private skipping?: { offset: number; line: number; length: number; blank: boolean };

  constructor(
    private readonly sink: RecordSink,
    private readonly start: LinesStart,
  ) {
    this.base = start.offset;
    this.line = start.line;
  }

  push(chunk: Uint8Array): boolean {
    if (this.next) return false;
    const data = this.carry.length === 0 ? chunk : concat(this.carry, chunk);
    this.process(data, false);
    return this.next === undefined;
  }

  finish(): void {
    if (this.next) return;
    this.process(this.carry, true);
    if (this.skipping) this.endSkip(0);
  }

  private process(data: Uint8Array, eof: boolean): void {
    normalizeLoneCr(data, eof);
    let pos = 0;
    if (this.base === 0 && this.line === 1 && !eof && data.length < 3) {
      this.keep(data, 0); // too short to tell whether it starts with a byte-order mark
      return;
    }
    if (this.base === 0 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) pos = 3;
    if (this.skipping) {
      const nl = data.indexOf(LF);
      if (nl < 0) {
        // A CR at the very end may be a line end: keep it until the next byte tells.
        const held = !eof && data[data.length - 1] === CR ? 1 : 0;
        this.skipping.blank &&= isBlank(data, 0, data.length - held);
        this.skipping.length += data.length - held;
        this.base += data.length - held;
        this.carry = held ? data.slice(-1) : EMPTY;
        return;
      }
      this.skipping.blank &&= isBlank(data, 0, nl);
      this.endSkip(nl);
      pos = nl + 1;
    }
    const limit = eof ? data.length : data.lastIndexOf(LF) + 1;
    if (limit <= pos) {
      this.keepOrSkip(data, pos);
      return;
    }
    this.lines(data, pos, limit);
    if (!this.next) this.keep(data, limit);
  }

  /** Hands over the lines of data[pos, limit); stops at the first line at or after the range end. */
  private lines(data: Uint8Array, pos: number, limit: number): void {
    const max = this.start.maxRecordBytes;
    const allUtf8 = isUtf8(data.subarray(pos, limit));
    let segStart = -1;
    let segLine = 0;
    let segCount = 0;
    let segEnd = 0;
    const flush = () => {
      if (segStart < 0) return;
      this.sink.lines(this.base + segStart, segLine, segCount, data.subarray(segStart, segEnd));
      this.records += segCount;
      segStart = -1;
    };
    while (pos < limit) {
      const at = this.base + pos;
      if (at >= this.start.end) {
        flush();
        this.next = { offset: at, line: this.line };
        return;
      }
      const nl = data.indexOf(LF, pos);
      const end = nl < 0 || nl >= limit ? limit : nl;
      if (isBlank(data, pos, end)) {
        flush();
      } else if (end - pos > max) {
        flush();
        this.sink.error(at, this.line, tooLongReason(end - pos, max));
        this.records++;
      } else if (!allUtf8 && !isUtf8(data.subarray(pos, end))) {
        flush();
        this.sink.error(at, this.line, 'not UTF-8 text', data.slice(pos, end));
        this.records++;
      } else {
        if (segStart < 0) {
          segStart = pos;
          segLine = this.line;
          segCount = 0;
        }
        segCount++;
        segEnd = end;
      }
      this.line++;
      pos = end + 1;
    }
    flush();
  }

  /** Keeps data[from..] for the next push (the start of a line not yet ended). */
  private keep(data: Uint8Array, from: number): void {
    this.base += from;
    this.carry = from >= data.length ? EMPTY : data.slice(from);
  }

  /** No line ends in data[pos..]: keep it, or skip it when it is already over the record limit. */
  private keepOrSkip(data: Uint8Array, pos: number): void {
    const at = this.base + pos;
    // A CR at the very end may still turn out to end the line (lone CR) rather than belong to it.
    const held = data[data.length - 1] === CR ? 1 : 0;
    if (data.length - pos - held <= this.start.maxRecordBytes) return this.keep(data, pos);
    if (at >= this.start.end) {
      this.next = { offset: at, line: this.line };
      return;
    }
    this.skipping = {
      offset: at,
      line: this.line,
      length: data.length - pos - held,
      blank: isBlank(data, pos, data.length - held),
    };
    this.base += data.length - held;
    this.carry = held ? data.slice(-1) : EMPTY;
  }

  /** The over-long record being skipped ends after `more` bytes of the current data. */
  private endSkip(more: number): void {
    const s = this.skipping!;
    if (!s.blank) {
      this.sink.error(s.offset, s.line, tooLongReason(s.length + more, this.start.maxRecordBytes));
      this.records++;
    }
    this.skipping = undefined;
    this.line++;
  }
}

/** Whether data[start, end) holds only JSON white space (a line's trailing CR included). */
function isBlank(data: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = data[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  }
  return true;
}

/** Rewrites every CR not followed by LF to LF (a CR at the very end waits for the next bytes). */
function normalizeLoneCr(data: Uint8Array, eof: boolean): void {
  let i = data.indexOf(CR);
  while (i >= 0) {
    if (i + 1 < data.length ? data[i + 1] !== LF : eof) data[i] = LF;
    i = data.indexOf(CR, i + 1);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
