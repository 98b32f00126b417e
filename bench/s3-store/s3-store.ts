/**
 * Latency and throughput of the S3 store against a local S3 server (versitygw on loopback, as the
 * tests start it), beside the local-disk store for the same operations.
 *
 *   npx tsx bench/s3-store/s3-store.ts [--ops 300] [--mib 64]
 */
import { promises as fs } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { startS3Server } from '../../test/helpers/s3-server.js';

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '300' }, mib: { type: 'string', default: '64' } },
});
const OPS = Number(values.ops);
const MIB = Number(values.mib);

/** Milliseconds of each call, run one after another. */
async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

function pct(ms: number[], p: number): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(2);
}

/** Operations per second with `parallel` calls in flight. */
async function throughput(n: number, parallel: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

const rows: string[] = [];
const row = (store: string, op: string, ms: number[] | undefined, extra: string) =>
  rows.push(
    `| ${store} | ${op} | ${ms ? `${pct(ms, 50)} / ${pct(ms, 95)} / ${pct(ms, 99)}` : ''} | ${extra} |`,
  );

async function small(name: string, store: ObjectStore): Promise<void> {
  const body = Buffer.alloc(1024, 7);
  const put = await timeEach(OPS, (i) => store.put(`small/${i}`, body));
  row(name, 'put 1 KiB', put, `${(1000 / (put.reduce((a, b) => a + b) / OPS)).toFixed(0)} ops/s serial`);
  const get = await timeEach(OPS, (i) => store.get(`small/${i}`));
  row(name, 'get 1 KiB', get, '');
  const pia = await timeEach(OPS, (i) => store.putIfAbsent(`log/${String(i).padStart(20, '0')}.json`, body));
  row(name, 'putIfAbsent 1 KiB (new key)', pia, '');
  const lost = await timeEach(OPS, (i) =>
    store.putIfAbsent(`log/${String(i).padStart(20, '0')}.json`, body).catch(() => undefined),
  );
  row(name, 'putIfAbsent (key exists: ObjectExists)', lost, '');
  const head = await timeEach(OPS, (i) => store.head(`small/${i}`));
  row(name, 'head', head, '');
  const list = await timeEach(5, () => store.list('log/'));
  row(name, `list ${OPS} keys`, list, '');
  const par = await throughput(OPS * 2, 16, (i) => store.put(`par/${i}`, body));
  row(name, 'put 1 KiB, 16 in flight', undefined, `${par.toFixed(0)} ops/s`);
  const parPia = await throughput(OPS * 2, 16, (i) => store.putIfAbsent(`parlog/${i}`, body));
  row(name, 'putIfAbsent 1 KiB, 16 in flight', undefined, `${parPia.toFixed(0)} ops/s`);
}

async function big(
  name: string,
  store: ObjectStore & { putFile?(p: string, f: string): Promise<void> },
  file: string,
) {
  const bytes = MIB * 1024 * 1024;
  const up = await timeEach(3, () =>
    store.putFile ? store.putFile('big.bin', file) : store.putFileIfAbsent(`big-${Math.random()}`, file),
  );
  row(name, `upload ${MIB} MiB file`, up, `${(bytes / 1e6 / (Math.min(...up) / 1000)).toFixed(0)} MB/s best`);
  if (store instanceof S3ObjectStore) {
    const out = `${file}.down`;
    const down = await timeEach(3, () => store.download('big.bin', out));
    row(
      name,
      `download ${MIB} MiB to a file`,
      down,
      `${(bytes / 1e6 / (Math.min(...down) / 1000)).toFixed(0)} MB/s best`,
    );
    await fs.rm(out, { force: true });
  }
  const key = store instanceof S3ObjectStore ? 'big.bin' : (await store.list('big-'))[0]!.path;
  const range = await timeEach(20, (i) =>
    store.getRange(key, (i * 1_048_576) % (bytes - 1_048_576), 1_048_576),
  );
  row(name, 'getRange 1 MiB', range, '');
}

const server = await startS3Server();
const work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-s3-bench-'));
try {
  await server.createBucket('bench');
  const s3 = new S3ObjectStore('s3://bench/run', server.options());
  const local = new LocalObjectStore(nodePath.join(work, 'local'));
  const file = nodePath.join(work, 'big.bin');
  await fs.writeFile(file, Buffer.alloc(MIB * 1024 * 1024, 3));
  await small('local disk', local);
  await small('S3 (versitygw)', s3);
  await big('local disk', local, file);
  await big('S3 (versitygw)', s3, file);
  console.log(`ops per row: ${OPS}; S3 requests: ${s3.stats.requests}, retries: ${s3.stats.retries}\n`);
  console.log('| store | operation | latency ms p50 / p95 / p99 | rate |');
  console.log('| --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  s3.close();
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
