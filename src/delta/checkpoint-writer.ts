import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { copyTarget, readerFiles } from '../duck/files.js';
import { literal } from '../duck/session.js';
import { ObjectExists } from '../storage/object-store.js';
import type { Action } from './actions.js';
import { UnsupportedWriterFeature } from './errors.js';
import { hasFeature } from './features.js';
import { classicCheckpointPath, LAST_CHECKPOINT } from './log-files.js';
import { readLastCheckpoint, type LastCheckpoint } from './log-segment.js';
import type { Snapshot, TableContext } from './snapshot.js';
import { parseInterval } from './table-properties.js';

const MAP = 'MAP(VARCHAR, VARCHAR)';
const DV =
  'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT)';

/** The checkpoint's Parquet schema (PROTOCOL.md "Checkpoint Schema"), as DuckDB types per action column. */
const CHECKPOINT_COLUMNS: Record<string, string> = {
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  add:
    `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, ` +
    `stats VARCHAR, tags ${MAP}, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT, clusteringProvider VARCHAR)`,
  remove:
    `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, ` +
    `partitionValues ${MAP}, size BIGINT, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT)`,
  metaData:
    `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), ` +
    `schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  protocol:
    'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
  domainMetadata: 'STRUCT(domain VARCHAR, configuration VARCHAR, removed BOOLEAN)',
};

/** The actions a checkpoint of this snapshot holds: state, live files and unexpired tombstones. */
export function checkpointActions(snapshot: Snapshot, now = Date.now()): Action[] {
  const retention = parseInterval(
    snapshot.properties['delta.deletedFileRetentionDuration'] ?? 'interval 1 week',
  );
  const actions: Action[] = [{ protocol: snapshot.protocol }, { metaData: snapshot.metadata }];
  for (const txn of snapshot.transactions) actions.push({ txn });
  for (const d of snapshot.domainMetadata.values()) actions.push({ domainMetadata: d });
  for (const add of snapshot.files) actions.push({ add: { ...add, dataChange: false } });
  for (const r of snapshot.tombstones) {
    if ((r.deletionTimestamp ?? 0) <= now - retention) continue;
    const { stats: _stats, tags: _tags, ...tombstone } = r;
    actions.push({ remove: { ...tombstone, dataChange: false } });
  }
  return actions;
}

/**
 * Writes a classic single-file Parquet checkpoint of the snapshot's version (it appears atomically,
 * or not at all if one exists), then points `_last_checkpoint` at it unless a newer one is there.
 */
export async function writeCheckpoint(ctx: TableContext, snapshot: Snapshot): Promise<void> {
  if (hasFeature(snapshot.protocol, 'v2Checkpoint')) {
    // PROTOCOL.md "V2 Checkpoint Table Feature": such tables only get V2-spec checkpoints (with checkpointMetadata).
    throw new UnsupportedWriterFeature(
      'v2Checkpoint',
      ctx.store.root,
      'tweetlake writes only V1 (classic) checkpoints',
    );
  }
  const actions = checkpointActions(snapshot);
  const dir = await fs.mkdtemp(nodePath.join(tmpdir(), 'tweetlake-checkpoint-'));
  try {
    const json = nodePath.join(dir, 'actions.json');
    const parquet = nodePath.join(dir, `${randomUUID()}.parquet`);
    const handle = await fs.open(json, 'w');
    try {
      for (const a of actions) await handle.write(JSON.stringify(a) + '\n');
    } finally {
      await handle.close();
    }
    const columns = Object.entries(CHECKPOINT_COLUMNS)
      .map(([name, type]) => `${name}: ${literal(type)}`)
      .join(', ');
    const order = Object.keys(CHECKPOINT_COLUMNS)
      .map((c) => `"${c}"`)
      .join(', ');
    await ctx.session.run(
      `COPY (SELECT ${order} FROM read_json(${readerFiles([json])}, format='newline_delimited', columns={${columns}}, ` +
        `maximum_object_size=268435456)) TO ${copyTarget(parquet)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    const bytes = await fs.readFile(parquet);
    try {
      await ctx.store.putIfAbsent(classicCheckpointPath(snapshot.version), bytes);
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
    }
    const current = await readLastCheckpoint(ctx.store);
    if (!current || current.version < snapshot.version) {
      const last: LastCheckpoint = {
        version: snapshot.version,
        size: actions.length,
        sizeInBytes: bytes.length,
        numOfAddFiles: snapshot.numFiles,
      };
      await ctx.store.put(LAST_CHECKPOINT, JSON.stringify(last));
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
