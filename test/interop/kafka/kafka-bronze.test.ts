/**
 * Exactly-once from Kafka into bronze: 5,000 tweets of the bundled sample (keyed by user) and three
 * values that are not JSON objects go to a real broker's 6-partition topic; the pipeline's bronze
 * stream reads them (100 offsets a batch) in a child process that is SIGKILLed mid-run three times
 * and started again. Bronze then equals the same tweets read from files, every record once, each
 * with its `kafka://…/topic/partition/offset`; the three bad values are in quarantine with their
 * partition and offset; and bronze's txn holds, per partition, the last offset read.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, promises as fs, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, Producer, stringSerializer } from '@platformatic/kafka';
import { DeltaTable } from '../../../src/delta/table.js';
import { DuckSession } from '../../../src/duck/session.js';
import { StreamCheckpoint } from '../../../src/engine/checkpoint.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { startKafkaServer, type KafkaTestServer } from '../../helpers/kafka-server.js';

const WRITER = nodePath.resolve(import.meta.dirname, '../../helpers/kafka-bronze-writer.ts');
const SAMPLE = nodePath.resolve(import.meta.dirname, '../../../data/sample');
const TOPIC = 'tweets';
const PARTITIONS = 6;
const TWEETS = 5000;
const BAD = [Buffer.from('not json {'), Buffer.from('"a string"'), Buffer.from([0xff, 0xfe, 0x41])];

let kafka: KafkaTestServer;
let work: string;
let session: DuckSession;

beforeAll(async () => {
  kafka = await startKafkaServer();
  work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kafka-bronze-'));
  session = await DuckSession.create();
});

afterAll(async () => {
  session?.close();
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The first `n` lines of the sample's files, in order. */
async function sampleLines(n: number): Promise<string[]> {
  const out: string[] = [];
  for (const f of (await fs.readdir(SAMPLE)).sort()) {
    for (const line of readFileSync(nodePath.join(SAMPLE, f), 'utf8').split('\n'))
      if (line.trim() && out.length < n) out.push(line);
    if (out.length >= n) break;
  }
  return out;
}

/** Runs the writer; with `killAfterBatches`, SIGKILLs it a random moment after that many batch lines. */
function runWriter(root: string, source: string, killAfterBatches?: number): Promise<'killed' | 'done'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, root, source, '100'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let batches = 0;
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      batches = (out.match(/^batch /gm) ?? []).length;
      if (killAfterBatches !== undefined && batches >= killAfterBatches && !killed) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 200));
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL' && killed) resolve('killed');
      else if (code === 0 && /^done$/m.test(out)) resolve('done');
      else
        reject(
          new Error(
            `the bronze writer failed (code ${code}, signal ${signal}):\n${out}\n${kafka.logTail(2000)}`,
          ),
        );
    });
  });
}

async function rows(root: string, table: string, columns: string): Promise<Record<string, unknown>[]> {
  const t = await DeltaTable.forPath(nodePath.join(root, table), session);
  const scan = await t.scan(await t.snapshot());
  try {
    return await session.all(`SELECT ${columns} FROM (${scan.sql}) ORDER BY ALL`);
  } finally {
    await scan.dispose();
  }
}

describe('bronze from Kafka, exactly once under SIGKILL', () => {
  it('equals bronze from files, with offsets as provenance and bad values quarantined', async () => {
    const lines = await sampleLines(TWEETS);
    expect(lines.length).toBe(TWEETS);
    await kafka.createTopic(TOPIC, PARTITIONS);
    const producer = new Producer({
      clientId: 'kafka-bronze-test',
      bootstrapBrokers: [kafka.bootstrap],
      serializers: { key: stringSerializer },
      idempotent: true,
    });
    try {
      for (let i = 0; i < lines.length; i += 250) {
        const messages = lines.slice(i, i + 250).map((line) => ({
          topic: TOPIC,
          key: String(JSON.parse(line).user),
          value: Buffer.from(line),
        }));
        // the bad values among the tweets, early, in the middle and late
        if (i === 0 || i === 2500 || i === 4750)
          messages.push({ topic: TOPIC, key: 'bad', value: BAD[i === 0 ? 0 : i === 2500 ? 1 : 2]! });
        await producer.send({ messages });
      }
    } finally {
      await producer.close();
    }
    const probe = new Consumer({
      clientId: 'kafka-bronze-ends',
      groupId: 'unused',
      bootstrapBrokers: [kafka.bootstrap],
    });
    const ends = (await probe.listOffsets({ topics: [TOPIC] })).get(TOPIC)!.map(Number);
    await probe.close();
    expect(ends.reduce((a, b) => a + b, 0)).toBe(TWEETS + BAD.length);

    // the same tweets from files: the reference
    const files = nodePath.join(work, 'files');
    await fs.mkdir(files);
    await fs.writeFile(nodePath.join(files, 'tweets.json'), lines.join('\n') + '\n');
    const fromFiles = nodePath.join(work, 'lake-files');
    expect(await runWriter(fromFiles, files)).toBe('done');

    const lake = nodePath.join(work, 'lake-kafka');
    const uri = `kafka://${kafka.bootstrap}/${TOPIC}`;
    for (const after of [3, 6, 9]) expect(await runWriter(lake, uri, after)).toBe('killed');
    expect(await runWriter(lake, uri)).toBe('done');

    const tweetColumns = 'date, "user", text, sentiment, _rescued_data';
    const expected = await rows(fromFiles, 'bronze', tweetColumns);
    expect(expected.length).toBe(TWEETS);
    expect(await rows(lake, 'bronze', tweetColumns)).toEqual(expected);

    // every record once, named by its partition and offset
    const provenance = (await rows(lake, 'bronze', 'source_file')).map((r) => String(r.source_file));
    expect(new Set(provenance).size).toBe(TWEETS);
    for (const p of provenance)
      expect(p).toMatch(new RegExp(`^kafka://${kafka.bootstrap}/${TOPIC}/\\d/\\d+$`));
    const quarantine = await rows(lake, 'quarantine', 'source_file, line_number, raw_text, error, raw_bytes');
    expect(quarantine.length).toBe(BAD.length);
    const all = [...provenance, ...quarantine.map((q) => String(q.source_file))].map((p) =>
      p.split('/').slice(-2).join('/'),
    );
    const offsets = ends.flatMap((n, partition) => Array.from({ length: n }, (_, o) => `${partition}/${o}`));
    expect(all.sort()).toEqual(offsets.sort());
    for (const q of quarantine) expect(String(q.source_file).endsWith(`/${q.line_number}`)).toBe(true);
    expect(quarantine.map((q) => q.error).sort()).toEqual([
      'a JSON string, not an object',
      'not UTF-8 text',
      'not valid JSON',
    ]);
    expect(quarantine.find((q) => q.error === 'not UTF-8 text')?.raw_bytes).toBe(BAD[2]!.toString('base64'));

    // bronze's commits record, per partition, the last offset read: <query id>-<topic>-<partition>
    const snapshot = await (await DeltaTable.forPath(nodePath.join(lake, 'bronze'), session)).snapshot();
    const queryId = await new StreamCheckpoint(
      new LocalObjectStore(nodePath.join(lake, '_checkpoints', 'bronze_stream')),
    ).readQueryId();
    for (let p = 0; p < PARTITIONS; p++)
      expect(snapshot.txnVersion(`${queryId}-${TOPIC}-${p}`)).toBe(ends[p]! - 1);
  });
});
