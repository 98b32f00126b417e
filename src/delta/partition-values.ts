import { literal } from '../duck/session.js';
import { SchemaMismatch } from './errors.js';
import { isDecimal, toDuckType, type DataType } from './schema.js';

/** Spark's name for the directory of a null partition value. */
export const NULL_PARTITION_DIR = '__HIVE_DEFAULT_PARTITION__';

/**
 * A SQL expression of the column's type for a serialised partition value (PROTOCOL.md "Partition
 * Value Serialization"); null and the empty string are NULL.
 */
export function partitionValueSql(value: string | null | undefined, type: DataType): string {
  const duckType = toDuckType(type);
  if (value === null || value === undefined || value === '') return `CAST(NULL AS ${duckType})`;
  if (type === 'timestamp') {
    // 'yyyy-mm-dd hh:mm:ss[.ffffff]' (UTC, as tweetlake, delta-rs and recent Spark write it) or ISO-8601 with Z.
    const iso = value.includes('T') ? value : `${value.replace(' ', 'T')}Z`;
    return `CAST(${literal(iso)} AS TIMESTAMPTZ)`;
  }
  if (type === 'binary') return `CAST(${literal(value)} AS BLOB)`;
  return `CAST(${literal(value)} AS ${duckType})`;
}

/** Serialises a value read from DuckDB (JSON-shaped) as a partition value string. */
export function serializePartitionValue(value: unknown, type: DataType, column: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof type !== 'string')
    throw new SchemaMismatch(`partition column '${column}' must have a primitive type`);
  switch (type) {
    case 'string':
      return String(value) === '' ? null : String(value);
    case 'boolean':
      return value === true || value === 'true' ? 'true' : 'false';
    case 'date':
      return String(value).slice(0, 10);
    case 'timestamp':
    case 'timestamp_ntz': {
      // DuckDB prints '2020-01-01 10:00:00.123+00'; the protocol wants 'yyyy-mm-dd hh:mm:ss[.ffffff]'.
      const text = String(value).replace(/[+-]\d\d(:\d\d)?$/, '');
      return text;
    }
    default:
      if (isDecimal(type) || typeof value === 'number' || typeof value === 'string') return String(value);
      throw new SchemaMismatch(
        `cannot serialise partition value ${JSON.stringify(value)} of column '${column}'`,
      );
  }
}

// Spark's escapePathName set: control characters and the characters that mean something in a path.
// eslint-disable-next-line no-control-regex
const ESCAPE = /[\u0000-\u001f"#%'*/:=?\\\u007f{}[\]^ <>|]/g;

/** The directory segment Spark writes for a partition value (`col=escaped`). */
export function partitionDir(column: string, value: string | null): string {
  const esc = (s: string) =>
    s.replace(ESCAPE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `${esc(column)}=${value === null ? NULL_PARTITION_DIR : esc(value)}`;
}
