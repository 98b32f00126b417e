/**
 * The JSON Lines and JSON array parsers of the file source, fed in chunks of every size: what they
 * hand over must not depend on where the chunks (or the ranges of a split file) are cut, and must
 * equal an independent reading of the same bytes written here.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonArrayParser } from '../../../src/engine/json-array.js';
import { JsonLinesParser } from '../../../src/engine/json-lines.js';
import type { RecordParser, RecordSink } from '../../../src/engine/record-sink.js';

/** One record as a parser reports it: [offset, number, text or error]. */
type Rec = [number, number | null, string];

function collector(): { sink: RecordSink; out: Rec[] } {
  const out: Rec[] = [];
  return {
    out,
    sink: {
      lines: (offset, line, count, bytes) => {
        const parts = Buffer.from(bytes).toString('utf8').split('\n');
        expect(parts).toHaveLength(count);
        let at = offset;
        parts.forEach((p, i) => {
          out.push([at, line + i, p.replace(/\r$/, '')]);
          at += Buffer.byteLength(p) + 1;
        });
      },
      record: (offset, line, bytes) => out.push([offset, line, Buffer.from(bytes).toString('utf8')]),
      error: (offset, line, reason, raw) =>
        out.push([
          offset,
          line,
          `ERR ${reason.split(' (')[0]!.split(',')[0]}${raw ? ` ${Buffer.from(raw).toString('hex')}` : ''}`,
        ]),
    },
  };
}

/** Feeds `bytes` in chunks of `size`; returns false when the parser stopped before the end. */
function feed(parser: RecordParser, bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    if (!parser.push(Buffer.from(bytes.subarray(i, Math.min(bytes.length, i + size))))) return;
  }
  parser.finish();
}

const lines = (
  bytes: Uint8Array,
  chunk: number,
  max: number,
  start = { offset: 0, line: 1, end: Infinity },
) => {
  const c = collector();
  const p = new JsonLinesParser(c.sink, { ...start, maxRecordBytes: max });
  feed(p, bytes.subarray(start.offset), chunk);
  return { out: c.out, next: p.next, records: p.records };
};

/** JSON Lines read the plain way: split on \r\n, \n, \r; BOM skipped; blank lines dropped. */
function referenceLines(bytes: Uint8Array, max: number): Rec[] {
  const out: Rec[] = [];
  let pos = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 1;
  while (pos < bytes.length) {
    let end = pos;
    while (end < bytes.length && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
    const crlf = bytes[end] === 0x0d && bytes[end + 1] === 0x0a;
    const content = bytes.subarray(pos, end);
    const length = content.length + (crlf ? 1 : 0);
    if (![...content].every((b) => b === 0x20 || b === 0x09)) {
      if (length > max) out.push([pos, line, 'ERR a record of ' + length + ' bytes']);
      else if (!isUtf8(content))
        out.push([
          pos,
          line,
          `ERR not UTF-8 text ${Buffer.from(content).toString('hex')}${crlf ? '0d' : ''}`,
        ]);
      else out.push([pos, line, Buffer.from(content).toString('utf8')]);
    }
    line++;
    pos = end + (crlf ? 2 : 1);
  }
  return out;
}

const piece = fc.oneof(
  fc.constantFrom('{"a":1}', '{"text":"é 😀"}', 'not json', '   ', '\t', '', '[1,2]', '"s"'),
  fc.string({ maxLength: 12 }),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b).toString('latin1')),
);
const eol = fc.constantFrom('\n', '\r\n', '\r');
/** A random JSON Lines file: pieces of text (some not UTF-8), line ends of every kind, maybe a BOM. */
const jsonLinesFile = fc
  .tuple(fc.boolean(), fc.array(fc.tuple(piece, eol, fc.boolean()), { maxLength: 25 }), fc.boolean())
  .map(([bom, parts, endsWithEol]) => {
    const chunks: Buffer[] = bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
    parts.forEach(([text, end, latin1], i) => {
      chunks.push(Buffer.from(text, latin1 ? 'latin1' : 'utf8'));
      if (i < parts.length - 1 || endsWithEol) chunks.push(Buffer.from(end));
    });
    return new Uint8Array(Buffer.concat(chunks));
  });

