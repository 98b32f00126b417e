/**
 * The whole pipeline from a Kafka topic: `tweetlake produce` loads three sample files into a real
 * broker's new 6-partition topic (keyed by user); `tweetlake run --source kafka://…` (earliest,
 * a few hundred offsets a batch) goes through bronze, silver, gold and application with the bundled
 * model, and every table equals a run on the same files but for the provenance (`source_file`,
 * `line_number`: a file line there, a partition and offset here). A second run commits nothing; a
 * run SIGKILLed mid-bronze and run again gives the same tables. Spark's own Kafka source reads the
 * same topic: its (partition, offset, value) are what bronze and quarantine took in.
 */
import { mkdtempSync, promises as fs, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consumer } from '@platformatic/kafka';
import { DeltaTable } from '../../../src/delta/table.js';
import { DuckSession } from '../../../src/duck/session.js';
import { KafkaReader } from '../../../src/engine/kafka-reader.js';
import { parseKafkaUri } from '../../../src/engine/kafka-uri.js';
import { freePort } from '../../helpers/s3-server.js';
import { startKafkaServer, type KafkaTestServer } from '../../helpers/kafka-server.js';
import {
  STREAM_STAGES,
  TABLES,
  batchMillis,
  runAndKill,
  runCli,
  runToEnd,
  tableContents,
} from '../../helpers/kill-restart.js';
import { runPythonJson } from '../helpers.js';

const SAMPLE = nodePath.resolve(import.meta.dirname, '../../../data/sample');
const TOPIC = 'tweets';
const PARTITIONS = 6;
const FILES = 3;
/** Offsets a batch: several bronze batches from about 1,500 records. */
const MAX_OFFSETS = 400;
const CONTENTS = { predictions: true };

let kafka: KafkaTestServer;
let work: string;
let session: DuckSession;
let source: string;
let uri: string;
let configFile: string;
let lines: string[];
/** The file run's tables, provenance left out. */
let reference: Record<string, string[]>;

/** Table contents without provenance, which differs by nature between a file and a topic. */
function withoutProvenance(contents: Record<string, string[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [table, rows] of Object.entries(contents))
    out[table] = rows
      .map((j) => {
        const row = JSON.parse(j) as Record<string, unknown>;
        delete row.source_file;
        delete row.line_number;
        delete row.byte_offset;
        return JSON.stringify(row);
      })
      .sort();
  return out;
}

/** `kafka://host:port/topic/<partition>/<offset>` as [partition, offset]. */
function position(sourceFile: unknown): [number, number] {
  const [partition, offset] = String(sourceFile).split('/').slice(-2).map(Number);
  return [partition!, offset!];
}

/** Some columns of a table's rows. */
async function tableRows(root: string, table: string, columns: string): Promise<Record<string, unknown>[]> {
  const t = await DeltaTable.forPath(nodePath.join(root, table), session);
  if (!(await t.exists())) return [];
  const scan = await t.scan(await t.snapshot());
  try {
    return await session.all(`SELECT ${columns} FROM (${scan.sql})`);
  } finally {
    await scan.dispose();
  }
}

/** Each table's version, to see that a run committed nothing. */
async function versions(root: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of TABLES) {
    const t = await DeltaTable.forPath(nodePath.join(root, name), session);
    out[name] = (await t.exists()) ? (await t.snapshot()).version : -1;
  }
  return out;
}

beforeAll(async () => {
  kafka = await startKafkaServer();
  work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kafka-run-'));
  session = await DuckSession.create();
  source = nodePath.join(work, 'source');
  await fs.mkdir(source);
  lines = [];
  for (const f of (await fs.readdir(SAMPLE)).sort().slice(0, FILES)) {
    const text = readFileSync(nodePath.join(SAMPLE, f), 'utf8');
    await fs.writeFile(nodePath.join(source, f), text);
    lines.push(...text.split('\n').filter((l) => l.trim()));
  }
  uri = `kafka://${kafka.bootstrap}/${TOPIC}`;
  configFile = nodePath.join(work, 'kafka.config.json');
  await fs.writeFile(
    configFile,
    JSON.stringify({ kafka: { startingOffsets: 'earliest', maxOffsetsPerTrigger: MAX_OFFSETS } }),
  );
  await runToEnd(nodePath.join(work, 'lake-files'), source);
  reference = withoutProvenance(await tableContents(session, nodePath.join(work, 'lake-files'), CONTENTS));
}, 600_000);

