/**
 * Random source folders for fuzzing bronze (fast-check): JSON Lines with every kind of line and line
 * end, JSON arrays, random bytes, files cut short, empty files, gzip (one or several members, or
 * cut short), odd file names in nested folders. Where the content is known, each file says how
 * many records it holds and how many of them are JSON objects (bronze rows).
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

/** The record limit the fuzzed runs use, so that over-long records are cheap to make. */
export const FUZZ_MAX_RECORD_BYTES = 2048;

export interface FuzzFile {
  name: string;
  bytes: Buffer;
  /** Records (non-blank lines, array elements) and those that are JSON objects, when known. */
  expected?: { records: number; objects: number };
}

type Line = { text: Buffer; object: boolean; blank?: boolean };

const word = fc.string({ maxLength: 8 }).filter((s) => !/[\r\n]/.test(s));
const tweetText = fc.oneof(word, fc.constantFrom('@united thanks', 'héllo "q" \\ 😀', '\u2028sep', ''));
const tweet = fc
  .record({
    date: word,
    user: word,
    text: tweetText,
    sentiment: fc.constantFrom('positive', 'negative', 'neutral'),
  })
  .map((t) => JSON.stringify(t));
const nested = fc
  .jsonValue({ maxDepth: 3 })
  .map((v) => JSON.stringify({ user: 'n', extra: v, deep: { list: [v] } }));

const line: fc.Arbitrary<Line> = fc.oneof(
  { weight: 4, arbitrary: tweet.map((t) => ({ text: Buffer.from(t), object: true })) },
  { weight: 1, arbitrary: nested.map((t) => ({ text: Buffer.from(t), object: true })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('42', '"s"', 'null', '[1,{"a":2}]', 'true')
      .map((t) => ({ text: Buffer.from(t), object: false })),
  },
  { weight: 1, arbitrary: word.map((w) => ({ text: Buffer.from(`x${w}`), object: false })) },
  {
    weight: 1,
    arbitrary: tweet.map((t) => ({
      text: Buffer.from(t.slice(0, Math.max(1, t.length - 3))),
      object: false,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.constant({
      text: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xe9, 0x22, 0x7d]),
      object: false,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: FUZZ_MAX_RECORD_BYTES + 1, max: 3 * FUZZ_MAX_RECORD_BYTES }).map((n) => ({
      text: Buffer.from(`{"text":"${'y'.repeat(n)}"}`),
      object: false,
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('', '   ', '\t ')
      .map((t) => ({ text: Buffer.from(t), object: false, blank: true })),
  },
);

// The first line is a tweet: a file whose first text is '[' is a JSON array, not JSON Lines.
const jsonLines: fc.Arbitrary<FuzzFile> = fc
  .tuple(
    tweet,
    fc.array(line, { maxLength: 30 }),
    fc.constantFrom('\n', '\r\n', '\r'),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([first, rest, eol, bom, lastEol]) => {
    const lines = [{ text: Buffer.from(first), object: true }, ...rest];
    const parts: Buffer[] = bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
    lines.forEach((l, i) => {
      parts.push(l.text);
      if (i < lines.length - 1 || lastEol) parts.push(Buffer.from(eol));
    });
    const records = lines.filter((l) => !l.blank).length;
    return {
      name: 'lines.json',
      bytes: Buffer.concat(parts),
      expected: { records, objects: lines.filter((l) => l.object).length },
    };
  });

const element = fc.oneof(
  tweet.map((t) => ({ value: JSON.parse(t) as unknown, object: true })),
  fc
    .jsonValue({ maxDepth: 2 })
    .map((v) => ({ value: v, object: typeof v === 'object' && v !== null && !Array.isArray(v) })),
);
const jsonArray: fc.Arbitrary<FuzzFile> = fc
  .tuple(fc.array(element, { maxLength: 20 }), fc.constantFrom(0, 2))
  .map(([els, indent]) => ({
    name: 'array.json',
    bytes: Buffer.from(
      JSON.stringify(
        els.map((e) => e.value),
        null,
        indent,
      ),
    ),
    expected: { records: els.length, objects: els.filter((e) => e.object).length },
  }))
  .filter((f) => f.bytes.length < FUZZ_MAX_RECORD_BYTES); // no element can be over the limit

const randomBytes: fc.Arbitrary<FuzzFile> = fc
  .uint8Array({ maxLength: 400 })
  .map((b) => ({ name: 'random.json', bytes: Buffer.from(b) }));
const empty: fc.Arbitrary<FuzzFile> = fc.constant({
  name: 'empty.json',
  bytes: Buffer.alloc(0),
  expected: { records: 0, objects: 0 },
});
const cutShort = (f: fc.Arbitrary<FuzzFile>) =>
  fc.tuple(f, fc.double({ min: 0, max: 1, noNaN: true })).map(([file, at]) => ({
    name: `cut-${file.name}`,
    bytes: file.bytes.subarray(0, Math.floor(file.bytes.length * at)),
  }));

/** gzip of a file: one member, several, or cut short (then nothing is known of its records). */
const gzipped = (f: fc.Arbitrary<FuzzFile>) =>
  fc
    .tuple(f, fc.constantFrom('one', 'members', 'cut'), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([file, how, at]) => {
      const cut = Math.floor(file.bytes.length * at);
      if (how === 'one') return { ...file, name: `${file.name}.gz`, bytes: gzipSync(file.bytes) };
      if (how === 'members')
        return {
          ...file,
          name: `${file.name}.gz`,
          bytes: Buffer.concat([gzipSync(file.bytes.subarray(0, cut)), gzipSync(file.bytes.subarray(cut))]),
        };
      const whole = gzipSync(file.bytes);
      return {
        name: `cut-${file.name}.gz`,
        bytes: whole.subarray(0, Math.max(1, Math.floor(whole.length * at))),
      };
    });

const anyFile: fc.Arbitrary<FuzzFile> = fc.oneof(
  { weight: 4, arbitrary: jsonLines },
  { weight: 2, arbitrary: jsonArray },
  { weight: 1, arbitrary: randomBytes },
  { weight: 1, arbitrary: empty },
  { weight: 1, arbitrary: cutShort(fc.oneof(jsonLines, jsonArray)) },
  { weight: 2, arbitrary: gzipped(fc.oneof(jsonLines, jsonArray)) },
);

const ODD = [
  'a*',
  'b[12]',
  'c?',
  '{x,y}',
  'sp ace',
  "q'uote",
  'd"q',
  'ünï',
  '😀',
  '-dash',
  '%41',
  '#h',
  '**',
];
const folder = fc.constantFrom('', 'sub/', 'dir [1]/', 'ünï*/');

/** A source folder of 1–8 files with distinct odd names. */
export const fuzzSource: fc.Arbitrary<FuzzFile[]> = fc
  .array(fc.tuple(anyFile, fc.constantFrom(...ODD), folder), { minLength: 1, maxLength: 8 })
  .map((files) => files.map(([f, odd, dir], i) => ({ ...f, name: `${dir}${i}-${odd}-${f.name}` })));

/** Writes the files into `dir` with old modification times (so they are settled), in order. */
export function writeFuzzSource(dir: string, files: FuzzFile[]): void {
  files.forEach((f, i) => {
    const path = nodePath.join(dir, f.name);
    mkdirSync(nodePath.dirname(path), { recursive: true });
    writeFileSync(path, f.bytes);
    utimesSync(path, 1_600_000_000 + i, 1_600_000_000 + i);
  });
}
