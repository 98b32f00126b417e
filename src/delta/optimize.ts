import type { AddFile } from './actions.js';
import { checkWriteSupported } from './features.js';
import { planScan } from './scan.js';
import { Snapshot, type TableContext } from './snapshot.js';
import { commitOrDiscard, retryAfterVacuum, Transaction } from './transaction.js';
import { writeDataFiles } from './writer.js';

export interface OptimizeOptions {
  /** Size compacted files aim for (default 128 MiB). Files at or above 3/4 of it are left alone. */
  targetFileSize?: number;
  /** Only plan; commit nothing. */
  dryRun?: boolean;
}

export interface OptimizeResult {
  /** The version OPTIMIZE committed, or undefined when there was nothing to do (or a dry run). */
  version?: number;
  numFilesRemoved: number;
  numFilesAdded: number;
  bytesRemoved: number;
  bytesAdded: number;
  /** Partition groups that were compacted. */
  bins: number;
}

export const DEFAULT_OPTIMIZE_TARGET = 128 * 1024 * 1024;

/**
 * Plans bin-packing: per partition, the small files (and files with deletion vectors) grouped into
 * bins of about the target size; a bin is only worth rewriting if it merges two or more files or
 * drops deleted rows.
 */
export function planBins(files: AddFile[], targetFileSize: number): AddFile[][] {
  const byPartition = new Map<string, AddFile[]>();
  for (const f of files) {
    if (f.size >= targetFileSize * 0.75 && !f.deletionVector) continue;
    const key = JSON.stringify(Object.entries(f.partitionValues).sort());
    const list = byPartition.get(key) ?? [];
    list.push(f);
    byPartition.set(key, list);
  }
  const bins: AddFile[][] = [];
  for (const group of byPartition.values()) {
    group.sort((a, b) => a.size - b.size);
    let bin: AddFile[] = [];
    let binSize = 0;
    for (const f of group) {
      if (bin.length > 0 && binSize + f.size > targetFileSize) {
        bins.push(bin);
        bin = [];
        binSize = 0;
      }
      bin.push(f);
      binSize += f.size;
    }
    if (bin.length) bins.push(bin);
  }
  return bins.filter((b) => b.length > 1 || b.some((f) => f.deletionVector));
}

/** OPTIMIZE: compacts small files into larger ones in one commit with `dataChange=false`. */
export function optimizeTable(ctx: TableContext, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  return retryAfterVacuum(() => optimizeOnce(ctx, options));
}

async function optimizeOnce(ctx: TableContext, options: OptimizeOptions): Promise<OptimizeResult> {
  const snapshot = await Snapshot.load(ctx);
  checkWriteSupported(snapshot.protocol, snapshot.metadata, ctx.store.root, { removesData: false });
  const target = options.targetFileSize ?? DEFAULT_OPTIMIZE_TARGET;
  const bins = planBins(snapshot.files, target);
  const removed = bins.flat();
  const result: OptimizeResult = {
    numFilesRemoved: removed.length,
    numFilesAdded: 0,
    bytesRemoved: removed.reduce((n, f) => n + f.size, 0),
    bytesAdded: 0,
    bins: bins.length,
  };
  if (bins.length === 0 || options.dryRun) return result;
  const added: AddFile[] = [];
  for (const bin of bins) {
    const plan = await planScan(snapshot, { files: bin });
    try {
      const files = await writeDataFiles(ctx, plan.sql, {
        schema: snapshot.schema,
        partitionColumns: snapshot.partitionColumns,
        targetFileSize: target,
        compression: snapshot.properties['delta.parquet.compression.codec'],
        dataChange: false,
      });
      added.push(...files);
    } finally {
      await plan.dispose();
    }
  }
  const txn = new Transaction(ctx, snapshot, {
    operation: 'OPTIMIZE',
    operationParameters: { predicate: '[]', zOrderBy: '[]', targetFileSize: String(target) },
  });
  txn.markFilesRead(removed).removeFiles(removed, false).addFiles(added);
  const commit = await commitOrDiscard(txn, added);
  return {
    ...result,
    version: commit.version,
    numFilesAdded: added.length,
    bytesAdded: added.reduce((n, f) => n + f.size, 0),
  };
}
