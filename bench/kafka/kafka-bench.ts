/**
 * Kafka figures (docs/operations.md "Kafka"): `tweetlake produce` of N generated tweets into a real
 * broker's topic (records/s as it prints them), then the pipeline's bronze stream from that topic
 * and, for comparison, from the same files (test/helpers/kafka-bronze-writer.ts: bronze only, no model).
 *
 *   npm run bench:kafka -- [--tweets 100000] [--partitions 6] [--max-offsets 100000]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { DuckSession } from '../../dist/duck/session.js';
import { generateSource } from '../../dist/pipeline/generate.js';
import { startKafkaServer } from '../../test/helpers/kafka-server.js';

const REPO = nodePath.resolve(import.meta.dirname, '../..');
const CLI = nodePath.join(REPO, 'dist/cli/main.js');
const WRITER = nodePath.join(REPO, 'test/helpers/kafka-bronze-writer.ts');

const { values } = parseArgs({
  options: {
    tweets: { type: 'string', default: '100000' },
    partitions: { type: 'string', default: '6' },
    'max-offsets': { type: 'string', default: '100000' },
  },
});
const tweets = Number(values.tweets);
const work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kafka-bench-'));
const kafka = await startKafkaServer();

/** Runs the bronze writer on `source`; returns its wall time and the batches it printed. */
function bronze(root: string, source: string): { ms: number; batches: number } {
  const t0 = performance.now();
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', WRITER, root, source, String(values['max-offsets'])],
    { cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  return { ms: performance.now() - t0, batches: (out.match(/^batch /gm) ?? []).length };
}

try {
  const files = nodePath.join(work, 'source');
  const session = await DuckSession.create();
  await generateSource(session, {
    sample: nodePath.join(REPO, 'data/sample'),
    out: files,
    tweets,
    files: 10,
  });
  session.close();
  const uri = `kafka://${kafka.bootstrap}/tweets`;
  const produced = execFileSync(
    process.execPath,
    [CLI, 'produce', '--source', files, '--to', uri, '--partitions', String(values.partitions)],
    { encoding: 'utf8' },
  );
  process.stdout.write(produced);
  const fromKafka = bronze(nodePath.join(work, 'lake-kafka'), uri);
  const fromFiles = bronze(nodePath.join(work, 'lake-files'), files);
  const rate = (ms: number) => Math.round(tweets / (ms / 1000));
  process.stdout.write(
    `bronze from Kafka: ${tweets} records in ${fromKafka.batches} batches, ${Math.round(fromKafka.ms)} ms ` +
      `(process start included): ${rate(fromKafka.ms)} records/s\n` +
      `bronze from the same files: ${fromFiles.batches} batches, ${Math.round(fromFiles.ms)} ms: ${rate(fromFiles.ms)} records/s\n`,
  );
} finally {
  await kafka.stop();
  rmSync(work, { recursive: true, force: true });
}
