/**
 * The real pipeline (four streaming queries, Delta tables on disk) on a copy of part of the bundled
 * sample plus two hand-made files with bad and edge-case records. Every table is checked against an
 * independent computation in plain TypeScript over the source files (the rules of docs/pipeline.md,
 * written again here), not against the SQL under test.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession, type JsonRow } from '../../../src/duck/session.js';
import type { QueryProgress } from '../../../src/engine/progress.js';
import { StreamingQueryException } from '../../../src/engine/query.js';
import type { Classifier, Prediction } from '../../../src/model/classifier.js';
import { bundledSampleDir } from '../../../src/pipeline/config.js';
import { TABLE_NAMES, type StreamName, type TableName } from '../../../src/pipeline/paths.js';
import { Pipeline, type Orchestration, type PipelineSummary } from '../../../src/pipeline/pipeline.js';
import { rejection, tempDirs } from '../../helpers/delta.js';

// ---------------------------------------------------------------------------------------------
// The stand-in classifier: a label and a score from an FNV-1a hash of the text.

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const LABELS = ['NEG', 'NEU', 'POS'] as const;

function standInPrediction(text: string): Prediction {
  const h = fnv1a(text);
  return { label: LABELS[h % 3]!, score: (h % 10_000) / 100 };
}

class HashClassifier implements Classifier {
  readonly labels = LABELS;
  readonly info = { name: 'hash-stand-in', uri: 'test:hash' };
  texts = 0;
  constructor(private failures = 0) {}
  async classify(texts: string[]): Promise<Prediction[]> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('stand-in model failure');
    }
    this.texts += texts.length;
    return texts.map(standInPrediction);
  }
  async close(): Promise<void> {}
}

// ---------------------------------------------------------------------------------------------
// The source files.

const EDGE_LINES = [
  JSON.stringify({
    date: 'Mon Apr 06 22:19:45 PDT 2009',
    user: 'a',
    text: "@United: lost bag. @united's fault @JetBlue",
    sentiment: 'negative',
  }),
  '',
  'this is not JSON',
  '[1, 2, 3]',
  '42',
  '"just a string"',
  JSON.stringify({
    date: 'Tue Feb 24 11:35:52 +0100 2015',
    user: 'b',
    text: 'mail me at me@example.com, no mentions here',
    sentiment: 'neutral',
  }),
  JSON.stringify({
    date: 'Tue Feb 24 11:35:52 XYZ 2015',
    user: 'c',
    text: '😡@VirginAmerica😡   why\t\tso slow @abcdefghijklmnop',
    sentiment: 'negative',
    lang: 'en',
  }),
  JSON.stringify({
    date: 'Sun Mar 8 1:05:00 EST 2015',
    user: 42,
    text: '@a@b end @zed',
    sentiment: 'positive',
  }),
  JSON.stringify({
    date: 'Sun Mar 08 01:05:00 EST 2015',
    user: 'd',
    text: { not: 'a string' },
    sentiment: 'positive',
  }),
  JSON.stringify({
    date: 'Sun Mar 08 01:05:00 UTC 2015',
    user: null,
    text: '@delta @Delta @DELTA thanks',
    sentiment: 'Positive',
  }),
];
const EDGE_FILE = EDGE_LINES.join('\r\n') + '\r\n';

const ARRAY_FILE = JSON.stringify(
  [
    {
      date: 'Wed Feb 18 09:00:00 PST 2015',
      user: 'e',
      text: '@SouthwestAir great crew',
      sentiment: 'positive',
    },
    7,
    { date: 'Wed Feb 18 10:00:00 PST 2015', user: 'f', text: 'no handle at all', sentiment: 'neutral' },
    {
      date: 'Wed Feb 18 11:00:00 PST 2015',
      user: 'g',
      text: '@southwestair @USAirways meh',
      sentiment: 'neutral',
    },
  ],
  null,
  2,
);

// ---------------------------------------------------------------------------------------------
// The independent computation.

interface Raw {
  file: string;
  line: number | null;
  value?: unknown;
  text?: string;
  ok: boolean;
}

/** Records of a source file, read as docs/pipeline.md says: JSON Lines, or one JSON array. */
function readRecords(path: string): Raw[] {
  const text = readFileSync(path, 'utf8');
  if (text.trimStart().startsWith('[')) {
    const arr = JSON.parse(text) as unknown[];
    return arr.map((value, i) => ({ file: path, line: i + 1, value, ok: isObject(value) }));
  }
  const out: Raw[] = [];
  text.split('\n').forEach((l, i) => {
    const line = l.replace(/\r$/, '');
    if (line.trim() === '') return;
    try {
      const value = JSON.parse(line) as unknown;
      out.push({ file: path, line: i + 1, value, text: line, ok: isObject(value) });
    } catch {
      out.push({ file: path, line: i + 1, text: line, ok: false });
    }
  });
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FIELDS = ['date', 'user', 'text', 'sentiment'] as const;

interface BronzeRow {
  date: string | null;
  user: string | null;
  text: string | null;
  sentiment: string | null;
  rescued: Record<string, unknown> | null;
  source_file: string;
}

function bronzeOf(r: Raw): BronzeRow {
  const o = r.value as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : null);
  const rescued: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const known = (FIELDS as readonly string[]).includes(k);
    if (!known || (v !== null && typeof v !== 'string')) rescued[k] = v;
  }
  return {
    date: str('date'),
    user: str('user'),
    text: str('text'),
    sentiment: str('sentiment'),
    rescued: Object.keys(rescued).length ? rescued : null,
    source_file: r.file,
  };
}

