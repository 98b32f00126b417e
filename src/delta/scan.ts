import { randomUUID } from 'node:crypto';
import { readerFiles } from '../duck/files.js';
import { ident, literal, SCRATCH_SCHEMA } from '../duck/session.js';
import { localFilesOf } from '../storage/local-files.js';
import { decodeActionPath, type AddFile } from './actions.js';
import { deletionVectorPath, readDeletionVector } from './deletion-vectors.js';
import { UnsupportedReaderFeature } from './errors.js';
import { explainReadFailure } from './file-check.js';
import { partitionValueSql } from './partition-values.js';
import {
  physicalName,
  toDuckType,
  type ColumnMappingMode,
  type DataType,
  type StructField,
} from './schema.js';
import type { Snapshot } from './snapshot.js';

/** A SQL query over one snapshot's rows, plus the clean-up of anything it needed (deletion vectors). */
export interface ScanPlan {
  sql: string;
  /** Output columns, in table order. */
  columns: string[];
  dispose(): Promise<void>;
}

export interface ScanOptions {
  /** Only these columns (default: all). */
  columns?: string[];
  /** Only these files of the snapshot (default: all active files). */
  files?: AddFile[];
  /** Add `__tl_file` (path of the data file) and `__tl_row` (row index in it) columns. */
  withFileRow?: boolean;
}

interface FileGroup {
  files: AddFile[];
  /** The group's partition values, by logical column name. */
  values: Record<string, string | null>;
  /** Whether rows carry their file and row number (for deletion vectors or `withFileRow`). */
  dv: boolean;
}

