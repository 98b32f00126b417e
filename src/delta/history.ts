import type { CommitInfo } from './actions.js';
import { commitInfoOf, logReaderOf } from './log-reader.js';
import { listCommits } from './log-segment.js';
import type { TableContext } from './snapshot.js';

/** One row of `DESCRIBE HISTORY`. */
export interface HistoryEntry {
  version: number;
  /** Commit time (in-commit timestamp when present, else commitInfo.timestamp, else the file time), ms. */
  timestamp: number;
  operation: string;
  operationParameters: Record<string, unknown>;
  readVersion?: number;
  isolationLevel?: string;
  isBlindAppend?: boolean;
  operationMetrics: Record<string, unknown>;
  engineInfo?: string;
  userName?: string;
}

/** The table's commits, newest first (only those whose JSON is still in the log). */
export async function tableHistory(ctx: TableContext, limit?: number): Promise<HistoryEntry[]> {
  const commits = (await listCommits(ctx.store)).reverse();
  const selected = limit === undefined ? commits : commits.slice(0, limit);
  const out: HistoryEntry[] = [];
  for await (const commit of logReaderOf(ctx.store).commitsOf(selected)) {
    const c = commit;
    const info: CommitInfo = commitInfoOf(commit.actions) ?? {};
    out.push({
      version: c.version,
      timestamp: Number(info.inCommitTimestamp ?? info.timestamp ?? c.lastModified),
      operation: String(info.operation ?? 'UNKNOWN'),
      operationParameters: (info.operationParameters as Record<string, unknown>) ?? {},
      ...(info.readVersion !== undefined ? { readVersion: Number(info.readVersion) } : {}),
      ...(info.isolationLevel ? { isolationLevel: String(info.isolationLevel) } : {}),
      ...(info.isBlindAppend !== undefined ? { isBlindAppend: Boolean(info.isBlindAppend) } : {}),
      operationMetrics: (info.operationMetrics as Record<string, unknown>) ?? {},
      ...(info.engineInfo ? { engineInfo: String(info.engineInfo) } : {}),
      ...(info.userName ? { userName: String(info.userName) } : {}),
    });
  }
  return out;
}