const OFFSETS: Record<string, number> = { PST: -8, PDT: -7, EST: -5, EDT: -4, UTC: 0, GMT: 0 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `EEE MMM d HH:mm:ss zone yyyy` -> '2015-02-24 19:35:52+00' (UTC), or null. */
function parseDate(date: string | null): string | null {
  const m = date && /^\w{3} (\w{3}) (\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (\S+) (\d{4})$/.exec(date);
  if (!m) return null;
  const [, mon, d, hh, mm, ss, zone, yyyy] = m;
  let offsetMinutes: number;
  const numeric = /^([+-])(\d{2})(\d{2})$/.exec(zone!);
  if (numeric) offsetMinutes = (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3]));
  else if (zone!.toUpperCase() in OFFSETS) offsetMinutes = OFFSETS[zone!.toUpperCase()]! * 60;
  else return null;
  const local = Date.UTC(Number(yyyy), MONTHS.indexOf(mon!), Number(d), Number(hh), Number(mm), Number(ss));
  return new Date(local - offsetMinutes * 60_000).toISOString().replace('T', ' ').replace('.000Z', '+00');
}

/**
 * '@' + a word (letters of any script, digits, '_') not after an ASCII letter, digit, '_', '@' or '.';
 * a mention when the word is 1–15 ASCII handle characters and no '@' follows it.
 */
const CANDIDATE = /(?<![A-Za-z0-9_@.])@([\p{L}\p{N}_]+)(@?)/gu;
const isMention = (m: RegExpMatchArray) => m[2] === '' && /^[A-Za-z0-9_]{1,15}$/.test(m[1]!);

function mentionsOf(text: string | null): (string | null)[] {
  if (text === null) return [null];
  const found = [
    ...new Set([...text.matchAll(CANDIDATE)].filter(isMention).map((m) => `@${m[1]!.toLowerCase()}`)),
  ];
  return found.length ? found : [null];
}

function cleanedOf(text: string | null): string | null {
  if (text === null) return null;
  return text
    .replace(CANDIDATE, (...args) =>
      isMention(args as unknown as RegExpMatchArray) ? '' : (args[0] as string),
    )
    .replace(/[\t\n\f\r ]+/g, ' ')
    .replace(/^ +| +$/g, '');
}

interface SilverRow {
  timestamp: string | null;
  mention: string | null;
  cleaned_text: string | null;
  sentiment: string | null;
}

const SENTIMENT_ID: Record<string, number> = { negative: 0, positive: 1, neutral: 2 };
const PREDICTED_ID: Record<string, number> = { NEG: 0, POS: 1, NEU: 2 };

interface Expected {
  records: number;
  bronze: BronzeRow[];
  quarantine: { file: string; line: number | null; raw: string | null }[];
  silver: SilverRow[];
  gold: JsonRow[];
  application: JsonRow[];
}

