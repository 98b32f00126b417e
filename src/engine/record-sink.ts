/** Where a reader of raw records puts what it finds. Offsets are byte offsets in the (decompressed) file. */
export interface RecordSink {
  /**
   * Whole lines of a JSON Lines file, one after another: `bytes` are `count` lines separated by
   * '\n' (a line may end in '\r', from CRLF), valid UTF-8, none of them blank; `offset` and `line`
   * are those of the first one.
   */
  lines(offset: number, line: number, count: number, bytes: Uint8Array): void;
  /** One record (an element of a JSON array): valid UTF-8 bytes at `offset`, numbered `line`. */
  record(offset: number, line: number, bytes: Uint8Array): void;
  /** A record, or a part of the file, that is not read as JSON text: where, why, and its bytes when kept. */
  error(offset: number, line: number | null, reason: string, raw?: Uint8Array): void;
}

/** Where the next record after a range starts: its byte offset and its number. */
export interface RecordPosition {
  offset: number;
  line: number;
}

/**
 * A push parser of one file format: fed the file's bytes in order from a record boundary, it hands
 * records to a sink until one starts at or after `end` (then `next` says where).
 */
export interface RecordParser {
  /** Feeds the next bytes (the parser may modify them); false once the range is done. */
  push(chunk: Uint8Array): boolean;
  /** The file ended: hands over what is left. */
  finish(): void;
  /** Set once a record at or after the end of the range was reached. */
  readonly next: RecordPosition | undefined;
  /** Records handed to the sink so far (errors included). */
  readonly records: number;
}

/** The reason given for a record over the size limit. */
export function tooLongReason(length: number, maxRecordBytes: number): string {
  return `a record of ${length} bytes, over the limit of ${maxRecordBytes} bytes (maxRecordBytes): not read`;
}

/** JSON white space: space, tab, line feed, carriage return. */
export function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
