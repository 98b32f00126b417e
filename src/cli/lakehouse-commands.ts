import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { generateSource } from '../pipeline/generate.js';
import { bundledSampleDir, kafkaConnection } from '../pipeline/config.js';
import { lakehousePaths } from '../pipeline/paths.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { StateStore } from '../pipeline/state.js';
import { storeAt } from '../storage/locations.js';
import { lakehouseLease, LEASE_TIMING } from '../pipeline/lakehouse-lease.js';
import { APPLICATION_LEASE_PREFIX } from '../pipeline/group-worker.js';
import { Lease, type LeaseState } from '../storage/lease.js';
import { UsageError } from './errors.js';
import { produceFolder } from './kafka-commands.js';
import { parseFormat, renderTable } from './format.js';
import { configFor, lakehouseOptions, positiveInt } from './options.js';

/** One line on who holds a lakehouse's lease. */
function describeLease(
  lease: LeaseState | undefined,
  what = 'lease',
  free = 'no run is using this lakehouse',
): string {
  if (!lease) return `${what}: free (${free})`;
  const h = lease.holder;
  return (
    `${what}: held by pid ${h.pid} on ${h.host} since ${h.startedAt} (${h.command}), refreshed ${h.refreshedAt}` +
    (lease.stale ? '; stale: its process is gone or stopped refreshing, the next one takes it over' : '')
  );
}

/** `tweetlake streams | stop | clear | generate`. */
export function registerLakehouseCommands(program: Command, out: NodeJS.WritableStream): void {
  lakehouseOptions(
    program
      .command('streams')
      .description('the streams of a running (or the last) `tweetlake run`, with their progress'),
  )
    .option('--format <fmt>', 'table | jsonl', 'table')
    .action((opts) => lakehouseStreamsCommand(opts, out));

  lakehouseOptions(
    program
      .command('stop [name]')
      .description('ask a running `tweetlake run` to stop one stream by name, or all'),
  ).action((name, opts) => lakehouseStopCommand(name, opts, out));

  lakehouseOptions(
    program.command('clear').description('delete the tables, checkpoints and stream state of the lakehouse'),
  )
    .option('--cache', 'also delete the prediction cache (kept otherwise, so a re-run scores nothing again)')
    .action((opts) => lakehouseClearCommand(opts, out));

  program
    .command('generate')
    .description('write a synthetic source by resampling the sample (new users, times and mentions)')
    .requiredOption('--tweets <n>', 'number of tweets')
    .option('--out <dir>', 'output folder (default, with --to: a temporary one, removed after)')
    .option('--to <uri>', 'then send the tweets to a Kafka topic, kafka://host:port/topic (as `produce`)')
    .option('--partitions <n>', 'with --to: create the topic with this many partitions if it does not exist')
    .option('--config <file>', 'with --to: config file (kafka.clientId, kafka.sasl, kafka.tls)')
    .option('--files <n>', 'number of files', '10')
    .option('--seed <n>', 'random seed', '42')
    .option('--sample <dir>', 'folder to resample (default: the bundled sample)')
    .action((opts) => lakehouseGenerateCommand(opts, out));
}

async function lakehouseStreamsCommand(
  opts: { root?: string; config?: string; format: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = configFor(opts);
  const format = parseFormat(opts.format);
  const states = await new StateStore(storeAt(lakehousePaths(config.root).state)).streams();
  if (format === 'jsonl') {
    for (const s of states) out.write(`${JSON.stringify(s)}\n`);
    return;
  }
  out.write(`${describeLease(await lakehouseLease(config.root))}\n`);
  if (states.some((s) => s.worker))
    out.write(
      `${describeLease(
        await Lease.current(storeAt(config.root), APPLICATION_LEASE_PREFIX, {
          staleAfterMs: LEASE_TIMING.staleAfterMs,
        }),
        'application lease (group workers)',
        'no worker keeps the application table now',
      )}\n`,
    );
  if (states.length === 0) {
    out.write(`no streams have run in ${config.root}\n`);
    return;
  }
  out.write(
    renderTable(
      states.map((s) => ({
        name: s.name,
        active: s.active,
        status: s.status.message,
        ...(states.some((x) => x.worker)
          ? {
              // a worker of a group: the partitions Kafka gave it, and what of them is not in gold yet
              partitions: s.worker ? s.worker.partitions.join(',') || '-' : null,
              lag: s.worker ? s.worker.lag : null,
              application: s.worker ? (s.worker.application ? 'yes' : 'no') : null,
            }
          : {}),
        batch: s.lastProgress?.batchId ?? (s.worker ? s.worker.batches : null),
        'input rows': s.lastProgress?.numInputRows ?? null,
        'rows/s': s.lastProgress ? Math.round(s.lastProgress.processedRowsPerSecond) : null,
        'total batches': s.history.length,
        updated: s.updatedAt,
        id: s.id,
      })),
    ),
  );
}

async function lakehouseStopCommand(
  name: string | undefined,
  opts: { root?: string; config?: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = configFor(opts);
  const store = new StateStore(storeAt(lakehousePaths(config.root).state));
  const active = (await store.streams()).filter((s) => s.active);
  if (active.length === 0)
    throw new UsageError(`no run is active in ${config.root}: nothing to stop`, 'NOTHING_TO_STOP');
  if (name && !active.some((s) => s.name === name)) {
    throw new UsageError(
      `no active stream named '${name}' (active: ${active.map((s) => s.name).join(', ') || 'none'})`,
    );
  }
  await store.requestStop(name);
  out.write(`asked ${name ?? 'all streams'} to stop after the current batch\n`);
}

async function lakehouseClearCommand(
  opts: { root?: string; config?: string; cache?: boolean },
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = configFor(opts);
  const session = await DuckSession.create();
  try {
    await new Pipeline({
      root: config.root,
      source: config.source,
      session,
      classifier: () => Promise.reject(new Error('unused')),
      command: 'tweetlake clear',
    }).clear({ predictionCache: !!opts.cache });
  } finally {
    session.close();
  }
  out.write(
    `cleared tables and checkpoints under ${config.root} (models, MLflow runs${opts.cache ? '' : ' and the prediction cache'} kept)\n`,
  );
}

async function lakehouseGenerateCommand(
  opts: {
    tweets: string;
    out?: string;
    to?: string;
    partitions?: string;
    files: string;
    seed: string;
    sample?: string;
    config?: string;
  },
  out: NodeJS.WritableStream,
): Promise<void> {
  if (!opts.out && !opts.to) throw new UsageError('give --out <dir>, --to kafka://host:port/topic, or both');
  const folder = opts.out ?? mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-generate-'));
  try {
    const session = await DuckSession.create();
    try {
      const t0 = performance.now();
      const r = await generateSource(session, {
        sample: opts.sample ?? bundledSampleDir(),
        out: folder,
        tweets: positiveInt(opts.tweets, '--tweets'),
        files: positiveInt(opts.files, '--files'),
        seed: Number(opts.seed),
      });
      out.write(
        `wrote ${opts.tweets} tweets in ${r.files.length} files to ${folder} in ${Math.round(performance.now() - t0)} ms\n`,
      );
    } finally {
      session.close();
    }
    if (opts.to)
      await produceFolder(
        folder,
        { to: opts.to, ...(opts.partitions ? { partitions: opts.partitions } : {}) },
        kafkaConnection(configFor(opts).kafka),
        out,
      );
  } finally {
    if (!opts.out) rmSync(folder, { recursive: true, force: true });
  }
}
