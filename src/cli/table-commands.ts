import type { Command } from 'commander';
import { DeltaTable } from '../delta/table.js';
import { withoutSqlExcerpt } from '../duck/error-text.js';
import { SqlError, type DuckSession } from '../duck/session.js';
import { lakehouseLease } from '../pipeline/lakehouse-lease.js';
import { UsageError } from './errors.js';
import { parentLocation } from '../storage/locations.js';
import { configFor, tableVersion } from './options.js';
import { parseFormat, renderTable } from './format.js';

const int = tableVersion;

function parseTime(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms))
    throw new UsageError(`cannot parse timestamp '${value}' (use ISO-8601 or epoch milliseconds)`);
  return ms;
}

/** Fails in the user's terms when a --where filter does not fit the table (without our scan's SQL). */
async function checkWhere(session: DuckSession, scanSql: string, where: string): Promise<void> {
  try {
    await session.describe(`SELECT * FROM (${scanSql}) WHERE ${where}`);
  } catch (err) {
    if (!(err instanceof SqlError)) throw err;
    throw new UsageError(`--where ${where}: ${withoutSqlExcerpt(err.message)}`, 'WHERE_INVALID');
  }
}

/** The table at a path or `s3://` URL, reached with the storage settings of the config (file and variables). */
function openTable(path: string): Promise<DeltaTable> {
  configFor({});
  return DeltaTable.forPath(path);
}

/**
 * A VACUUM shorter than the table's retention may delete files that a running pipeline's streams
 * still read (an older snapshot): refuse it while a run holds the lease of the table's lakehouse.
 */
async function refuseWhileRunning(tablePath: string): Promise<void> {
  const root = parentLocation(tablePath);
  const lease = await lakehouseLease(root);
  if (!lease || lease.stale) return;
  const h = lease.holder;
  throw new UsageError(
    `a run is using the lakehouse ${root} (pid ${h.pid} on ${h.host} since ${h.startedAt}): --force may delete ` +
      `files its streams still read. Vacuum with the table's retention, or after the run`,
    'LEASE_HELD',
  );
}

/** `tweetlake table ...`: read and maintain one Delta table by path. */
export function registerTableCommands(program: Command, out: NodeJS.WritableStream): void {
  const table = program.command('table').description('read and maintain a Delta table by path');

  table
    .command('show <path>')
    .description('print the rows of a table (the latest version, or as of a version or time)')
    .option('--version <n>', 'time travel to a version')
    .option('--timestamp <time>', 'time travel to the newest version at or before this time')
    .option('--limit <n>', 'print at most n rows', '20')
    .option('--format <fmt>', 'table | jsonl', 'table')
    .option('--where <sql>', 'SQL filter on the rows (DuckDB syntax)')
    .action((path, opts) => tableShowCommand(path, opts, out));

  table
    .command('history <path>')
    .description('the commits of a table, newest first (DESCRIBE HISTORY)')
    .option('--limit <n>', 'at most n commits')
    .option('--format <fmt>', 'table | jsonl', 'table')
    .action((path, opts) => tableHistoryCommand(path, opts, out));

  table
    .command('describe <path>')
    .description('version, schema, partitioning, properties, files and size of a table')
    .option('--version <n>', 'at a version')
    .action((path, opts) => tableDescribeCommand(path, opts, out));

  table
    .command('optimize <path>')
    .description('compact small files (bin-packing) in one dataChange=false commit')
    .option('--target-size <mb>', 'target file size in MiB', '128')
    .option('--dry-run', 'only say what would be compacted')
    .action((path, opts) => tableOptimizeCommand(path, opts, out));

  table
    .command('vacuum <path>')
    .description('delete files that no version within the retention period needs')
    .option('--retain-hours <h>', "retention in hours (default: the table's, 168)")
    .option('--dry-run', 'list the files that would be deleted')
    .option(
      '--force',
      "allow a retention shorter than the table's (as spark.databricks.delta.retentionDurationCheck.enabled=false)",
    )
    .action((path, opts) => tableVacuumCommand(path, opts, out));

  table
    .command('checkpoint <path>')
    .description('write a checkpoint of the latest version')
    .action(async (path: string) => {
      const t = await openTable(path);
      const v = await t.checkpoint();
      out.write(`checkpoint written at version ${v}\n`);
    });
}

