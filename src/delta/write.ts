import { randomUUID } from 'node:crypto';
import type { DuckSession } from '../duck/session.js';
import { readerFiles } from '../duck/files.js';
import { literal } from '../duck/session.js';
import { tempStaging } from '../storage/local-files.js';
import type { Metadata, Protocol } from './actions.js';
import { CommitConflict, SchemaMismatch, TableAlreadyExists, TableNotFound } from './errors.js';
import { checkWriteSupported } from './features.js';
import {
  canWiden,
  dataColumnType,
  field,
  serializeSchema,
  toDuckType,
  typeToString,
  usesType,
  type StructType,
} from './schema.js';
import { numRecordsOf, Snapshot, type TableContext } from './snapshot.js';
import { commitOrDiscard, retryAfterVacuum, Transaction } from './transaction.js';
import { writeDataFiles } from './writer.js';

/**
 * Rows to write: a DuckDB query, or JS objects (small batches; they pass through a temporary JSON file).
 * `parts`, when given, are queries whose rows together are exactly `sql`'s (a split of its input):
 * an unpartitioned table's files are then written part by part at the same time, each on a DuckDB
 * connection of its own (a scan of one in-memory row group runs on one thread).
 */
export type DataSource =
  { sql: string; parts?: readonly string[] } | { rows: Record<string, unknown>[]; schema?: StructType };

export type SaveMode = 'append' | 'overwrite' | 'errorIfExists' | 'ignore';

export interface WriteOptions {
  mode?: SaveMode;
  /** Partition columns when the write creates the table. */
  partitionBy?: string[];
  /** Add columns the data has and the table lacks (nullable), like Spark's mergeSchema. */
  mergeSchema?: boolean;
  /** With overwrite: replace the schema by the data's. */
  overwriteSchema?: boolean;
  /** Idempotent write: skipped if the table already holds `version` (or later) for `appId`. */
  txn?: { appId: string; version: number };
  /** More txn actions in the same commit (what a streaming batch consumed of each source part). */
  txns?: { appId: string; version: number }[];
  /**
   * The txn versions the write was planned from (undefined: the app id had none): when another
   * writer has recorded one of these app ids since, the write fails with a ConcurrentTransaction
   * conflict, whether that commit came before the write read the table or while it committed.
   */
  expectedTxns?: { appId: string; version: number | undefined }[];
  /** Table properties when the write creates the table. */
  properties?: Record<string, string>;
  name?: string;
  description?: string;
  targetFileSize?: number;
  /** commitInfo operation (default WRITE). */
  operation?: string;
  operationParameters?: Record<string, unknown>;
  /** Snapshot to write on top of (saves reading the log again; must be recent). */
  snapshot?: Snapshot;
}

export interface WriteResult {
  /** The committed version, or the current one when nothing was written. */
  version: number;
  /** True when the write was skipped (txn already applied, or mode 'ignore'). */
  skipped: boolean;
  numFiles: number;
  numRows: number;
}

