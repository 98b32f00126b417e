/**
 * One large JSON Lines file (2 GB by default) through bronze and silver under the default DuckDB
 * memory limit (512 MB) and the default batch limits: the file source reads it in byte ranges of
 * maxBytesPerTrigger, so memory stays flat whatever the file's size. Samples the process's RSS every
 * 250 ms and prints it over time with the throughput of each stage; writes the samples as JSON.
 *
 *   npx tsx bench/large-file/large-file.ts [--gb 2] [--work bench/.work] [--json FILE]
 */
import { existsSync, mkdirSync, promises as fs, renameSync, statSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { DuckSession } from '../../dist/duck/session.js';
import { StreamingQuery } from '../../dist/engine/query.js';
import { Trigger } from '../../dist/engine/trigger.js';
import { bundledSampleDir, defaultConfig } from '../../dist/pipeline/config.js';
import { generateSource } from '../../dist/pipeline/generate.js';
import { lakehousePaths } from '../../dist/pipeline/paths.js';
import { bronzeQuery, silverQuery, type StageOptions } from '../../dist/pipeline/stages.js';
import { fmt, renderTable } from '../lib/table.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const GB = 1024 ** 3;
const MB = 1024 ** 2;

/** The source: one file of about `gb` GiB of generated tweets, made once and cached. */
async function source(work: string, gb: number, session: DuckSession): Promise<string> {
  const tweets = Math.round((gb * GB) / 197); // a generated tweet is ~197 bytes with its newline
  const dir = nodePath.join(work, 'sources', `large-${gb}g-1f-seed42`);
  if (existsSync(nodePath.join(dir, 'tweets-000001.json'))) return dir;
  const tmp = `${dir}.tmp`;
  await fs.rm(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  await generateSource(session, { sample: bundledSampleDir(), out: tmp, tweets, files: 1, seed: 42 });
  renameSync(tmp, dir);
  process.stdout.write(
    `generated ${tweets.toLocaleString('en-US')} tweets in ${fmt((performance.now() - t0) / 1000, 1)} s\n`,
  );
  return dir;
}

interface Sample {
  t: number;
  stage: string;
  rssMB: number;
  heapMB: number;
}

async function main(): Promise<void> {
  const gb = Number(arg('gb', '2'));
  const work = nodePath.resolve(arg('work', 'bench/.work'));
  const config = defaultConfig();
  const session = await DuckSession.create({ memoryLimit: config.duckdb.memoryLimit! });
  const dir = await source(work, gb, session);
  const file = nodePath.join(dir, 'tweets-000001.json');
  const bytes = statSync(file).size;
  const root = nodePath.join(work, 'runs', `large-file-${process.pid}`);
  mkdirSync(root, { recursive: true });
  const options: StageOptions = {
    paths: lakehousePaths(root),
    source: dir,
    session,
    classifier: async () => {
      throw new Error('no model: bronze and silver only');
    },
    maxFilesPerTrigger: config.maxFilesPerTrigger,
    maxBytesPerTrigger: config.maxBytesPerTrigger,
  };
  const samples: Sample[] = [];
  const started = performance.now();
  let stage = 'start';
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    samples.push({
      t: (performance.now() - started) / 1000,
      stage,
      rssMB: m.rss / MB,
      heapMB: m.heapUsed / MB,
    });
  }, 250);
  const rows: (string | number)[][] = [];
  for (const [name, query] of [
    ['bronze', bronzeQuery(options)],
    ['silver', silverQuery(options)],
  ] as const) {
    stage = name;
    const t0 = performance.now();
    const q = new StreamingQuery({ ...query, trigger: Trigger.availableNow() });
    await q.start();
    await q.awaitTermination();
    const s = (performance.now() - t0) / 1000;
    const input = q.recentProgress.reduce((n, p) => n + p.numInputRows, 0);
    const output = q.recentProgress.reduce((n, p) => n + p.sink.numOutputRows, 0);
    const peak = Math.max(...samples.filter((x) => x.stage === name).map((x) => x.rssMB));
    rows.push([name, q.recentProgress.length, input, output, fmt(s, 1), fmt(input / s, 0), fmt(peak, 0)]);
  }
  clearInterval(timer);
  session.close();
  await fs.rm(root, { recursive: true, force: true });

  const out = nodePath.resolve(arg('json', nodePath.join(work, 'results', `large-file-${gb}g.json`)));
  mkdirSync(nodePath.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ file, bytes, memoryLimit: config.duckdb.memoryLimit, samples }, null, 1),
  );
  // RSS over time: one line per tenth of the run.
  const total = samples.at(-1)?.t ?? 0;
  const timeline = Array.from({ length: 11 }, (_, i) => {
    const at = (total * i) / 10;
    const s = samples.reduce(
      (best, x) => (Math.abs(x.t - at) < Math.abs(best.t - at) ? x : best),
      samples[0]!,
    );
    return [fmt(s.t, 0), s.stage, fmt(s.rssMB, 0), fmt(s.heapMB, 0)];
  });
  process.stdout.write(
    `${file}: ${fmt(bytes / GB, 2)} GiB, DuckDB memory_limit ${config.duckdb.memoryLimit}, maxBytesPerTrigger ${config.maxBytesPerTrigger! / MB} MiB\n` +
      renderTable(['stage', 'batches', 'rows in', 'rows out', 's', 'rows/s', 'peak RSS MB'], rows) +
      `RSS over time (samples every 250 ms: ${out})\n` +
      renderTable(['t s', 'stage', 'RSS MB', 'JS heap MB'], timeline),
  );
}

await main();