async function tableShowCommand(
  path: string,
  opts: { version?: string; timestamp?: string; limit: string; format: string; where?: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const format = parseFormat(opts.format);
  const t = await openTable(path);
  const snapshot = await t.snapshot({
    ...(opts.version !== undefined ? { version: int(opts.version, '--version') } : {}),
    ...(opts.timestamp !== undefined ? { timestamp: parseTime(opts.timestamp) } : {}),
  });
  const limit = int(opts.limit, '--limit');
  const plan = await t.scan(snapshot);
  try {
    const where = opts.where ? ` WHERE ${opts.where}` : '';
    if (opts.where) await checkWhere(t.session, plan.sql, opts.where);
    if (format === 'table') {
      const rows = await t.session.all(`SELECT * FROM (${plan.sql})${where} LIMIT ${limit}`);
      out.write(renderTable(rows, plan.columns));
      out.write(`(${rows.length} row${rows.length === 1 ? '' : 's'} shown; version ${snapshot.version})\n`);
    } else {
      for await (const chunk of t.session.stream(
        `SELECT to_json(r) AS j FROM (SELECT * FROM (${plan.sql})${where} LIMIT ${limit}) r`,
      )) {
        for (const row of chunk) out.write(`${row.j}\n`);
      }
    }
  } finally {
    await plan.dispose();
  }
}

async function tableHistoryCommand(
  path: string,
  opts: { limit?: string; format: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const format = parseFormat(opts.format);
  const t = await openTable(path);
  await t.snapshot(); // fails clearly when there is no table
  const history = await t.history(opts.limit === undefined ? undefined : int(opts.limit, '--limit'));
  if (format === 'table') {
    out.write(
      renderTable(
        history.map((h) => ({
          version: h.version,
          timestamp: new Date(h.timestamp).toISOString(),
          operation: h.operation,
          parameters: JSON.stringify(h.operationParameters),
          metrics: JSON.stringify(h.operationMetrics),
          engine: h.engineInfo ?? null,
        })),
      ),
    );
  } else {
    for (const h of history)
      out.write(`${JSON.stringify({ ...h, timestamp: new Date(h.timestamp).toISOString() })}\n`);
  }
}

async function tableDescribeCommand(
  path: string,
  opts: { version?: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  const t = await openTable(path);
  const s = await t.snapshot(opts.version === undefined ? {} : { version: int(opts.version, '--version') });
  const info = {
    location: t.location,
    version: s.version,
    id: s.metadata.id,
    protocol: s.protocol,
    partitionColumns: s.partitionColumns,
    properties: s.properties,
    numFiles: s.numFiles,
    sizeInBytes: s.sizeInBytes,
    numRecords: s.numRecords ?? null,
    schema: s.schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
  };
  out.write(`${JSON.stringify(info, null, 2)}\n`);
}

async function tableOptimizeCommand(
  path: string,
  opts: { targetSize: string; dryRun?: boolean },
  out: NodeJS.WritableStream,
): Promise<void> {
  const t = await openTable(path);
  const r = await t.optimize({
    targetFileSize: int(opts.targetSize, '--target-size') * 1024 * 1024,
    dryRun: !!opts.dryRun,
  });
  if (r.version === undefined) {
    out.write(
      r.bins === 0
        ? 'nothing to optimize: no partition has two or more small files\n'
        : `would compact ${r.numFilesRemoved} files (${r.bytesRemoved} bytes) in ${r.bins} bin(s)\n`,
    );
  } else {
    out.write(
      `optimized: version ${r.version}, ${r.numFilesRemoved} files (${r.bytesRemoved} bytes) -> ` +
        `${r.numFilesAdded} files (${r.bytesAdded} bytes)\n`,
    );
  }
}

async function tableVacuumCommand(
  path: string,
  opts: { retainHours?: string; dryRun?: boolean; force?: boolean },
  out: NodeJS.WritableStream,
): Promise<void> {
  const t = await openTable(path);
  const hours = opts.retainHours === undefined ? undefined : Number(opts.retainHours);
  if (hours !== undefined && (!Number.isFinite(hours) || hours < 0))
    throw new UsageError('--retain-hours must be a number of hours >= 0');
  if (opts.force && !opts.dryRun) await refuseWhileRunning(path);
  const r = await t.vacuum({
    ...(hours !== undefined ? { retentionHours: hours } : {}),
    dryRun: !!opts.dryRun,
    enforceRetentionDuration: !opts.force,
  });
  for (const f of r.files) out.write(`${r.dryRun ? 'would delete' : 'deleted'} ${f}\n`);
  out.write(`${r.dryRun ? 'would delete' : 'deleted'} ${r.files.length} file(s), ${r.bytes} bytes\n`);
}