function expectedTables(files: string[]): Expected {
  const raws = files.flatMap(readRecords);
  const bronze = raws.filter((r) => r.ok).map(bronzeOf);
  const quarantine = raws
    .filter((r) => !r.ok)
    .map((r) => ({ file: r.file, line: r.line, raw: r.text ?? JSON.stringify(r.value) }));
  const silver = bronze.flatMap((b) =>
    mentionsOf(b.text).map((mention) => ({
      timestamp: parseDate(b.date),
      mention,
      cleaned_text: cleanedOf(b.text),
      sentiment: b.sentiment,
    })),
  );
  const gold = silver.map((s) => {
    const p = standInPrediction(s.cleaned_text ?? '');
    return {
      ...s,
      predicted_score: p.score,
      predicted_sentiment: p.label,
      sentiment_id: s.sentiment === null ? null : (SENTIMENT_ID[s.sentiment.toLowerCase()] ?? null),
      predicted_sentiment_id: PREDICTED_ID[p.label]!,
    };
  });
  const apps = new Map<
    string,
    { min: string | null; max: string | null; NEG: number; NEU: number; POS: number }
  >();
  for (const g of gold) {
    if (g.mention === null) continue;
    const a = apps.get(g.mention) ?? { min: null, max: null, NEG: 0, NEU: 0, POS: 0 };
    if (g.timestamp !== null) {
      if (a.min === null || g.timestamp < a.min) a.min = g.timestamp;
      if (a.max === null || g.timestamp > a.max) a.max = g.timestamp;
    }
    a[g.predicted_sentiment as 'NEG' | 'NEU' | 'POS']++;
    apps.set(g.mention, a);
  }
  const application = [...apps.entries()].map(([mention, a]) => ({
    mention,
    min_timestamp: a.min,
    max_timestamp: a.max,
    negative: String(a.NEG),
    neutral: String(a.NEU),
    positive: String(a.POS),
    total: String(a.NEG + a.NEU + a.POS),
  }));
  return { records: raws.length, bronze, quarantine, silver, gold, application };
}

// ---------------------------------------------------------------------------------------------
// Reading the tables.

let session: DuckSession;
const dirs = tempDirs('tweetlake-pipeline-');

async function tableRows(root: string, name: TableName): Promise<JsonRow[]> {
  const table = await DeltaTable.forPath(nodePath.join(root, name), session);
  const plan = await table.scan();
  try {
    return await session.all(`SELECT * FROM (${plan.sql})`);
  } finally {
    await plan.dispose();
  }
}

/** Rows as sorted JSON texts (a multiset), without the columns that hold wall-clock times. */
function canonical(rows: object[], drop: string[] = []): string[] {
  return rows
    .map((r) =>
      JSON.stringify(
        Object.fromEntries(
          Object.entries(r)
            .filter(([k]) => !drop.includes(k))
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        ),
      ),
    )
    .sort();
}

const bronzeFromTable = (rows: JsonRow[]) =>
  rows.map((r) => ({
    date: r.date,
    user: r.user,
    text: r.text,
    sentiment: r.sentiment,
    rescued: r._rescued_data === null ? null : (JSON.parse(String(r._rescued_data)) as unknown),
    source_file: r.source_file,
  }));

async function checkTables(root: string, expected: Expected): Promise<void> {
  const bronze = await tableRows(root, 'bronze');
  const quarantine = await tableRows(root, 'quarantine');
  // (a) every input record is in bronze or in quarantine, once
  expect(bronze.length + quarantine.length).toBe(expected.records);
  // (b) each table equals the independent computation
  expect(canonical(bronzeFromTable(bronze))).toEqual(canonical(expected.bronze));
  expect(
    canonical(
      quarantine.map((q) => ({
        file: q.source_file,
        line: q.line_number === null ? null : Number(q.line_number),
        raw: q.raw_text,
      })),
    ),
  ).toEqual(canonical(expected.quarantine));
  expect(canonical(await tableRows(root, 'silver'))).toEqual(canonical(expected.silver));
  expect(canonical(await tableRows(root, 'gold'))).toEqual(canonical(expected.gold));
  expect(canonical(await tableRows(root, 'application'))).toEqual(canonical(expected.application));
}

// ---------------------------------------------------------------------------------------------

let source: string;
const SAMPLE = bundledSampleDir();
let mtime = 1_700_000_000;

function addSource(name: string, content?: string): string {
  const path = nodePath.join(source, name);
  if (content === undefined) copyFileSync(nodePath.join(SAMPLE, name), path);
  else writeFileSync(path, content);
  mtime += 60;
  utimesSync(path, mtime, mtime);
  return path;
}

function sourceFiles(): string[] {
  return readdirSync(source)
    .sort()
    .map((f) => nodePath.join(source, f));
}

interface Run {
  summary: PipelineSummary;
  progress: Map<StreamName, QueryProgress[]>;
}

async function runPipeline(
  root: string,
  orchestration: Orchestration,
  classifier: Classifier,
  extra: { dropTweetsWithoutMentions?: boolean; source?: string } = {},
): Promise<Run> {
  const progress = new Map<StreamName, QueryProgress[]>();
  const pipeline = new Pipeline({
    root,
    source: extra.source ?? source,
    session,
    classifier: async () => classifier,
    orchestration,
    pollIntervalMs: 40,
    maxFilesPerTrigger: 3,
    ...(extra.dropTweetsWithoutMentions ? { dropTweetsWithoutMentions: true } : {}),
    onProgress: (s, p) => progress.set(s, [...(progress.get(s) ?? []), p]),
  });
  const summary = await pipeline.run();
  return { summary, progress };
}

