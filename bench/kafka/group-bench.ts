/**
 * Worker groups (issue 14): N generated tweets on a real broker's topic (12 partitions by default),
 * consumed by 1, 2 and 4 `tweetlake run --group` workers (available-now) into a fresh lakehouse
 * each. Measures, from the moment the workers are started (process start and model load included),
 * when bronze and when gold hold every partition up to its end (their txns), records/s into each,
 * and the consumer lag over time: every second, the partitions' end offsets minus gold's txn,
 * summed. Gold runs the bundled model (a group run has no model-free mode), so gold is inference
 * bound; on a 2-core machine every worker and its inference threads share the same two cores.
 *
 *   npm run bench:kafka-group -- [--records 20000] [--partitions 12] [--workers 1,2,4]
 *                                [--max-offsets 1000] [--model-workers N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { DeltaTable } from '../../dist/delta/table.js';
import { DuckSession } from '../../dist/duck/session.js';
import { KafkaReader } from '../../dist/engine/kafka-reader.js';
import { parseKafkaUri } from '../../dist/engine/kafka-uri.js';
import { startKafkaServer } from '../../test/helpers/kafka-server.js';
import { killAllWorkers, startWorker, waitAll, type GroupWorker } from '../../test/helpers/group-workers.js';
import { loadAverage } from '../lib/proc.js';
import { fmt } from '../lib/table.js';

const REPO = nodePath.resolve(import.meta.dirname, '../..');
const CLI = nodePath.join(REPO, 'dist/cli/main.js');
const TOPIC = 'tweets';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    partitions: { type: 'string', default: '12' },
    workers: { type: 'string', default: '1,2,4' },
    'max-offsets': { type: 'string', default: '1000' },
    'model-workers': { type: 'string' },
    'sample-ms': { type: 'string', default: '1000' },
  },
});
const records = Number(values.records);
const partitions = Number(values.partitions);
const counts = values.workers.split(',').map(Number);
const sampleMs = Number(values['sample-ms']);

/** One run of a group: when each table was done, and the lag samples. */
interface GroupRun {
  workers: number;
  bronzeMs?: number;
  goldMs?: number;
  exitMs: number;
  firstBatchMs?: number;
  batches: number;
  medianBatchMs?: number;
  lag: { t: number; lag: number }[];
}

function median(xs: number[]): number | undefined {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : undefined;
}

/** Per partition, the last offset a table's txns hold (-1 for none). */
async function heldOffsets(session: DuckSession, root: string, table: string, group: string, n: number) {
  const t = await DeltaTable.forPath(nodePath.join(root, table), session);
  if (!(await t.exists())) return Array.from({ length: n }, () => -1);
  const snapshot = await t.snapshot();
  return Array.from(
    { length: n },
    (_, p) => snapshot.txnVersion(`tweetlake-group-${group}-${TOPIC}-${p}`) ?? -1,
  );
}

async function runGroup(
  session: DuckSession,
  work: string,
  uri: string,
  config: string,
  ends: number[],
  n: number,
): Promise<GroupRun> {
  const root = nodePath.join(work, `lake-${n}`);
  const group = `bench-${n}`;
  const t0 = performance.now();
  const workers: GroupWorker[] = Array.from({ length: n }, (_, i) =>
    startWorker(`b${i + 1}`, { group, source: uri, root, config }),
  );
  const run: GroupRun = { workers: n, exitMs: 0, batches: 0, lag: [] };
  const exited = waitAll(workers, 3_600_000);
  let done = false;
  void exited.then(() => (done = true));
  const behind = (held: number[]) => held.reduce((sum, h, p) => sum + Math.max(0, ends[p]! - (h + 1)), 0);
  for (let next = t0; !done;) {
    const t = performance.now() - t0;
    if (
      run.bronzeMs === undefined &&
      behind(await heldOffsets(session, root, 'bronze', group, ends.length)) === 0
    )
      run.bronzeMs = performance.now() - t0;
    const lag = behind(await heldOffsets(session, root, 'gold', group, ends.length));
    run.lag.push({ t: t / 1000, lag });
    if (run.goldMs === undefined && lag === 0) run.goldMs = performance.now() - t0;
    next += sampleMs;
    await Promise.race([new Promise((r) => setTimeout(r, Math.max(0, next - performance.now()))), exited]);
  }
  const exits = await exited;
  run.exitMs = performance.now() - t0;
  const bad = exits.findIndex((e) => e.code !== 0);
  if (bad >= 0)
    throw new Error(
      `worker ${workers[bad]!.label} exited with ${JSON.stringify(exits[bad])}:\n${workers[bad]!.tail()}`,
    );
  const batches = workers.flatMap((w) => w.batches);
  run.batches = batches.length;
  run.firstBatchMs = batches.length ? Math.min(...batches.map((b) => b.at)) - t0 : undefined;
  run.medianBatchMs = median(
    batches.map((b) => Number(/, (\d+) ms$/.exec(b.line)?.[1])).filter(Number.isFinite),
  );
  // the bronze/gold moments come from 1 s samples; the last sample at exit settles any not seen yet
  run.bronzeMs ??=
    behind(await heldOffsets(session, root, 'bronze', group, ends.length)) === 0 ? run.exitMs : undefined;
  run.goldMs ??=
    behind(await heldOffsets(session, root, 'gold', group, ends.length)) === 0 ? run.exitMs : undefined;
  return run;
}