describe('JsonLinesParser', () => {
  it('property: any chunking gives the records of the plain reading', () => {
    fc.assert(
      fc.property(
        jsonLinesFile,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 3, max: 30 }),
        (file, chunk, max) => {
          const got = lines(file, chunk, max);
          const expected = referenceLines(file, max);
          expect(
            got.out.map(([o, l, t]) => [
              o,
              l,
              t.startsWith('ERR a record') ? t.replace(/ bytes.*/, ' bytes') : t,
            ]),
          ).toEqual(expected);
          expect(got.records).toBe(expected.length);
          expect(got.next).toBeUndefined();
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('property: cut into ranges at any byte, then read range by range, the records are the same', () => {
    fc.assert(
      fc.property(
        jsonLinesFile,
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 17 }),
        (file, budget, chunk) => {
          const whole = lines(file, 64, 1000).out;
          const pieces: Rec[] = [];
          let start = { offset: 0, line: 1 };
          for (let i = 0; i < 1000; i++) {
            const r = lines(file, chunk, 1000, { ...start, end: start.offset + budget });
            pieces.push(...r.out);
            if (!r.next) break;
            expect(r.next.offset).toBeGreaterThan(start.offset);
            start = r.next;
          }
          expect(pieces).toEqual(whole);
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('a record over the limit is skipped by length, without holding it, whatever the chunks', () => {
    const big = Buffer.from('{"a":1}\n' + 'x'.repeat(1000) + '\r\n{"b":2}\n' + 'y'.repeat(50));
    for (const chunk of [1, 7, 64, 2000]) {
      expect(lines(big, chunk, 100).out).toEqual([
        [0, 1, '{"a":1}'],
        [8, 2, 'ERR a record of 1001 bytes'],
        [1010, 3, '{"b":2}'],
        [1018, 4, 'y'.repeat(50)],
      ]);
      expect(lines(big, chunk, 40).out.at(-1)).toEqual([1018, 4, 'ERR a record of 50 bytes']);
    }
  });
});

const jsonValue = fc.jsonValue({ maxDepth: 3 });
/** A JSON array of random values, printed with random white space between its tokens. */
const jsonArrayFile = fc
  .tuple(fc.array(jsonValue, { maxLength: 12 }), fc.constantFrom(0, 1, 2), fc.constantFrom('', '  \n', '\t'))
  .map(([values, indent, lead]) => ({ values, text: lead + JSON.stringify(values, null, indent) + '\n' }));

const array = (text: string, chunk: number, start = { offset: 0, line: 1, end: Infinity, opened: false }) => {
  const c = collector();
  const bytes = Buffer.from(text);
  const first = start.opened ? start.offset : bytes.indexOf(0x5b);
  const p = new JsonArrayParser(c.sink, { ...start, offset: first, maxRecordBytes: 1 << 20 });
  feed(p, bytes.subarray(first), chunk);
  return { out: c.out, next: p.next };
};

describe('JsonArrayParser', () => {
  it('property: each element is a record whose text parses to the element, at its offset', () => {
    fc.assert(
      fc.property(jsonArrayFile, fc.integer({ min: 1, max: 50 }), ({ values, text }, chunk) => {
        const { out, next } = array(text, chunk);
        expect(next).toBeUndefined();
        expect(out.map(([, , t]) => JSON.stringify(JSON.parse(t)))).toEqual(
          values.map((v) => JSON.stringify(v)),
        );
        const bytes = Buffer.from(text);
        out.forEach(([offset, line, t], i) => {
          expect(line).toBe(i + 1);
          expect(bytes.subarray(offset, offset + Buffer.byteLength(t)).toString()).toBe(t);
        });
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  it('property: an array read in ranges cut anywhere gives the same records as one read', () => {
    fc.assert(
      fc.property(
        jsonArrayFile,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 9 }),
        ({ text }, budget, chunk) => {
          const whole = array(text, 64).out;
          const pieces: Rec[] = [];
          let start = { offset: 0, line: 1, opened: false };
          for (let i = 0; i < 1000; i++) {
            const r = array(text, chunk, { ...start, end: start.offset + budget });
            pieces.push(...r.out);
            if (!r.next) break;
            start = { ...r.next, opened: true };
          }
          expect(pieces).toEqual(whole);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });

  it('reports text after the array, an array cut short, empty elements and bytes that are not UTF-8', () => {
    expect(array('[1, 2] tail', 3).out).toEqual([
      [1, 1, '1'],
      [4, 2, '2'],
      [7, null, 'ERR text after the closing ] of the JSON array 7461696c'],
    ]);
    expect(array('[{"a": [1, 2}, ', 4).out).toEqual([
      [
        1,
        1,
        `ERR the file ends inside this element: the JSON array is not closed ${Buffer.from('{"a": [1, 2},').toString('hex')}`,
      ],
    ]);
    expect(array('[1,,2', 2).out).toEqual([
      [1, 1, '1'],
      [3, 2, 'ERR an empty element in the JSON array'],
      [4, 3, 'ERR the file ends inside this element: the JSON array is not closed 32'],
    ]);
    expect(array('[1, 2,', 2).out).toEqual([
      [1, 1, '1'],
      [4, 2, '2'],
      [6, null, 'ERR the file ends before the closing ] of the JSON array'],
    ]);
    const latin1 = Buffer.concat([Buffer.from('["'), Buffer.from([0xe9]), Buffer.from('", "ok"]')]);
    const c = collector();
    const p = new JsonArrayParser(c.sink, {
      offset: 0,
      line: 1,
      end: Infinity,
      maxRecordBytes: 100,
      opened: false,
    });
    feed(p, latin1, 2);
    expect(c.out).toEqual([
      [1, 1, 'ERR not UTF-8 text 22e922'],
      [6, 2, '"ok"'],
    ]);
  });
});