const roots = { sequential: '', concurrent: '' };
const runs: Partial<Record<Orchestration, Run>> = {};
let expected: Expected;

beforeAll(async () => {
  session = await DuckSession.create({ threads: 2 });
  const base = dirs.make();
  source = nodePath.join(base, 'source');
  mkdirSync(source);
  for (let i = 1; i <= 6; i++) addSource(`tweets-00${i}.json`);
  addSource('edge-lines.json', EDGE_FILE);
  addSource('array.json', ARRAY_FILE);
  expected = expectedTables(sourceFiles());
  roots.sequential = nodePath.join(base, 'lake-sequential');
  roots.concurrent = nodePath.join(base, 'lake-concurrent');
  runs.sequential = await runPipeline(roots.sequential, 'sequential', new HashClassifier());
  runs.concurrent = await runPipeline(roots.concurrent, 'concurrent', new HashClassifier());
});

afterAll(() => {
  session?.close();
  dirs.cleanup();
});

describe('Pipeline on sample files plus bad records', () => {
  it('the test data exercises what it should (sanity of the independent computation)', () => {
    expect(expected.records).toBe(6 * 488 + 10 + 4); // 11 edge lines, one blank; 4 array elements
    expect(expected.quarantine).toHaveLength(5); // not JSON, an array, a number, a string, an array element 7
    expect(expected.silver.some((s) => s.mention === null)).toBe(true);
    expect(expected.silver.some((s) => s.timestamp === null)).toBe(true);
    expect(expected.bronze.some((b) => b.rescued !== null)).toBe(true);
  });

  it('sequential: input records = bronze + quarantine, and every table equals the independent computation', async () => {
    const { summary, progress } = runs.sequential!;
    expect(summary.tables.bronze.rows! + summary.tables.quarantine.rows!).toBe(expected.records);
    expect(summary.tables.silver.rows).toBe(expected.silver.length);
    expect(summary.tables.gold.rows).toBe(expected.gold.length);
    expect(summary.tables.application.rows).toBe(expected.application.length);
    expect(summary.batches.bronze_stream).toBe(3); // 8 files, 3 per trigger
    expect(progress.get('bronze_stream')!.reduce((n, p) => n + p.numInputRows, 0)).toBe(expected.records);
    expect(progress.get('bronze_stream')!.reduce((n, p) => n + (p.metrics.quarantinedRows ?? 0), 0)).toBe(5);
    await checkTables(roots.sequential, expected);
  });

  it('quarantine rows say why and where', async () => {
    const rows = await tableRows(roots.sequential, 'quarantine');
    const byRaw = new Map(rows.map((r) => [r.raw_text, r]));
    expect(byRaw.get('this is not JSON')).toMatchObject({
      line_number: '3',
      error: 'not valid JSON',
      stream: 'bronze_stream',
    });
    expect(byRaw.get('[1, 2, 3]')).toMatchObject({ line_number: '4', error: 'a JSON array, not an object' });
    expect(byRaw.get('42')).toMatchObject({ line_number: '5', error: 'a JSON number, not an object' });
    expect(byRaw.get('"just a string"')).toMatchObject({
      line_number: '6',
      error: 'a JSON string, not an object',
    });
    expect(byRaw.get('7')).toMatchObject({ line_number: '2', error: 'a JSON number, not an object' });
    expect(nodePath.basename(String(byRaw.get('7')!.source_file))).toBe('array.json');
  });

  it('concurrent orchestration gives the same tables as sequential', async () => {
    const { summary } = runs.concurrent!;
    expect(summary.tables.bronze.rows).toBe(runs.sequential!.summary.tables.bronze.rows);
    for (const t of TABLE_NAMES) {
      const drop = ['processing_time', 'quarantined_at'];
      expect(canonical(await tableRows(roots.concurrent, t), drop), t).toEqual(
        canonical(await tableRows(roots.sequential, t), drop),
      );
    }
    await checkTables(roots.concurrent, expected);
  });

  it('a re-run after two new files arrive processes only them, and the application table stays right', async () => {
    const root = roots.sequential;
    const before = await tableRows(root, 'bronze');
    addSource('tweets-007.json');
    addSource('tweets-008.json');
    const newRecords = 2 * 488;
    const classifier = new HashClassifier();
    const { progress } = await runPipeline(root, 'sequential', classifier);
    const bronzeRuns = progress.get('bronze_stream')!;
    expect(bronzeRuns.reduce((n, p) => n + p.numInputRows, 0)).toBe(newRecords);
    expect(bronzeRuns.map((p) => p.batchId)).toEqual([3]);
    const after = await tableRows(root, 'bronze');
    expect(after.length - before.length).toBe(newRecords);
    const newFiles = new Set(
      after
        .filter((r) => !before.some((b) => b.source_file === r.source_file))
        .map((r) => nodePath.basename(String(r.source_file))),
    );
    expect([...newFiles].sort()).toEqual(['tweets-007.json', 'tweets-008.json']);
    // silver read only the new bronze rows; gold scored only new texts
    expect(progress.get('silver_stream')!.reduce((n, p) => n + p.numInputRows, 0)).toBe(newRecords);
    const all = expectedTables(sourceFiles());
    const newSilver = all.silver.length - expected.silver.length;
    expect(progress.get('gold_stream')!.reduce((n, p) => n + p.numInputRows, 0)).toBe(newSilver);
    expect(classifier.texts).toBeLessThanOrEqual(newSilver);
    await checkTables(root, all);
  });

  it('a failing model fails the run with StreamingQueryException; the next run completes exactly once', async () => {
    const base = dirs.make();
    const root = nodePath.join(base, 'lake');
    const src = nodePath.join(base, 'src');
    mkdirSync(src);
    copyFileSync(nodePath.join(source, 'edge-lines.json'), nodePath.join(src, 'edge-lines.json'));
    copyFileSync(nodePath.join(source, 'array.json'), nodePath.join(src, 'array.json'));
    const err = await rejection(runPipeline(root, 'sequential', new HashClassifier(1), { source: src }));
    expect(err).toBeInstanceOf(StreamingQueryException);
    expect(err.message).toContain('stand-in model failure');
    expect(existsSync(nodePath.join(root, '_checkpoints', 'gold_stream', 'offsets', '0'))).toBe(true);
    expect(existsSync(nodePath.join(root, '_checkpoints', 'gold_stream', 'commits', '0'))).toBe(false);
    const { progress } = await runPipeline(root, 'sequential', new HashClassifier(), { source: src });
    expect(progress.get('bronze_stream')).toBeUndefined(); // nothing new for bronze
    expect(progress.get('gold_stream')!.map((p) => p.batchId)).toEqual([0]); // the replayed batch
    const files = [nodePath.join(src, 'array.json'), nodePath.join(src, 'edge-lines.json')];
    await checkTables(root, expectedTables(files));
  });

  it('dropTweetsWithoutMentions drops them from silver (and so from gold)', async () => {
    const base = dirs.make();
    const src = nodePath.join(base, 'src');
    mkdirSync(src);
    copyFileSync(nodePath.join(source, 'edge-lines.json'), nodePath.join(src, 'edge-lines.json'));
    copyFileSync(nodePath.join(source, 'array.json'), nodePath.join(src, 'array.json'));
    const root = nodePath.join(base, 'lake');
    await runPipeline(root, 'sequential', new HashClassifier(), {
      source: src,
      dropTweetsWithoutMentions: true,
    });
    const exp = expectedTables([nodePath.join(src, 'array.json'), nodePath.join(src, 'edge-lines.json')]);
    const silver = await tableRows(root, 'silver');
    expect(canonical(silver)).toEqual(canonical(exp.silver.filter((s) => s.mention !== null)));
    expect((await tableRows(root, 'gold')).every((g) => g.mention !== null)).toBe(true);
    expect(canonical(await tableRows(root, 'application'))).toEqual(canonical(exp.application));
  });

  it('clear() removes the tables, checkpoints and stream state, and the next run starts over', async () => {
    const root = roots.concurrent;
    const pipeline = new Pipeline({ root, source, session, classifier: async () => new HashClassifier() });
    expect(existsSync(nodePath.join(root, '_checkpoints', 'bronze_stream'))).toBe(true);
    expect(existsSync(nodePath.join(root, '_state'))).toBe(true);
    await pipeline.clear();
    for (const t of TABLE_NAMES) expect(existsSync(nodePath.join(root, t)), t).toBe(false);
    expect(existsSync(nodePath.join(root, '_checkpoints'))).toBe(false);
    expect(existsSync(nodePath.join(root, '_state'))).toBe(false);
    const { summary } = await runPipeline(root, 'sequential', new HashClassifier());
    const all = expectedTables(sourceFiles());
    expect(summary.tables.bronze.rows! + summary.tables.quarantine.rows!).toBe(all.records);
    expect(summary.tables.application.rows).toBe(all.application.length);
  });
});