/** The lag samples of every run side by side, one row per sample (thinned to ~30 rows; each run's last kept). */
function lagTable(runs: GroupRun[]): string {
  const longest = Math.max(...runs.map((r) => r.lag.length));
  const step = Math.max(1, Math.ceil(longest / 30));
  const rows: string[] = [`| t (s) | ${runs.map((r) => `lag, ${r.workers} worker(s)`).join(' | ')} |`];
  rows.push(`|---:|${runs.map(() => '---:').join('|')}|`);
  const lasts = new Set(runs.map((r) => r.lag.length - 1));
  for (let i = 0; i < longest; i++)
    if (i % step === 0 || lasts.has(i))
      rows.push(
        `| ${i * (sampleMs / 1000)} | ${runs.map((r) => (r.lag[i] ? fmt(r.lag[i]!.lag) : '')).join(' | ')} |`,
      );
  return rows.join('\n') + '\n';
}

const work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-group-bench-'));
const kafka = await startKafkaServer();
const session = await DuckSession.create();
try {
  const uri = `kafka://${kafka.bootstrap}/${TOPIC}`;
  const produced = execFileSync(
    process.execPath,
    [CLI, 'generate', '--tweets', String(records), '--to', uri, '--partitions', String(partitions)],
    { encoding: 'utf8' },
  );
  process.stdout.write(produced);
  const reader = new KafkaReader(parseKafkaUri(uri), { clientId: 'group-bench' });
  const ends = await reader.offsets('latest').finally(() => reader.close());
  const total = ends.reduce((a, b) => a + b, 0);
  const config = nodePath.join(work, 'group.config.json');
  await fs.writeFile(
    config,
    JSON.stringify({
      kafka: { startingOffsets: 'earliest', maxOffsetsPerTrigger: Number(values['max-offsets']) },
      ...(values['model-workers'] ? { model: { workers: Number(values['model-workers']) } } : {}),
    }),
  );
  const runs: GroupRun[] = [];
  for (const n of counts) {
    process.stdout.write(`${n} worker(s): load ${loadAverage().toFixed(2)} at start\n`);
    runs.push(await runGroup(session, work, uri, config, ends, n));
  }
  const rate = (ms: number | undefined) => (ms ? fmt(total / (ms / 1000)) : '-');
  const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));
  process.stdout.write(
    `\n# worker groups: ${total} records, ${partitions} partitions, maxOffsetsPerTrigger ${values['max-offsets']}, ` +
      `bundled model, ${cpus().length} cores\n\n` +
      '| workers | bronze done (s) | records/s into bronze | gold done (s) | records/s through gold | ' +
      'all exited (s) | first batch (s) | gold records/s after the first batch | batches | median batch (ms) |\n' +
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n' +
      runs
        .map(
          (r) =>
            `| ${r.workers} | ${s(r.bronzeMs)} | ${rate(r.bronzeMs)} | ${s(r.goldMs)} | ${rate(r.goldMs)} | ` +
            `${s(r.exitMs)} | ${s(r.firstBatchMs)} | ` +
            `${r.goldMs && r.firstBatchMs ? rate(r.goldMs - r.firstBatchMs) : '-'} | ${r.batches} | ` +
            `${r.medianBatchMs ?? '-'} |`,
        )
        .join('\n') +
      `\n\n(times from the workers' start: process start, joining the group and loading the model included; ` +
      `bronze/gold done to the ${sampleMs} ms sample)\n\n` +
      `# consumer lag (end offsets minus gold's txn, summed over partitions)\n\n` +
      lagTable(runs),
  );
} finally {
  await killAllWorkers();
  session.close();
  await kafka.stop();
  rmSync(work, { recursive: true, force: true });
}
