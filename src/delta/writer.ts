import { randomUUID } from 'node:crypto';
import { copyTarget } from '../duck/files.js';
import { ident } from '../duck/session.js';
import { localFilesOf } from '../storage/local-files.js';
import { encodeActionPath, type AddFile } from './actions.js';
import { ProtocolViolation, SchemaMismatch } from './errors.js';
import { partitionDir, partitionTextSql, serializePartitionValue } from './partition-values.js';
import { toDuckType, type StructType } from './schema.js';
import type { TableContext } from './snapshot.js';
import { collectFileStats } from './stats.js';

/** How data files are written. */
export interface WriteFilesOptions {
  /** The table schema the rows must fit (partition columns included). */
  schema: StructType;
  partitionColumns: string[];
  /** Approximate size at which a new file is started (default 128 MiB). */
  targetFileSize?: number;
  /** Parquet codec (default snappy, which every Delta reader has). */
  compression?: string;
  dataChange: boolean;
  /**
   * Queries whose rows together are exactly the source's: an unpartitioned write copies them at the
   * same time, each on a connection of its own, in files of their own (in the parts' order).
   */
  parts?: readonly string[];
}

export const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;

/**
 * Writes the rows of a DuckDB query as Parquet data files of a table (not yet committed) and returns
 * their add actions with statistics. Columns are matched by name and cast to the table's types;
 * columns the query lacks are written as NULL.
 */
export async function writeDataFiles(
  ctx: TableContext,
  sourceSql: string,
  options: WriteFilesOptions,
): Promise<AddFile[]> {
  const { session, store } = ctx;
  const sourceCols = new Set((await session.describe(sourceSql)).map((c) => c.name));
  const partitionCols = options.partitionColumns;
  const dataFields = options.schema.fields.filter((f) => !partitionCols.includes(f.name));
  for (const p of partitionCols) {
    if (!sourceCols.has(p)) throw new SchemaMismatch(`the data has no partition column '${p}'`);
  }
  const required = options.schema.fields.filter((f) => !f.nullable);
  for (const f of required) {
    if (!sourceCols.has(f.name))
      throw new ProtocolViolation(`NOT NULL column '${f.name}' is missing from the data`);
  }
  if (required.length) {
    const checks = required.map(
      (f) => `count(*) FILTER (WHERE ${ident(f.name)} IS NULL) AS ${ident(f.name)}`,
    );
    const [row] = await session.all(`SELECT ${checks.join(', ')} FROM (${sourceSql})`);
    for (const f of required) {
      if (Number(row?.[f.name] ?? 0) > 0) {
        throw new ProtocolViolation(
          `NOT NULL constraint violated: column '${f.name}' has ${row?.[f.name]} null value(s)`,
        );
      }
    }
  }
  const projection = dataFields
    .map((f) =>
      sourceCols.has(f.name)
        ? `CAST(${ident(f.name)} AS ${toDuckType(f.type)}) AS ${ident(f.name)}`
        : `CAST(NULL AS ${toDuckType(f.type)}) AS ${ident(f.name)}`,
    )
    .join(', ');
  const copyOptions = [
    'FORMAT parquet',
    `COMPRESSION ${options.compression ?? 'snappy'}`,
    `FILE_SIZE_BYTES ${options.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE}`,
    "FILENAME_PATTERN 'part-{uuid}'",
    'RETURN_FILES true',
  ].join(', ');
  const staging = await localFilesOf(store).staging();
  const written: { file: string; partitionValues: Record<string, string | null> }[] = [];
  try {
    if (partitionCols.length === 0) {
      const parts = options.parts && options.parts.length > 1 ? options.parts : [sourceSql];
      const sessions = await session.connections(parts.length);
      // every copy ends before the staging folder goes, whichever fails
      const copies = await Promise.allSettled(
        parts.map((sql, i) =>
          sessions[i]!.all(
            `COPY (SELECT ${projection || '1 AS __empty'} FROM (${sql})) TO ${copyTarget(staging.file(`all-${i}`))} (${copyOptions})`,
          ),
        ),
      );
      for (const c of copies) {
        if (c.status === 'rejected') throw c.reason;
        for (const f of (c.value[0]?.Files as string[]) ?? []) written.push({ file: f, partitionValues: {} });
      }
    } else {
      const temp = `tl_stage_${randomUUID().replace(/-/g, '')}`;
      const order = partitionCols.map(ident).join(', ');
      await session.run(
        `CREATE TEMP TABLE ${temp} AS SELECT *, dense_rank() OVER (ORDER BY ${order}) AS __tl_pid FROM (${sourceSql})`,
      );
      try {
        const types = partitionCols.map((p) => options.schema.fields.find((x) => x.name === p)!.type);
        const texts = partitionCols.map(
          (p, i) => `${partitionTextSql(ident(p), types[i]!, p)} AS ${ident(p)}`,
        );
        const parts = await session.all(
          `SELECT DISTINCT __tl_pid, ${texts.join(', ')} FROM ${temp} ORDER BY __tl_pid`,
        );
        for (const part of parts) {
          const values: Record<string, string | null> = {};
          partitionCols.forEach((p, i) => {
            const text = part[p];
            values[p] = serializePartitionValue(text === null ? null : String(text), types[i]!, p);
          });
          const [res] = await session.all(
            `COPY (SELECT ${projection || '1 AS __empty'} FROM ${temp} WHERE __tl_pid = ${Number(part.__tl_pid)}) ` +
              `TO ${copyTarget(staging.file(String(part.__tl_pid)))} (${copyOptions})`,
          );
          for (const f of (res?.Files as string[]) ?? []) written.push({ file: f, partitionValues: values });
        }
      } finally {
        await session.run(`DROP TABLE IF EXISTS ${temp}`);
      }
    }
    return await placeFiles(ctx, written, options);
  } finally {
    await staging.dispose();
  }
}

/** Moves (or uploads) staged files to their final, Spark-style names and describes them as add actions. */
async function placeFiles(
  ctx: TableContext,
  written: { file: string; partitionValues: Record<string, string | null> }[],
  options: WriteFilesOptions,
): Promise<AddFile[]> {
  const stats = await collectFileStats(
    ctx.session,
    written.map((w) => w.file),
    options.schema,
  );
  const adds: AddFile[] = [];
  const codec = (options.compression ?? 'snappy').toLowerCase();
  let index = 0;
  for (const w of written) {
    const s = stats.get(w.file);
    if (!s || s.numRecords === 0) continue; // an empty write adds no file, as in Spark
    const dir = options.partitionColumns.map((p) => partitionDir(p, w.partitionValues[p] ?? null)).join('/');
    const name = `part-${String(index++).padStart(5, '0')}-${randomUUID()}-c000.${codec}.parquet`;
    const relative = dir ? `${dir}/${name}` : name;
    await ctx.store.putFile(relative, w.file);
    const meta = await ctx.store.head(relative);
    if (!meta) throw new ProtocolViolation(`data file ${relative} vanished right after it was written`);
    adds.push({
      path: encodeActionPath(relative),
      partitionValues: w.partitionValues,
      size: meta.size,
      modificationTime: meta.lastModified,
      dataChange: options.dataChange,
      stats: s.stats,
    });
  }
  return adds;
}