afterAll(async () => {
  session?.close();
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('tweetlake produce, then tweetlake run from the topic', () => {
  it('produce refuses a missing topic and an unreachable broker with typed errors', async () => {
    const missing = await runCli(['produce', '--source', source, '--to', uri]);
    expect(missing.code, missing.err).toBe(2);
    expect(missing.err).toContain('error [KAFKA_TOPIC_MISSING]');
    const port = await freePort();
    const down = await runCli(['produce', '--source', source, '--to', `kafka://127.0.0.1:${port}/${TOPIC}`]);
    expect(down.code, down.err).toBe(3);
    expect(down.err).toContain('error [KAFKA_PRODUCE]');
  }, 120_000);

  it('produce creates the topic and sends every record once', async () => {
    expect(lines.length).toBeGreaterThan(1000);
    const r = await runCli(['produce', '--source', source, '--to', uri, '--partitions', String(PARTITIONS)]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `^created topic ${TOPIC} with ${PARTITIONS} partitions; sent ${lines.length} records .* records/s$`,
        'm',
      ),
    );
    console.log(r.out.trim());
    const probe = new Consumer({
      clientId: 'kafka-run-ends',
      groupId: 'unused',
      bootstrapBrokers: [kafka.bootstrap],
    });
    const ends = (await probe.listOffsets({ topics: [TOPIC] })).get(TOPIC)!.map(Number);
    await probe.close();
    expect(ends.length).toBe(PARTITIONS);
    expect(ends.reduce((a, b) => a + b, 0)).toBe(lines.length);
    // keyed by user: the records spread over the partitions
    expect(ends.filter((n) => n > 0).length).toBe(PARTITIONS);
  }, 120_000);

  it('run from the topic equals run from the files; a second run commits nothing', async () => {
    const lake = nodePath.join(work, 'lake-kafka');
    const out = await runToEnd(lake, uri, undefined, ['--config', configFile]);
    const bronzeBatches = (out.match(/^bronze_stream: batch \d+ /gm) ?? []).length;
    expect(bronzeBatches).toBeGreaterThanOrEqual(Math.ceil(lines.length / MAX_OFFSETS));
    console.log(`bronze from Kafka: median batch ${batchMillis(out).bronze} ms, ${bronzeBatches} batches`);
    const got = withoutProvenance(await tableContents(session, lake, CONTENTS));
    expect(reference.gold!.length).toBeGreaterThan(0);
    expect(reference.application!.length).toBeGreaterThan(0);
    for (const table of TABLES) expect(got[table], table).toEqual(reference[table]);
    const before = await versions(lake);
    await runToEnd(lake, uri, undefined, ['--config', configFile]);
    expect(await versions(lake)).toEqual(before);
  }, 600_000);

  it('produce sends JSON arrays element by element and CRLF lines without their CR', async () => {
    const mixed = nodePath.join(work, 'mixed');
    await fs.mkdir(mixed);
    const tweets = lines.slice(0, 5).map((l) => JSON.parse(l) as Record<string, unknown>);
    await fs.writeFile(nodePath.join(mixed, 'a.json'), JSON.stringify(tweets.slice(0, 3), null, 2));
    await fs.writeFile(nodePath.join(mixed, 'b.json'), lines.slice(3, 5).join('\r\n') + '\r\n');
    await fs.writeFile(nodePath.join(mixed, '_hidden.json'), lines[0] + '\n');
    const to = `kafka://${kafka.bootstrap}/mixed`;
    const r = await runCli(['produce', '--source', mixed, '--to', to, '--partitions', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('sent 5 records');
    const reader = new KafkaReader(parseKafkaUri(to), { clientId: 'kafka-run-mixed' });
    const values: string[] = [];
    try {
      const [end] = await reader.offsets('latest');
      await reader.readRange(0, 0, end!, 1 << 20, (rec) => values.push(rec.value!.toString('utf8')));
    } finally {
      await reader.close();
    }
    expect(values.map((v) => JSON.parse(v))).toEqual(tweets);
    expect(values.slice(3)).toEqual(lines.slice(3, 5));
  }, 120_000);

  it('generate --to produces the generated tweets, and leaves no folder behind', async () => {
    const before = (await fs.readdir(tmpdir())).filter((d) => d.startsWith('tweetlake-generate-'));
    const r = await runCli([
      'generate',
      '--tweets',
      '300',
      '--files',
      '2',
      '--to',
      `kafka://${kafka.bootstrap}/generated`,
      '--partitions',
      '2',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /^created topic generated with 2 partitions; sent 300 records .* from 2 files to /m,
    );
    const probe = new Consumer({
      clientId: 'kafka-run-gen',
      groupId: 'unused',
      bootstrapBrokers: [kafka.bootstrap],
    });
    const ends = (await probe.listOffsets({ topics: ['generated'] })).get('generated')!.map(Number);
    await probe.close();
    expect(ends.reduce((a, b) => a + b, 0)).toBe(300);
    expect((await fs.readdir(tmpdir())).filter((d) => d.startsWith('tweetlake-generate-'))).toEqual(before);
  }, 120_000);

  it('a run SIGKILLed mid-run, run again, gives the same tables', async () => {
    const lake = nodePath.join(work, 'lake-killed');
    const extra = ['--config', configFile];
    const kill = await runAndKill(
      lake,
      uri,
      { stage: 'bronze', batch: 0, delayMs: Math.round(Math.random() * 300) },
      extra,
    );
    expect(kill.outcome).toBe('killed');
    expect(STREAM_STAGES).toContain(kill.stage);
    await runToEnd(lake, uri, undefined, extra);
    const got = withoutProvenance(await tableContents(session, lake, CONTENTS));
    for (const table of TABLES) expect(got[table], table).toEqual(reference[table]);
  }, 600_000);

  it("Spark's Kafka source reads the values bronze and quarantine took in", async () => {
    const spark = await runPythonJson<{
      sparkVersion: string;
      rows: { partition: number; offset: number; value: string | null }[];
    }>('spark_kafka.py', { bootstrap: kafka.bootstrap, topic: TOPIC });
    expect(spark.sparkVersion).toBe('3.5.5');
    expect(spark.rows.length).toBe(lines.length);
    // the values Spark read, parsed as bronze parses them, at their partition and offset
    const fromSpark = spark.rows.map((r) => {
      const text = Buffer.from(r.value ?? '', 'base64').toString('utf8');
      const t = JSON.parse(text) as Record<string, unknown>;
      return JSON.stringify([r.partition, r.offset, t.date, t.user, t.text, t.sentiment]);
    });
    // one user, one partition
    const partitionsOf = new Map<string, Set<number>>();
    for (const r of spark.rows) {
      const user = String(
        (JSON.parse(Buffer.from(r.value ?? '', 'base64').toString('utf8')) as { user: unknown }).user,
      );
      partitionsOf.set(user, (partitionsOf.get(user) ?? new Set()).add(r.partition));
    }
    expect([...partitionsOf.values()].every((s) => s.size === 1)).toBe(true);
    const lake = nodePath.join(work, 'lake-kafka');
    const fromBronze = (await tableRows(lake, 'bronze', 'source_file, date, "user", text, sentiment')).map(
      (r) => JSON.stringify([...position(r.source_file), r.date, r.user, r.text, r.sentiment]),
    );
    const quarantine = await tableRows(lake, 'quarantine', 'source_file, raw_text');
    const quarantined = new Set(quarantine.map((q) => position(q.source_file).join('/')));
    expect(fromBronze.length + quarantine.length).toBe(spark.rows.length);
    expect(fromBronze.sort()).toEqual(
      fromSpark
        .filter((_, i) => !quarantined.has(`${spark.rows[i]!.partition}/${spark.rows[i]!.offset}`))
        .sort(),
    );
    // a value bronze could not take is in quarantine as Spark read it
    const sparkText = new Map(
      spark.rows.map((r) => [
        `${r.partition}/${r.offset}`,
        Buffer.from(r.value ?? '', 'base64').toString('utf8'),
      ]),
    );
    for (const q of quarantine) expect(q.raw_text).toBe(sparkText.get(position(q.source_file).join('/')));
  }, 600_000);
});
