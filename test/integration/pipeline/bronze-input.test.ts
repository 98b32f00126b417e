/**
 * The bronze stream (FileSource -> bronze + quarantine, real Delta tables) on the input a user or a
 * hostile tester brings: file names DuckDB would glob, every line-end and encoding, gzip, arrays
 * split across batches, files still growing, files changed or removed under the stream. Every test
 * checks the accounting: records read = bronze rows + quarantine rows, in the tables and in the
 * progress figures.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as nodePath from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession, type JsonRow } from '../../../src/duck/session.js';
import type { QueryProgress } from '../../../src/engine/progress.js';
import { StreamingQuery } from '../../../src/engine/query.js';
import { Trigger } from '../../../src/engine/trigger.js';
import { lakehousePaths } from '../../../src/pipeline/paths.js';
import { bronzeQuery, type StageOptions } from '../../../src/pipeline/stages.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { tempDirs } from '../../helpers/delta.js';

let session: DuckSession;
const dirs = tempDirs('tweetlake-bronze-input-');
beforeAll(async () => {
  session = await DuckSession.create({ memoryLimit: '512MB' });
});
afterAll(() => {
  session?.close();
  dirs.cleanup();
});

const OLD = 1_600_000_000; // seconds: files older than any settle time

/** A folder with a lakehouse root beside it. */
function place(): { source: string; root: string } {
  const base = dirs.make();
  const source = nodePath.join(base, 'source');
  mkdirSync(source);
  return { source, root: nodePath.join(base, 'lake') };
}

function put(source: string, name: string, content: string | Buffer, mtime = OLD): string {
  const path = nodePath.join(source, name);
  mkdirSync(nodePath.dirname(path), { recursive: true });
  writeFileSync(path, content);
  if (mtime) utimesSync(path, mtime, mtime);
  return path;
}

const tweet = (id: string) => JSON.stringify({ date: 'd', user: 'u', text: id, sentiment: 'positive' });

interface BronzeRun {
  progress: QueryProgress[];
  warnings: string[];
  bronze: JsonRow[];
  quarantine: JsonRow[];
}

async function rowsOf(path: string): Promise<JsonRow[]> {
  const table = await DeltaTable.forPath(path, session);
  if (!(await table.exists())) return [];
  const plan = await table.scan();
  try {
    return await session.all(`SELECT * FROM (${plan.sql}) ORDER BY ALL`);
  } finally {
    await plan.dispose();
  }
}

/** Runs bronze_stream (availableNow unless told) and checks that its figures balance. */
async function runBronze(
  where: { source: string; root: string },
  extra: Partial<StageOptions> = {},
): Promise<BronzeRun> {
  const paths = lakehousePaths(where.root);
  const options: StageOptions = {
    paths,
    source: where.source,
    session,
    classifier: async () => {
      throw new Error('bronze needs no model');
    },
    ...extra,
  };
  const warnings: string[] = [];
  const q = new StreamingQuery({
    ...bronzeQuery(options),
    trigger: Trigger.availableNow(),
    onWarning: (m) => warnings.push(m),
  });
  await q.start();
  await q.awaitTermination();
  const bronze = await rowsOf(paths.tables.bronze);
  const quarantine = await rowsOf(paths.tables.quarantine);
  const sum = (k: string) => q.recentProgress.reduce((n, p) => n + (p.metrics[k] ?? 0), 0);
  expect(sum('inputRecords')).toBe(sum('bronzeRows') + sum('quarantinedRows'));
  expect(q.recentProgress.reduce((n, p) => n + p.numInputRows, 0)).toBe(sum('inputRecords'));
  return { progress: q.recentProgress, warnings, bronze, quarantine };
}

/** (file name, text) of each bronze row, sorted: a multiset to compare. */
const byFile = (rows: JsonRow[]) =>
  rows.map((r) => `${nodePath.basename(String(r.source_file))} ${String(r.text)}`).sort();

