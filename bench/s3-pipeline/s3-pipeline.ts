/**
 * The model-free medallion pipeline with its lakehouse root on a local S3 server (versitygw on
 * loopback, as the tests start it) beside the same run on local disk: time per stage, S3 requests
 * per batch and bytes moved. The source stays on local disk in both runs (the same generated
 * files as `npm run bench`), so what differs is where the tables and checkpoints are.
 *
 *   npm run bench:s3 -- [--tweets 1M] [--files 100] [--max-files-per-trigger 10]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { DuckSession } from '../../dist/duck/session.js';
import { Pipeline } from '../../dist/pipeline/pipeline.js';
import { STREAM_NAMES, type StreamName } from '../../dist/pipeline/paths.js';
import { configureStorage, s3Totals } from '../../dist/storage/locations.js';
import { startS3Server } from '../../test/helpers/s3-server.js';
import { LengthFixtureLabeller } from '../tweetlake/fixture-labeller.js';

const REPO = nodePath.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    tweets: { type: 'string', default: '1M' },
    files: { type: 'string', default: '100' },
    'max-files-per-trigger': { type: 'string', default: '10' },
    seed: { type: 'string', default: '42' },
  },
});
const TWEETS = /^(\d+)([kM]?)$/.exec(values.tweets!);
if (!TWEETS) throw new Error(`--tweets: a count such as 100k or 1M, got ${values.tweets}`);
const tweets = Number(TWEETS[1]) * (TWEETS[2] === 'M' ? 1e6 : TWEETS[2] === 'k' ? 1e3 : 1);
const files = Number(values.files);

/** The generated source, shared with `npm run bench` (bench/.work/sources). */
function source(): string {
  const dir = nodePath.join(
    REPO,
    'bench',
    '.work',
    'sources',
    `${values.tweets}-${files}f-seed${values.seed}`,
  );
  if (!existsSync(`${dir}.complete`)) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync(
      process.execPath,
      [nodePath.join(REPO, 'dist/cli/main.js'), 'generate', '--tweets', String(tweets)].concat([
        '--files',
        String(files),
        '--seed',
        values.seed!,
        '--out',
        dir,
      ]),
      { stdio: 'inherit' },
    );
    writeFileSync(`${dir}.complete`, new Date().toISOString());
  }
  return dir;
}

interface StageRow {
  ms: number;
  batches: number;
  requests: number;
  mbSent: number;
  mbReceived: number;
}

/** One model-free run into `root`; per stage: time, batches, S3 requests and bytes. */
async function run(root: string, src: string): Promise<Record<string, StageRow>> {
  const session = await DuckSession.create({ memoryLimit: '512MB' });
  const out: Record<string, StageRow> = {};
  let current: { stream: StreamName; t0: number; base: typeof s3Totals; batches: number } | undefined;
  const close = () => {
    if (!current) return;
    out[current.stream.replace('_stream', '')] = {
      ms: performance.now() - current.t0,
      batches: current.batches,
      requests: s3Totals.requests - current.base.requests,
      mbSent: (s3Totals.bytesSent - current.base.bytesSent) / 1e6,
      mbReceived: (s3Totals.bytesReceived - current.base.bytesReceived) / 1e6,
    };
  };
  const pipeline = new Pipeline({
    root,
    source: src,
    session,
    orchestration: 'sequential',
    trigger: 'available-now',
    pollIntervalMs: 100,
    maxFilesPerTrigger: Number(values['max-files-per-trigger']),
    inferenceBatchSize: 1024,
    classifier: () => Promise.resolve(new LengthFixtureLabeller()),
    onStreamStart: (stream) => {
      close();
      current = { stream, t0: performance.now(), base: { ...s3Totals }, batches: 0 };
    },
    onProgress: () => {
      if (current) current.batches++;
    },
  });
  const t0 = performance.now();
  await pipeline.run();
  close();
  out.total = {
    ms: performance.now() - t0,
    batches: Object.values(out).reduce((n, r) => n + r.batches, 0),
    requests: STREAM_NAMES.reduce((n, s) => n + (out[s.replace('_stream', '')]?.requests ?? 0), 0),
    mbSent: STREAM_NAMES.reduce((n, s) => n + (out[s.replace('_stream', '')]?.mbSent ?? 0), 0),
    mbReceived: STREAM_NAMES.reduce((n, s) => n + (out[s.replace('_stream', '')]?.mbReceived ?? 0), 0),
  };
  await session.close();
  return out;
}

function print(name: string, rows: Record<string, StageRow>): void {
  process.stdout.write(`\n${name}\nstage        time s  batches  S3 requests  req/batch  MB up  MB down\n`);
  for (const [stage, r] of Object.entries(rows)) {
    const perBatch = r.batches ? (r.requests / r.batches).toFixed(0) : '-';
    process.stdout.write(
      `${stage.padEnd(12)} ${(r.ms / 1000).toFixed(1).padStart(6)}  ${String(r.batches).padStart(7)}  ` +
        `${String(r.requests).padStart(11)}  ${perBatch.padStart(9)}  ${r.mbSent.toFixed(1).padStart(5)}  ` +
        `${r.mbReceived.toFixed(1).padStart(7)}\n`,
    );
  }
}

// the pinned AWS SDK runs on Node 20; its notice about releases from 2027 is noise here
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const src = source();
const scratch = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-s3-bench-'));
const server = await startS3Server();
try {
  await server.createBucket('bench');
  configureStorage({ s3: server.options() });
  const local = await run(nodePath.join(scratch, 'local'), src);
  const s3 = await run('s3://bench/lake', src);
  process.stdout.write(`${tweets.toLocaleString('en')} tweets in ${files} files, model-free, one run each\n`);
  print('root on local disk', local);
  print('root on S3 (versitygw on loopback)', s3);
} finally {
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}