/** Resolves a data source to SQL over the session; `dispose` removes any temporary file. */
export async function sourceSql(
  session: DuckSession,
  source: DataSource,
): Promise<{ sql: string; parts?: readonly string[]; dispose: () => Promise<void> }> {
  if ('sql' in source)
    return { sql: source.sql, ...(source.parts ? { parts: source.parts } : {}), dispose: async () => {} };
  const staging = await tempStaging('tweetlake-rows-');
  const out = await staging.create('rows.json');
  try {
    await out.write(source.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  } finally {
    await out.close();
  }
  const file = out.path;
  const dispose = () => staging.dispose();
  if (source.schema) {
    const columns = source.schema.fields
      .map((f) => `${literal(f.name)}: ${literal(toDuckType(f.type))}`)
      .join(', ');
    return {
      sql: `SELECT * FROM read_json(${readerFiles([file])}, format='newline_delimited', columns={${columns}})`,
      dispose,
    };
  }
  if (source.rows.length === 0)
    throw new SchemaMismatch('cannot infer a schema from zero rows: pass a schema');
  return {
    sql: `SELECT * FROM read_json_auto(${readerFiles([file])}, format='newline_delimited')`,
    dispose,
  };
}

/**
 * A new table's protocol: the oldest that Spark and delta-rs read and write, or, for a schema with
 * timestamp_ntz columns, table features with timestampNtz (PROTOCOL.md "Timestamp without timezone").
 */
export function defaultProtocol(schema?: StructType): Protocol {
  if (schema && usesType(schema, 'timestamp_ntz')) {
    return {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz'],
      writerFeatures: ['timestampNtz'],
    };
  }
  return { minReaderVersion: 1, minWriterVersion: 2 };
}

/** Metadata of a new table. */
export function newMetadata(
  schema: StructType,
  partitionColumns: string[],
  properties: Record<string, string> = {},
  name?: string,
  description?: string,
): Metadata {
  for (const p of partitionColumns) {
    if (!schema.fields.some((f) => f.name === p))
      throw new SchemaMismatch(`partition column '${p}' is not in the schema`);
  }
  return {
    id: randomUUID(),
    ...(name ? { name } : {}),
    ...(description ? { description } : {}),
    format: { provider: 'parquet', options: {} },
    schemaString: serializeSchema(schema),
    partitionColumns,
    configuration: properties,
    createdTime: Date.now(),
  };
}

/** Options of a new table: partition columns, table properties, name and description. */
export interface CreateTableOptions {
  partitionBy?: string[];
  properties?: Record<string, string>;
  name?: string;
  description?: string;
}

/** Creates an empty table (version 0). Fails if one exists. */
export async function createTable(
  ctx: TableContext,
  schema: StructType,
  options: CreateTableOptions = {},
): Promise<number> {
  const txn = new Transaction(ctx, undefined, {
    operation: 'CREATE TABLE',
    operationParameters: {
      partitionBy: JSON.stringify(options.partitionBy ?? []),
      properties: JSON.stringify(options.properties ?? {}),
    },
  });
  txn.updateProtocol(defaultProtocol(schema));
  txn.updateMetadata(
    newMetadata(schema, options.partitionBy ?? [], options.properties, options.name, options.description),
  );
  try {
    return (await txn.commit()).version;
  } catch (err) {
    if (err instanceof CommitConflict && err.kind === 'TableCreatedConcurrently')
      throw new TableAlreadyExists(ctx.store.root);
    throw err;
  }
}

async function currentSnapshot(ctx: TableContext, given?: Snapshot): Promise<Snapshot | undefined> {
  if (given) return given.update();
  try {
    return await Snapshot.load(ctx);
  } catch (err) {
    if (err instanceof TableNotFound) return undefined;
    throw err;
  }
}

/** Writes rows to a table, creating it when missing (Spark's `df.write.format("delta").mode(...).save(path)`). */
export function writeTable(
  ctx: TableContext,
  source: DataSource,
  options: WriteOptions = {},
): Promise<WriteResult> {
  return retryAfterVacuum(() => writeOnce(ctx, source, options));
}

async function writeOnce(ctx: TableContext, source: DataSource, options: WriteOptions): Promise<WriteResult> {
  const mode = options.mode ?? 'append';
  const snapshot = await currentSnapshot(ctx, options.snapshot);
  if (snapshot && mode === 'errorIfExists') throw new TableAlreadyExists(ctx.store.root);
  if (snapshot && mode === 'ignore')
    return { version: snapshot.version, skipped: true, numFiles: 0, numRows: 0 };
  if (snapshot && options.txn && (snapshot.txnVersion(options.txn.appId) ?? -1) >= options.txn.version) {
    return { version: snapshot.version, skipped: true, numFiles: 0, numRows: 0 };
  }
  for (const e of options.expectedTxns ?? []) {
    const now = snapshot?.txnVersion(e.appId);
    if (now !== e.version)
      throw new CommitConflict(
        'ConcurrentTransaction',
        (snapshot?.version ?? -1) + 1,
        snapshot?.version ?? -1,
        `application '${e.appId}' committed version ${now} since this write was planned at ${e.version ?? 'none'}`,
      );
  }
  const withSchema =
    'rows' in source && !source.schema && snapshot ? { ...source, schema: snapshot.schema } : source;
  const src = await sourceSql(ctx.session, withSchema);
  try {
    const described = await ctx.session.describe(src.sql);
    const dataSchema: StructType = {
      type: 'struct',
      fields: described.map((c) => field(c.name, dataColumnType(c.name, c.type, snapshot?.schema))),
    };
    const overwrite = mode === 'overwrite';
    let schema: StructType;
    let metadata: Metadata | undefined;
    let protocol: Protocol | undefined;
    if (!snapshot) {
      schema = dataSchema;
      metadata = newMetadata(
        schema,
        options.partitionBy ?? [],
        options.properties,
        options.name,
        options.description,
      );
      protocol = defaultProtocol(schema);
    } else {
      checkWriteSupported(snapshot.protocol, snapshot.metadata, ctx.store.root, { removesData: overwrite });
      if (
        options.partitionBy &&
        options.partitionBy.join() !== snapshot.partitionColumns.join() &&
        !options.overwriteSchema
      ) {
        throw new SchemaMismatch(
          `the table is partitioned by [${snapshot.partitionColumns.join(', ')}], not [${options.partitionBy.join(', ')}]`,
        );
      }
      if (overwrite && options.overwriteSchema) {
        schema = dataSchema;
        metadata = {
          ...snapshot.metadata,
          schemaString: serializeSchema(schema),
          partitionColumns: options.partitionBy ?? snapshot.partitionColumns,
        };
      } else {
        schema = mergeSchemas(snapshot.schema, dataSchema, options.mergeSchema ?? false, ctx.store.root);
        if (schema !== snapshot.schema)
          metadata = { ...snapshot.metadata, schemaString: serializeSchema(schema) };
      }
    }
    const partitionColumns = metadata?.partitionColumns ?? snapshot!.partitionColumns;
    const adds = await writeDataFiles(ctx, src.sql, {
      schema,
      partitionColumns,
      targetFileSize: options.targetFileSize,
      compression: (metadata ?? snapshot!.metadata).configuration['delta.parquet.compression.codec'],
      dataChange: true,
      ...(src.parts ? { parts: src.parts } : {}),
    });
    if (snapshot && !overwrite && !metadata && adds.length === 0 && !options.txn && !options.txns?.length) {
      // Nothing to add and no batch to record: no commit. With a txn the commit is made anyway, as
      // Spark's streaming sink does for an empty batch, so the table always knows the query's last batch
      // (or, with txns only, what a worker of a group consumed of each partition).
      return { version: snapshot.version, skipped: false, numFiles: 0, numRows: 0 };
    }
    const txn = new Transaction(ctx, snapshot, {
      operation: options.operation ?? (snapshot ? 'WRITE' : 'CREATE TABLE AS SELECT'),
      operationParameters: options.operationParameters ?? {
        mode: mode === 'overwrite' ? 'Overwrite' : 'Append',
        partitionBy: JSON.stringify(partitionColumns),
      },
    });
    if (protocol) txn.updateProtocol(protocol);
    if (metadata) txn.updateMetadata(metadata);
    if (overwrite && snapshot) txn.markReadWholeTable().removeFiles(snapshot.files, true);
    if (options.txn) txn.setTransaction(options.txn.appId, options.txn.version);
    for (const t of options.txns ?? []) txn.setTransaction(t.appId, t.version);
    txn.addFiles(adds);
    const result = await commitOrDiscard(txn, adds);
    const numRows = adds.reduce((n, a) => n + (numRecordsOf(a) ?? 0), 0);
    return { version: result.version, skipped: false, numFiles: adds.length, numRows };
  } finally {
    await src.dispose();
  }
}

/**
 * The table schema after a write of `data`: unchanged when the data fits; with the data's new
 * columns appended (nullable) when `merge` is set; otherwise a SchemaMismatch naming the difference.
 */
export function mergeSchemas(
  table: StructType,
  data: StructType,
  merge: boolean,
  location: string,
): StructType {
  const added = [];
  for (const f of data.fields) {
    const target = table.fields.find((t) => t.name.toLowerCase() === f.name.toLowerCase());
    if (!target) {
      added.push(f);
      continue;
    }
    if (target.name !== f.name) {
      throw new SchemaMismatch(`column '${f.name}' differs only in case from the table's '${target.name}'`);
    }
    if (!canWiden(f.type, target.type)) {
      throw new SchemaMismatch(
        `column '${f.name}' is ${typeToString(f.type)} in the data but ${typeToString(target.type)} in table ${location}`,
      );
    }
  }
  if (added.length === 0) return table;
  if (!merge) {
    throw new SchemaMismatch(
      `the data has columns the table ${location} does not: ${added.map((f) => f.name).join(', ')}; ` +
        `write with mergeSchema to add them`,
    );
  }
  return { type: 'struct', fields: [...table.fields, ...added.map((f) => ({ ...f, nullable: true }))] };
}
