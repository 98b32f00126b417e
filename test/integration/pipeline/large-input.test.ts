/**
 * Large input through bronze under the default DuckDB memory limit (512 MB), with the default batch
 * limits: one 40 MB file and ten 20 MB files in one run (the files are read in byte ranges of at
 * most maxBytesPerTrigger), and a single 200 MB line, which is quarantined by offset and length
 * without ever being held. The data is made at test time.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, utimesSync, writeSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession } from '../../../src/duck/session.js';
import { StreamingQuery } from '../../../src/engine/query.js';
import { Trigger } from '../../../src/engine/trigger.js';
import { bundledSampleDir, defaultConfig } from '../../../src/pipeline/config.js';
import { generateSource } from '../../../src/pipeline/generate.js';
import { lakehousePaths } from '../../../src/pipeline/paths.js';
import { bronzeQuery } from '../../../src/pipeline/stages.js';
import { tempDirs } from '../../helpers/delta.js';

let session: DuckSession;
const dirs = tempDirs('tweetlake-large-input-');
const MB = 1 << 20;

beforeAll(async () => {
  session = await DuckSession.create({ memoryLimit: defaultConfig().duckdb.memoryLimit! });
});
afterAll(() => {
  session?.close();
  dirs.cleanup();
});

async function count(path: string, where = 'true'): Promise<number> {
  const table = await DeltaTable.forPath(path, session);
  const plan = await table.scan();
  try {
    const [row] = await session.all(`SELECT count(*) AS n FROM (${plan.sql}) WHERE ${where}`);
    return Number(row!.n);
  } finally {
    await plan.dispose();
  }
}

describe('large files and records under the default memory limit', () => {
  it('a 40 MB file, ten 20 MB files and a 200 MB line go through bronze in one run', async () => {
    const base = dirs.make();
    const source = nodePath.join(base, 'source');
    mkdirSync(source);
    // ~20 MB of tweets (`tweetlake generate --tweets 106500 --files 1`), copied into every file.
    const gen = await generateSource(session, {
      sample: bundledSampleDir(),
      out: nodePath.join(base, 'gen'),
      tweets: 106_500,
      files: 1,
    });
    const twenty = readFileSync(gen.files[0]!);
    expect(twenty.length).toBeGreaterThan(20 * MB);
    const put = (name: string, parts: (Buffer | { repeat: Buffer; times: number })[], mtime: number) => {
      const path = nodePath.join(source, name);
      const fd = openSync(path, 'w');
      for (const p of parts) {
        if (Buffer.isBuffer(p)) writeSync(fd, p);
        else for (let i = 0; i < p.times; i++) writeSync(fd, p.repeat);
      }
      closeSync(fd);
      utimesSync(path, mtime, mtime);
      return path;
    };
    put('forty.json', [twenty, twenty], 1_600_000_000);
    for (let i = 0; i < 10; i++) put(`twenty-${i}.json`, [twenty], 1_600_000_001 + i);
    const prefix = Buffer.from('{"date":"d","user":"u","text":"');
    const piece = Buffer.alloc(8 * MB, 'x'); // 25 of them: a 200 MB line, written (and read) in pieces
    const hugePath = put(
      'huge-line.json',
      [
        Buffer.from('{"text":"before"}\n'),
        prefix,
        { repeat: piece, times: 25 },
        Buffer.from('"}\n{"text":"after"}\n'),
      ],
      1_600_000_100,
    );

    const paths = lakehousePaths(nodePath.join(base, 'lake'));
    const config = defaultConfig();
    const q = new StreamingQuery({
      ...bronzeQuery({
        paths,
        source,
        session,
        classifier: async () => {
          throw new Error('no model in bronze');
        },
        maxFilesPerTrigger: config.maxFilesPerTrigger,
        maxBytesPerTrigger: config.maxBytesPerTrigger,
      }),
      trigger: Trigger.availableNow(),
    });
    await q.start();
    await q.awaitTermination();

    const perFile = twenty
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '').length;
    expect(await count(paths.tables.bronze)).toBe(12 * perFile + 2);
    // No batch read more than maxBytesPerTrigger of tweets (the 40 MB file took ranges of it).
    expect(q.recentProgress.length).toBeGreaterThanOrEqual(
      Math.ceil((12 * twenty.length) / config.maxBytesPerTrigger!),
    );
    const quarantined = await session.all(
      `SELECT * FROM (${(await (await DeltaTable.forPath(paths.tables.quarantine, session)).scan()).sql})`,
    );
    const hugeLength = prefix.length + 25 * piece.length + 2;
    expect(quarantined).toEqual([
      expect.objectContaining({
        source_file: hugePath,
        line_number: '2',
        byte_offset: String(Buffer.byteLength('{"text":"before"}\n')),
        raw_text: null,
        error: `a record of ${hugeLength} bytes, over the limit of ${10 * MB} bytes (maxRecordBytes): not read`,
      }),
    ]);
    expect(statSync(hugePath).size).toBeGreaterThan(200 * MB);
  }, 120_000);
});