/** Builds the DuckDB SQL that reads a snapshot's data files with partition values and deletion vectors applied. */
export async function planScan(snapshot: Snapshot, options: ScanOptions = {}): Promise<ScanPlan> {
  const { store, session } = snapshot.context;
  const mode = snapshot.columnMappingMode;
  if (mode === 'id') throw new UnsupportedReaderFeature('columnMapping (id mode)', store.root);
  const fields = snapshot.schema.fields.filter(
    (f) => f.type !== 'void' && (!options.columns || options.columns.includes(f.name)),
  );
  const files = options.files ?? snapshot.files;
  const columns = fields.map((f) => f.name);
  if (files.length === 0) {
    const extra = options.withFileRow
      ? ', CAST(NULL AS VARCHAR) AS __tl_file, CAST(NULL AS BIGINT) AS __tl_row'
      : '';
    const cols = fields.map((f) => `CAST(NULL AS ${toDuckType(f.type)}) AS ${ident(f.name)}`).join(', ');
    return { sql: `SELECT ${cols || '1 AS __empty'}${extra} WHERE false`, columns, dispose: async () => {} };
  }
  const opened = await openDataFiles(snapshot, files);
  let dvTable: string | undefined;
  const dispose = async () => {
    if (dvTable) await session.run(`DROP TABLE IF EXISTS ${dvTable}`);
    await opened.release();
  };
  try {
    dvTable = await deletionVectorTable(snapshot, files, opened.local);
    const parts: string[] = [];
    for (const group of groupFiles(snapshot, files, fields, options.withFileRow ?? false)) {
      parts.push(
        await groupSql(snapshot, group, fields, options.withFileRow ?? false, dvTable, opened.local),
      );
    }
    const sql = parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' UNION ALL ');
    return { sql, columns, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** The data files as local files DuckDB can read (the one way a scan reaches them), by action path. */
async function openDataFiles(
  snapshot: Snapshot,
  files: AddFile[],
): Promise<{ local: (f: AddFile) => string; release: () => Promise<void> }> {
  const { store } = snapshot.context;
  const paths = [...new Set(files.map((f) => decodeActionPath(f.path)))];
  let opened;
  try {
    opened = await localFilesOf(store).open(paths);
  } catch (err) {
    throw await explainReadFailure(
      snapshot,
      files.map((f) => ({ path: decodeActionPath(f.path), size: f.size })),
      err,
    );
  }
  const byPath = new Map(paths.map((p, i) => [p, opened.files[i]!]));
  return { local: (f) => byPath.get(decodeActionPath(f.path))!, release: () => opened.release() };
}

/** Groups files by partition values and by whether they carry a deletion vector. */
function groupFiles(
  snapshot: Snapshot,
  files: AddFile[],
  fields: StructField[],
  withFileRow: boolean,
): FileGroup[] {
  const partitionCols = new Set(snapshot.partitionColumns);
  const groups = new Map<string, FileGroup>();
  for (const f of files) {
    const values: Record<string, string | null> = {};
    for (const field of fields) {
      if (partitionCols.has(field.name))
        values[field.name] = f.partitionValues[physicalName(field, snapshot.columnMappingMode)] ?? null;
    }
    const dv = !!f.deletionVector || withFileRow;
    const key = `${dv}|${JSON.stringify(values)}`;
    const group = groups.get(key) ?? { files: [], values, dv };
    group.files.push(f);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** A scratch table of (file, row index) pairs the files' deletion vectors remove, or undefined if none has one. */
async function deletionVectorTable(
  snapshot: Snapshot,
  files: AddFile[],
  local: (f: AddFile) => string,
): Promise<string | undefined> {
  const { store, session } = snapshot.context;
  const withDv = files.filter((f) => f.deletionVector);
  if (withDv.length === 0) return undefined;
  const table = `${SCRATCH_SCHEMA}.${ident(`dv_${randomUUID().replace(/-/g, '')}`)}`;
  await session.run(`CREATE TABLE ${table} (file VARCHAR, row_index BIGINT)`);
  try {
    for (const f of withDv) {
      const dv = f.deletionVector!;
      let rows: number[];
      try {
        rows = await readDeletionVector(store, dv);
      } catch (err) {
        const dvFile = dv.storageType === 'i' ? [] : [{ path: deletionVectorPath(dv) }];
        throw await explainReadFailure(snapshot, dvFile, err, false);
      }
      const file = literal(local(f));
      for (let i = 0; i < rows.length; i += 10_000) {
        const values = rows
          .slice(i, i + 10_000)
          .map((r) => `(${file}, ${r})`)
          .join(', ');
        await session.run(`INSERT INTO ${table} VALUES ${values}`);
      }
    }
  } catch (err) {
    await session.run(`DROP TABLE IF EXISTS ${table}`);
    throw err;
  }
  return table;
}

/**
 * The SQL of one group: its files read literally (DuckDB reads every footer here, so a missing,
 * unreadable or broken file fails now, as a typed error naming it), partition values as typed
 * literals, columns cast to the table schema, and rows of deletion vectors left out.
 */
async function groupSql(
  snapshot: Snapshot,
  group: FileGroup,
  fields: StructField[],
  withFileRow: boolean,
  dvTable: string | undefined,
  local: (f: AddFile) => string,
): Promise<string> {
  const { session } = snapshot.context;
  const mode = snapshot.columnMappingMode;
  const partitionCols = new Set(snapshot.partitionColumns);
  const paths = group.files.map(local);
  const reader = `read_parquet(${readerFiles(paths)}, union_by_name=true${
    group.dv ? `, filename='__tl_file', file_row_number=true` : ''
  })`;
  let described;
  try {
    described = await session.describe(`SELECT * FROM ${reader}`);
  } catch (err) {
    const needed = group.files.map((f) => ({ path: decodeActionPath(f.path), size: f.size }));
    throw await explainReadFailure(snapshot, needed, err);
  }
  const present = new Set(described.map((c) => c.name));
  const select = fields.map((f) => {
    if (partitionCols.has(f.name))
      return `${partitionValueSql(group.values[f.name], f.type)} AS ${ident(f.name)}`;
    const phys = physicalName(f, mode);
    if (!present.has(phys)) return `CAST(NULL AS ${toDuckType(f.type)}) AS ${ident(f.name)}`;
    return `CAST(${logicalExpr(ident(phys), f.type, mode)} AS ${toDuckType(f.type)}) AS ${ident(f.name)}`;
  });
  if (withFileRow) select.push('__tl_file', 'file_row_number AS __tl_row');
  let sql = `SELECT ${select.join(', ') || '1 AS __empty'} FROM ${reader} AS d`;
  if (group.dv && dvTable) {
    sql += ` WHERE NOT EXISTS (SELECT 1 FROM ${dvTable} AS x WHERE x.file = d.__tl_file AND x.row_index = d.file_row_number)`;
  }
  return sql;
}

/** Rebuilds nested values with logical field names when the files use physical (column-mapped) names. */
function logicalExpr(expr: string, type: DataType, mode: ColumnMappingMode): string {
  if (mode === 'none' || typeof type === 'string' || !hasStruct(type)) return expr;
  if (type.type === 'struct') {
    const members = type.fields
      .map(
        (f: StructField) =>
          `${ident(f.name)} := ${logicalExpr(`${expr}.${ident(physicalName(f, mode))}`, f.type, mode)}`,
      )
      .join(', ');
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${members}) END`;
  }
  if (type.type === 'array')
    return `list_transform(${expr}, x -> ${logicalExpr('x', type.elementType, mode)})`;
  return `map_from_entries(list_transform(map_entries(${expr}), e -> {'key': ${logicalExpr(
    'e.key',
    type.keyType,
    mode,
  )}, 'value': ${logicalExpr('e.value', type.valueType, mode)}}))`;
}

function hasStruct(type: DataType): boolean {
  if (typeof type === 'string') return false;
  if (type.type === 'struct') return true;
  if (type.type === 'array') return hasStruct(type.elementType);
  return hasStruct(type.keyType) || hasStruct(type.valueType);
}