describe('file names are literal: nothing globbed, nothing lost, nothing twice', () => {
  const NAMES = [
    'a1.json',
    'a2.json',
    'ab.json',
    'a*.json',
    'b1.json',
    'b[12].json',
    '**.json',
    'c?.json',
    '{x,y}.json',
    'with space.json',
    "quote'single.json",
    'quote"double.json',
    'ünïcödé.json',
    '😀 emoji.json',
    '-leading-dash.json',
    '%41 percent.json',
    '#hash.json',
    `${'long-'.repeat(45)}.json`,
    'dir [1]/x*.json',
    'dir?/y.json',
  ];

  it('every line of every file reaches bronze exactly once (a1 a2 ab a*, b1 b[12], ...)', async () => {
    const where = place();
    const expected: string[] = [];
    NAMES.forEach((name, f) => {
      const texts = [0, 1, 2].map((l) => `f${f}-l${l}`);
      put(where.source, name, texts.map(tweet).join('\n') + '\n');
      expected.push(...texts.map((t) => `${nodePath.basename(name)} ${t}`));
    });
    const run = await runBronze(where, { maxFilesPerTrigger: 3 });
    expect(byFile(run.bronze)).toEqual(expected.sort());
    expect(run.quarantine).toEqual([]);
    const files = new Set(run.bronze.map((r) => String(r.source_file)));
    for (const name of NAMES) expect(files.has(nodePath.join(where.source, name)), name).toBe(true);
  });
});

