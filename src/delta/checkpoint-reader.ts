import type { DuckSession } from '../duck/session.js';
import { readerFiles } from '../duck/files.js';
import { ident } from '../duck/session.js';
import { localFilesOf } from '../storage/local-files.js';
import type { ObjectStore } from '../storage/object-store.js';
import { actionFromObject, parseActions, type Action } from './actions.js';
import { errorMessage } from '../errors.js';
import { CorruptLog } from './errors.js';
import { fileProblem } from './file-check.js';
import type { CheckpointRef } from './log-segment.js';
import { SIDECAR_DIR } from './log-files.js';

const ACTION_COLUMNS = [
  'protocol',
  'metaData',
  'txn',
  'add',
  'remove',
  'domainMetadata',
  'checkpointMetadata',
  'sidecar',
];

/** Reads every action of a checkpoint (all parts, and its sidecars), in batches. */
export async function* readCheckpoint(
  store: ObjectStore,
  session: DuckSession,
  checkpoint: CheckpointRef,
): AsyncGenerator<Action[]> {
  const sidecars: string[] = [];
  const jsonParts = checkpoint.paths.filter((p) => p.endsWith('.json'));
  const parquetParts = checkpoint.paths.filter((p) => p.endsWith('.parquet'));
  for (const path of jsonParts) {
    const actions = parseActions(new TextDecoder().decode(await store.get(path)), path);
    for (const a of actions) if ('sidecar' in a) sidecars.push(`${SIDECAR_DIR}/${a.sidecar.path}`);
    yield actions.filter((a) => !('sidecar' in a));
  }
  if (parquetParts.length) {
    for await (const batch of readParquetActions(store, session, parquetParts)) {
      for (const a of batch) if ('sidecar' in a) sidecars.push(`${SIDECAR_DIR}/${a.sidecar.path}`);
      yield batch.filter((a) => !('sidecar' in a));
    }
  }
  if (sidecars.length) yield* readParquetActions(store, session, sidecars);
}

async function* readParquetActions(
  store: ObjectStore,
  session: DuckSession,
  paths: string[],
): AsyncGenerator<Action[]> {
  let opened;
  try {
    opened = await localFilesOf(store).open(paths);
  } catch (err) {
    throw await checkpointUnreadable(store, paths, err);
  }
  try {
    yield* readOpenedActions(store, session, paths, readerFiles(opened.files));
  } finally {
    await opened.release();
  }
}

async function* readOpenedActions(
  store: ObjectStore,
  session: DuckSession,
  paths: string[],
  files: string,
): AsyncGenerator<Action[]> {
  let columns: string[];
  try {
    const described = await session.describe(`SELECT * FROM read_parquet(${files}, union_by_name=true)`);
    columns = described.map((c) => c.name).filter((n) => ACTION_COLUMNS.includes(n));
  } catch (err) {
    throw await checkpointUnreadable(store, paths, err);
  }
  if (columns.length === 0) return;
  const select = columns.map((c) => `to_json(${ident(c)}) AS ${ident(c)}`).join(', ');
  const where = columns.map((c) => `${ident(c)} IS NOT NULL`).join(' OR ');
  const sql = `SELECT ${select} FROM read_parquet(${files}, union_by_name=true) WHERE ${where}`;
  for await (const rows of session.stream(sql)) {
    const actions: Action[] = [];
    for (const row of rows) {
      for (const c of columns) {
        const text = row[c];
        if (typeof text !== 'string') continue;
        const value = JSON.parse(text) as Record<string, unknown>;
        if (c === 'add') normaliseCheckpointAdd(value);
        const action = actionFromObject({ [c]: value });
        if (action) actions.push(action);
      }
    }
    yield actions;
  }
}

/** Checkpoints may carry stats only as `stats_parsed`; turn them into the JSON `stats` string. */
function normaliseCheckpointAdd(add: Record<string, unknown>): void {
  if ((add.stats === null || add.stats === undefined) && add.stats_parsed) {
    add.stats = JSON.stringify(add.stats_parsed);
  }
  delete add.stats_parsed;
  delete add.partitionValues_parsed;
  if (add.partitionValues === null || add.partitionValues === undefined) add.partitionValues = {};
}

/** The CorruptLog for a checkpoint DuckDB could not open: which file, and why (probed, not DuckDB's text). */
async function checkpointUnreadable(
  store: ObjectStore,
  paths: string[],
  cause: unknown,
): Promise<CorruptLog> {
  for (const path of paths) {
    const problem = await fileProblem(store, { path });
    if (problem === undefined) continue;
    const what = problem === 'missing' ? 'missing' : `unreadable (${problem})`;
    return new CorruptLog(
      `checkpoint file ${path} of table ${store.root} is ${what}: restore it, or delete the checkpoint ` +
        `(and _last_checkpoint if it names it) so that readers use an older one or the JSON commits`,
      cause,
    );
  }
  return new CorruptLog(
    `cannot read checkpoint ${paths.join(', ')} of table ${store.root}: ${errorMessage(cause)}`,
    cause,
  );
}
