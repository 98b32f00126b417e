import { randomUUID } from 'node:crypto';
import { copyTarget, readerFiles } from '../duck/files.js';
import { ident, literal } from '../duck/session.js';
import { errorMessage, TweetlakeError } from '../errors.js';
import { tempStaging, type StagingDir } from '../storage/local-files.js';
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

/** The actions a checkpoint of this snapshot holds, one at a time: state, live files and unexpired tombstones. */
export function* checkpointActions(snapshot: Snapshot, now = Date.now()): Generator<Action> {
  const retention = parseInterval(
    snapshot.properties['delta.deletedFileRetentionDuration'] ?? 'interval 1 week',
  );
  yield { protocol: snapshot.protocol };
  yield { metaData: snapshot.metadata };
  for (const txn of snapshot.transactions) yield { txn };
  for (const d of snapshot.domainMetadata.values()) yield { domainMetadata: d };
  for (const add of snapshot.files) yield { add: { ...add, dataChange: false } };
  for (const r of snapshot.tombstones) {
    if ((r.deletionTimestamp ?? 0) <= now - retention) continue;
    const { stats: _stats, tags: _tags, ...tombstone } = r;
    yield { remove: { ...tombstone, dataChange: false } };
  }
}

/** A checkpoint could not be written (the commit it was for stands). */
export class CheckpointFailed extends TweetlakeError {
  constructor(version: number, location: string, cause: unknown) {
    super(
      'DELTA_CHECKPOINT_FAILED',
      `checkpoint of version ${version} of ${location} failed: ${errorMessage(cause)}`,
      { domain: 'external', retryable: true, cause },
    );
  }
}

/** Rows per Parquet row group: DuckDB holds one row group in memory while writing it. */
const CHECKPOINT_ROW_GROUP = 20_000;
/** Bytes of JSON text gathered before one write to the temporary file. */
const WRITE_CHUNK = 1 << 20;
/** DuckDB's default maximum_object_size (16 MiB): enough for any action but a huge schema. */
const MIN_OBJECT_SIZE = 16 << 20;

/**
 * Writes the checkpoint's actions as JSON lines to a file of `staging`, a chunk at a time, and
 * returns its path, how many actions there were, how many are adds, and the longest line in bytes.
 */
async function writeActionLines(
  snapshot: Snapshot,
  staging: StagingDir,
): Promise<{ file: string; size: number; adds: number; longest: number }> {
  const handle = await staging.create('actions.json');
  let size = 0;
  let adds = 0;
  let longest = 0;
  try {
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const action of checkpointActions(snapshot)) {
      const line = JSON.stringify(action) + '\n';
      const bytes = Buffer.byteLength(line);
      longest = Math.max(longest, bytes);
      size++;
      if ('add' in action) adds++;
      chunk.push(line);
      chunkBytes += bytes;
      if (chunkBytes >= WRITE_CHUNK) {
        await handle.write(chunk.join(''));
        chunk = [];
        chunkBytes = 0;
      }
    }
    if (chunk.length) await handle.write(chunk.join(''));
  } finally {
    await handle.close();
  }
  return { file: handle.path, size, adds, longest };
}

/**
 * Writes a classic single-file Parquet checkpoint of the snapshot's version (it appears atomically,
 * or not at all if one exists), then points `_last_checkpoint` at it unless a newer one is there.
 * Memory stays bounded whatever the number of files: the actions go to a temporary JSON file a
 * chunk at a time, DuckDB turns that into Parquet reading it in pieces no larger than the longest
 * action, and the Parquet file is copied into the log without passing through the JS heap.
 * Throws `CheckpointFailed` with the reason.
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
  const staging = await tempStaging('tweetlake-checkpoint-');
  try {
    const parquet = staging.file(`${randomUUID()}.parquet`);
    const { file: json, size, adds, longest } = await writeActionLines(snapshot, staging);
    const columns = Object.entries(CHECKPOINT_COLUMNS)
      .map(([name, type]) => `${name}: ${literal(type)}`)
      .join(', ');
    const order = Object.keys(CHECKPOINT_COLUMNS).map(ident).join(', ');
    const objectSize = Math.max(MIN_OBJECT_SIZE, 2 ** Math.ceil(Math.log2(longest + 1)));
    await ctx.session.run(
      `COPY (SELECT ${order} FROM read_json(${readerFiles([json])}, format='newline_delimited', ` +
        `columns={${columns}}, maximum_object_size=${objectSize})) ` +
        `TO ${copyTarget(parquet)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${CHECKPOINT_ROW_GROUP})`,
    );
    const path = classicCheckpointPath(snapshot.version);
    try {
      await ctx.store.putFileIfAbsent(path, parquet);
    } catch (err) {
      // Another writer checkpointed this version first: its file stands, and it points the hint at it.
      if (err instanceof ObjectExists) return;
      throw err;
    }
    const sizeInBytes = (await ctx.store.head(path))?.size;
    const current = await readLastCheckpoint(ctx.store);
    if (!current || current.version < snapshot.version) {
      const last: LastCheckpoint = { version: snapshot.version, size, sizeInBytes, numOfAddFiles: adds };
      await ctx.store.put(LAST_CHECKPOINT, JSON.stringify(last));
    }
  } catch (err) {
    throw new CheckpointFailed(snapshot.version, ctx.store.root, err);
  } finally {
    await staging.dispose();
  }
}