describe('record formats', () => {
  it('CRLF, CR-only, a byte-order mark, gzip (one and several members), JSON arrays', async () => {
    const where = place();
    put(where.source, 'crlf.json', [tweet('crlf1'), '', tweet('crlf2')].join('\r\n') + '\r\n');
    put(where.source, 'cr.json', [tweet('cr1'), tweet('cr2'), '', tweet('cr3')].join('\r'));
    put(
      where.source,
      'bom.json',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(tweet('bom1') + '\n')]),
    );
    put(where.source, 'one.json.gz', gzipSync(tweet('gz1') + '\n' + tweet('gz2') + '\n'));
    put(
      where.source,
      'members.json.gz',
      Buffer.concat([gzipSync(tweet('m1') + '\n'), gzipSync(tweet('m2') + '\n'), gzipSync(tweet('m3'))]),
    );
    put(
      where.source,
      'array.json',
      JSON.stringify([JSON.parse(tweet('arr1')), 7, JSON.parse(tweet('arr2'))], null, 2),
    );
    put(where.source, 'array.json.gz', gzipSync(`[${tweet('garr1')},${tweet('garr2')}]`));
    const run = await runBronze(where);
    expect(byFile(run.bronze)).toEqual(
      [
        'crlf.json crlf1',
        'crlf.json crlf2',
        'cr.json cr1',
        'cr.json cr2',
        'cr.json cr3',
        'bom.json bom1',
        'one.json.gz gz1',
        'one.json.gz gz2',
        'members.json.gz m1',
        'members.json.gz m2',
        'members.json.gz m3',
        'array.json arr1',
        'array.json arr2',
        'array.json.gz garr1',
        'array.json.gz garr2',
      ].sort(),
    );
    expect(
      run.quarantine.map((q) => [nodePath.basename(String(q.source_file)), q.line_number, q.raw_text]),
    ).toEqual([['array.json', '2', '7']]);
  });

  it('a line that is not UTF-8 is quarantined alone, with its bytes in base64 and its byte offset', async () => {
    const where = place();
    const bad = Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]); // Latin-1 é
    const content = Buffer.concat([
      Buffer.from(tweet('good1') + '\n' + tweet('good2') + '\n'),
      bad,
      Buffer.from('\n' + tweet('good3') + '\n'),
    ]);
    put(where.source, 'latin1.json', content);
    const run = await runBronze(where);
    expect(byFile(run.bronze)).toEqual(['latin1.json good1', 'latin1.json good2', 'latin1.json good3']);
    expect(run.quarantine).toHaveLength(1);
    expect(run.quarantine[0]).toMatchObject({
      line_number: '3',
      raw_text: null,
      error: 'not UTF-8 text',
      byte_offset: String(content.indexOf(bad)),
      raw_bytes: bad.toString('base64'),
    });
  });

  it('a JSON array split across batches (maxBytesPerTrigger) gives every element once, numbered', async () => {
    const where = place();
    const elements = Array.from({ length: 40 }, (_, i) => JSON.parse(tweet(`e${i}`)) as object);
    put(where.source, 'big-array.json', JSON.stringify(elements, null, 1));
    const run = await runBronze(where, { maxBytesPerTrigger: 600 });
    expect(run.progress.length).toBeGreaterThan(4);
    expect(run.bronze.map((r) => r.text).sort()).toEqual(
      elements.map((e) => (e as { text: string }).text).sort(),
    );
    expect(run.progress.every((p) => p.sources[0]!.batch.startsWith('1 file(s)'))).toBe(true);
  });

  it('a JSON Lines file split across batches keeps its line numbers (quarantine rows say where)', async () => {
    const where = place();
    const lines = Array.from({ length: 60 }, (_, i) => (i % 10 === 9 ? `broken ${i}` : tweet(`l${i}`)));
    const text = lines.join('\n') + '\n';
    put(where.source, 'lines.json', text);
    const run = await runBronze(where, { maxBytesPerTrigger: 500 });
    expect(run.progress.length).toBeGreaterThan(5);
    expect(run.bronze).toHaveLength(54);
    expect(run.quarantine.map((q) => [q.line_number, q.raw_text, q.byte_offset])).toEqual(
      [9, 19, 29, 39, 49, 59].map((i) => [String(i + 1), `broken ${i}`, String(text.indexOf(`broken ${i}`))]),
    );
  });
  it('a gzip file larger than maxBytesPerTrigger is read in decompressed ranges, across a restart too', async () => {
    const where = place();
    const lines = Array.from({ length: 200 }, (_, i) => (i % 50 === 49 ? `broken ${i}` : tweet(`z${i}`)));
    const text = lines.join('\n') + '\n';
    put(where.source, 'big.json.gz', gzipSync(text));
    // The first run stops after two batches; the second goes on from where the ranges stopped.
    const paths = lakehousePaths(where.root);
    const stopping = new StreamingQuery({
      ...bronzeQuery({
        paths,
        source: where.source,
        session,
        classifier: async () => {
          throw new Error('no model');
        },
        maxBytesPerTrigger: 2000,
      }),
      trigger: Trigger.availableNow(),
      onProgress: (p) => {
        if (p.batchId === 1) void stopping.stop();
      },
    });
    await stopping.start();
    await stopping.awaitTermination();
    expect(stopping.recentProgress).toHaveLength(2);
    // Without the record of where batch 1's range ended, the restart finds it by reading that range again.
    const reads = nodePath.join(paths.checkpoints.bronze_stream, 'sources', '0', '1.reads');
    expect(existsSync(reads)).toBe(true);
    unlinkSync(reads);
    const run = await runBronze(where, { maxBytesPerTrigger: 2000 });
    expect(run.progress.length).toBeGreaterThan(3);
    expect(run.bronze.map((r) => r.text).sort()).toEqual(
      lines
        .filter((l) => !l.startsWith('broken'))
        .map((l) => (JSON.parse(l) as { text: string }).text)
        .sort(),
    );
    expect(run.quarantine.map((q) => [q.line_number, q.raw_text, q.byte_offset])).toEqual(
      [49, 99, 149, 199].map((i) => [String(i + 1), `broken ${i}`, String(text.indexOf(`broken ${i}`))]),
    );
  });
});

