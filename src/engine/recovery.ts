import type { DuckSession } from '../duck/session.js';
import type { Snapshot } from '../delta/snapshot.js';
import { DeltaTable } from '../delta/table.js';
import { CheckpointError, RECOVERY_HINT } from './checkpoint-file.js';
import type { StreamCheckpoint } from './checkpoint.js';

/** Where a query stands after its checkpoint was checked against its sink's tables. */
export interface Recovered {
  queryId: string;
  /** The last batch every table (or, without tables, the commits log) holds. */
  lastCommitted?: number;
  /** The last batch in the offsets log. */
  lastPlanned?: number;
  /** Batches whose commit entries were written again from the tables' txn. */
  rebuiltCommits: number[];
}

/** The txn version of `queryId` in each table that exists (-1: the table holds no batch of it). */
async function heldBatches(
  tables: readonly string[],
  queryId: string,
  session: DuckSession,
): Promise<number[]> {
  const out: number[] = [];
  for (const path of tables) {
    const table = await DeltaTable.forPath(path, session);
    out.push((await table.exists()) ? ((await table.snapshot()).txnVersion(queryId) ?? -1) : -1);
  }
  return out;
}

/**
 * A lookup of the txn version that every one of `tables` holds for an app id (undefined when one of
 * them holds none, or does not exist): what a source that records its parts as txns resumes from.
 */
export async function heldTxnVersions(
  tables: readonly string[],
  session: DuckSession,
): Promise<(appId: string) => number | undefined> {
  const snapshots: Snapshot[] = [];
  for (const path of tables) {
    const table = await DeltaTable.forPath(path, session);
    if (!(await table.exists())) return () => undefined;
    snapshots.push(await table.snapshot());
  }
  return (appId) => {
    const versions = snapshots.map((s) => s.txnVersion(appId));
    return versions.length && versions.every((v) => v !== undefined)
      ? Math.min(...(versions as number[]))
      : undefined;
  };
}

/** A table holding streaming writes of `queryName` (from the commitInfo of its log), if any. */
async function tableWrittenBy(
  tables: readonly string[],
  queryName: string,
  session: DuckSession,
): Promise<{ table: string; queryId: string } | undefined> {
  for (const path of tables) {
    const table = await DeltaTable.forPath(path, session);
    if (!(await table.exists())) continue;
    if ((await table.snapshot()).transactions.length === 0) continue; // no streaming write at all
    for (const entry of await table.history()) {
      const p = entry.operationParameters;
      if (entry.operation === 'STREAMING UPDATE' && p.queryName === queryName)
        return { table: path, queryId: String(p.queryId ?? '?') };
    }
  }
  return undefined;
}

/**
 * Reads a query's checkpoint and reconciles it with the Delta tables its sink writes, whose `txn`
 * is the source of truth: batches the tables hold count as committed even when `commits/` lost
 * them (their entries are written again). A checkpoint that lost what the tables hold (its
 * metadata, its offsets) is refused with a CheckpointError that says how to recover, since
 * starting over would write those batches a second time.
 */
export async function recoverCheckpoint(
  checkpoint: StreamCheckpoint,
  query: { name: string; tables: readonly string[]; session: DuckSession },
): Promise<Recovered> {
  const root = checkpoint.store.root;
  let queryId = await checkpoint.readQueryId();
  if (!queryId) {
    if (await checkpoint.hasLogs())
      throw new CheckpointError(
        `the checkpoint ${root} of streaming query '${query.name}' has lost its metadata file (the query id) ` +
          `but still holds logs of batches: they cannot be matched with the tables. ${sentence(RECOVERY_HINT)}`,
      );
    const writer = await tableWrittenBy(query.tables, query.name, query.session);
    if (writer)
      throw new CheckpointError(
        `the checkpoint folder ${root} of streaming query '${query.name}' is missing, but table ${writer.table} ` +
          `already holds batches that query wrote (query id ${writer.queryId}): starting over would write them ` +
          `again. ${sentence(RECOVERY_HINT)}`,
      );
    queryId = await checkpoint.queryId();
    return { queryId, rebuiltCommits: [] };
  }
  const planned = await checkpoint.batchIds('offsets');
  const committed = await checkpoint.batchIds('commits');
  const lastPlanned = planned.at(-1);
  let lastCommitted = committed.at(-1);
  if (lastCommitted !== undefined) await checkpoint.readCommit(lastCommitted); // damaged: a clear error
  if (lastCommitted !== undefined && (lastPlanned === undefined || lastCommitted > lastPlanned))
    throw new CheckpointError(
      `the offsets log ${root}/offsets ${lastPlanned === undefined ? 'is missing' : `ends at batch ${lastPlanned}`} ` +
        `but the commits log has batch ${lastCommitted}: the offsets of those batches are lost. ${sentence(RECOVERY_HINT)}`,
    );
  const held = query.tables.length ? await heldBatches(query.tables, queryId, query.session) : [];
  const most = held.length ? Math.max(...held) : -1;
  if (most >= 0 && (lastPlanned === undefined || most > lastPlanned))
    throw new CheckpointError(
      `the offsets log ${root}/offsets ${lastPlanned === undefined ? 'is missing' : `ends at batch ${lastPlanned}`}, ` +
        `but the tables already hold batch ${most} of streaming query '${query.name}': what those batches read is ` +
        `lost, and reading it again would duplicate rows. ${sentence(RECOVERY_HINT)}`,
    );
  const all = held.length ? Math.min(...held) : -1;
  const rebuiltCommits: number[] = [];
  for (let b = (lastCommitted ?? -1) + 1; b <= all; b++) {
    if (!(await checkpoint.hasOffsets(b))) continue;
    await checkpoint.writeCommit(b, { recoveredFromTables: true });
    rebuiltCommits.push(b);
  }
  if (all > (lastCommitted ?? -1)) lastCommitted = all;
  return {
    queryId,
    ...(lastCommitted !== undefined ? { lastCommitted } : {}),
    ...(lastPlanned !== undefined ? { lastPlanned } : {}),
    rebuiltCommits,
  };
}

function sentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}