describe('a batch written in parts on several connections', () => {
  /** Delta log entries (JSON actions) of a table, by version. */
  const commits = (table: string): Record<string, unknown>[][] => {
    const log = nodePath.join(table, '_delta_log');
    return Array.from({ length: 100 }, (_, v) => nodePath.join(log, `${String(v).padStart(20, '0')}.json`))
      .filter((f) => existsSync(f))
      .map((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
  };

  it('90,000 records with bad ones spread through: every good one in bronze once, every bad one quarantined at its line', async () => {
    const where = place();
    const expected: string[] = [];
    const bad: { file: string; line: number; offset: number }[] = [];
    for (const f of [0, 1, 2]) {
      let offset = 0;
      const lines: string[] = [];
      for (let l = 1; l <= 30_000; l++) {
        // bad records near the start and all through each file, so in every part of the batch (not
        // first: a file starting with "[" is a JSON array)
        const line = l % 7_001 === 2 ? `[${l}]` : tweet(`f${f}-${l}`);
        if (line.startsWith('[')) bad.push({ file: `p${f}.json`, line: l, offset });
        else expected.push(`p${f}.json f${f}-${l}`);
        lines.push(line);
        offset += Buffer.byteLength(line) + 1;
      }
      put(where.source, `p${f}.json`, lines.join('\n') + '\n');
    }
    const run = await runBronze(where);
    expect(run.progress).toHaveLength(1); // one batch of 90,000
    expect(byFile(run.bronze)).toEqual(expected.sort());
    expect(
      run.quarantine.map((r) => ({
        file: nodePath.basename(String(r.source_file)),
        line: Number(r.line_number),
        offset: Number(r.byte_offset),
      })),
    ).toEqual(bad.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line));
    expect(run.quarantine.every((r) => r.error === 'a JSON array, not an object')).toBe(true);
    // the batch's bronze rows went in one commit, in more than one file (the parts)
    const adds = commits(lakehousePaths(where.root).tables.bronze)
      .flat()
      .filter((a) => 'add' in a);
    expect(adds.length).toBeGreaterThan(1);
  });

  it('a batch wholly in bronze still records the batch in quarantine, with no file', async () => {
    const where = place();
    put(
      where.source,
      'all-good.json',
      Array.from({ length: 50_000 }, (_, i) => tweet(`g${i}`)).join('\n') + '\n',
    );
    const run = await runBronze(where);
    expect(run.bronze).toHaveLength(50_000);
    expect(run.quarantine).toEqual([]);
    const last = commits(lakehousePaths(where.root).tables.quarantine).at(-1)!;
    expect(last.some((a) => 'txn' in a)).toBe(true);
    expect(last.some((a) => 'add' in a)).toBe(false);
  });
});

describe('the quarantine table of an earlier tweetlake', () => {
  it('gains byte_offset and raw_bytes on its next write (mergeSchema); its rows stay', async () => {
    const where = place();
    const paths = lakehousePaths(where.root);
    const old = await DeltaTable.forPath(paths.tables.quarantine, session);
    await old.create({
      type: 'struct',
      fields: ['source_file', 'line_number', 'raw_text', 'error', 'stream', 'quarantined_at'].map((name) => ({
        name,
        type: name === 'line_number' ? 'long' : name === 'quarantined_at' ? 'timestamp' : 'string',
        nullable: true,
        metadata: {},
      })),
    });
    await old.write(
      {
        sql: `SELECT 'old.json' AS source_file, 3::BIGINT AS line_number, 'x' AS raw_text, 'not valid JSON' AS error,
          'bronze_stream' AS stream, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS quarantined_at`,
      },
      { mode: 'append' },
    );
    put(where.source, 'new.json', tweet('ok') + '\nnot json\n');
    const run = await runBronze(where);
    expect((await old.snapshot()).schema.fields.map((f) => f.name)).toEqual([
      'source_file',
      'line_number',
      'raw_text',
      'error',
      'stream',
      'quarantined_at',
      'byte_offset',
      'raw_bytes',
    ]);
    expect(run.quarantine.map((q) => [q.source_file, q.raw_text, q.byte_offset]).sort()).toEqual([
      [nodePath.join(where.source, 'new.json'), 'not json', String(Buffer.byteLength(tweet('ok') + '\n'))],
      ['old.json', 'x', null],
    ]);
  });
});

describe('growing, changed and vanished files', () => {
  it('a file still being written is read once it has settled: 30 lines written, 30 in bronze', async () => {
    const where = place();
    const path = put(where.source, 'growing.json', [0, 1, 2].map((i) => tweet(`g${i}`)).join('\n') + '\n', 0);
    let appended = 0;
    const writer = setInterval(() => {
      if (appended >= 27) return clearInterval(writer);
      appendFileSync(path, tweet(`g${3 + appended++}`) + '\n');
    }, 20);
    try {
      const run = await runBronze(where, { fileSettleMs: 1500 });
      expect(appended).toBe(27);
      expect(run.bronze).toHaveLength(30);
      expect(run.progress).toHaveLength(1);
    } finally {
      clearInterval(writer);
    }
  });

  it('a file changed after it was read: a warning and ONE quarantine entry; allowOverwrites reads it again', async () => {
    const where = place();
    const path = put(where.source, 'changing.json', tweet('v1-a') + '\n' + tweet('v1-b') + '\n');
    await runBronze(where);
    appendFileSync(path, tweet('v2-c') + '\n');
    utimesSync(path, OLD + 100, OLD + 100);
    const reported = await runBronze(where);
    expect(reported.warnings).toHaveLength(1);
    expect(reported.warnings[0]).toMatch(
      /changing\.json: the file changed after it was read \(size \d+ -> \d+ bytes/,
    );
    expect(reported.bronze.map((r) => r.text).sort()).toEqual(['v1-a', 'v1-b']);
    expect(reported.quarantine).toHaveLength(1);
    expect(reported.quarantine[0]).toMatchObject({
      source_file: path,
      line_number: null,
      error: expect.stringMatching(/^the file changed after it was read .*set allowOverwrites/),
    });
    const quiet = await runBronze(where); // reported once
    expect(quiet.progress).toEqual([]);

    writeFileSync(path, tweet('v3-x') + '\n' + tweet('v3-y') + '\n' + tweet('v3-z') + '\n');
    utimesSync(path, OLD + 200, OLD + 200);
    const again = await runBronze(where, { allowOverwrites: true });
    expect(again.warnings.join('\n')).toMatch(/reading it again, whole \(allowOverwrites\)/);
    expect(again.bronze.map((r) => r.text).sort()).toEqual(['v1-a', 'v1-b', 'v3-x', 'v3-y', 'v3-z']);
    expect(again.quarantine).toHaveLength(1);
  });

  it('a file removed or truncated between listing and reading is quarantined with the reason', async () => {
    const where = place();
    put(where.source, 'gone.json', tweet('gone1') + '\n');
    const short = put(where.source, 'short.json', [1, 2, 3, 4].map((i) => tweet(`s${i}`)).join('\n') + '\n');
    put(where.source, 'fine.json', tweet('fine1') + '\n');
    const keep = Buffer.byteLength(tweet('s1') + '\n' + tweet('s2') + '\n');
    // The store does what another process might between the listing and the read.
    const store = new LocalObjectStore(where.source);
    const getRange = store.getRange.bind(store);
    const touched = new Set<string>();
    store.getRange = async (key, start, length) => {
      if (!touched.has(key)) {
        touched.add(key);
        if (key === 'gone.json') unlinkSync(nodePath.join(where.source, key));
        if (key === 'short.json') truncateSync(short, keep);
      }
      return getRange(key, start, length);
    };
    const run = await runBronze(where, { sourceStore: store });
    expect(byFile(run.bronze)).toEqual(['fine.json fine1', 'short.json s1', 'short.json s2']);
    const reasons = run.quarantine.map((q) => [
      nodePath.basename(String(q.source_file)),
      q.error,
      q.byte_offset,
    ]);
    expect(reasons.sort()).toEqual([
      ['gone.json', 'the file was removed after it was listed', '0'],
      [
        'short.json',
        `the file is shorter than when it was listed (${keep} bytes, listed ${readFileSync(short).length + 2 * Buffer.byteLength(tweet('s3') + '\n')}): it was truncated or replaced`,
        String(keep),
      ],
    ]);
    // What the stream saw while reading is accounted for: a restart does not report those files again.
    const after = await runBronze(where);
    expect(after.progress).toEqual([]);
  });
});
