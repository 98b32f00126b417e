import { literal } from '../duck/session.js';
import { SchemaMismatch } from './errors.js';
import { toDuckType, type DataType } from './schema.js';

/** Spark's name for the directory of a null partition value. */
export const NULL_PARTITION_DIR = '__HIVE_DEFAULT_PARTITION__';

/**
 * A SQL expression of the column's type for a serialised partition value (PROTOCOL.md "Partition
 * Value Serialization"); null and the empty string are NULL. Binary values are the UTF-8 bytes of
 * the text, as Spark and delta-rs read them.
 */
export function partitionValueSql(value: string | null | undefined, type: DataType): string {
  const duckType = toDuckType(type);
  if (value === null || value === undefined || value === '') return `CAST(NULL AS ${duckType})`;
  if (type === 'timestamp') {
    // 'yyyy-mm-dd hh:mm:ss[.ffffff]' (UTC, as tweetlake, delta-rs and recent Spark write it) or ISO-8601 with Z.
    const iso = value.includes('T') ? value : `${value.replace(' ', 'T')}Z`;
    return `CAST(${literal(iso)} AS TIMESTAMPTZ)`;
  }
  if (type === 'binary') return `encode(${literal(value)})`;
  return `CAST(${literal(value)} AS ${duckType})`;
}

/**
 * A SQL VARCHAR expression of a column's value as its partition value text (binary: as hex, which
 * `serializePartitionValue` finishes). Floats print as Spark prints them (NaN, Infinity, -0.0);
 * timestamps as 'yyyy-mm-dd hh:mm:ss[.ffffff]' in UTC.
 */
export function partitionTextSql(expr: string, type: DataType, column: string): string {
  if (typeof type !== 'string' || type === 'void' || type === 'variant')
    throw new SchemaMismatch(`partition column '${column}' must have a primitive type`);
  switch (type) {
    case 'boolean':
      return `CASE WHEN ${expr} THEN 'true' WHEN NOT ${expr} THEN 'false' END`;
    case 'float':
    case 'double':
      return (
        `CASE WHEN isnan(${expr}) THEN 'NaN' WHEN ${expr} = 'Infinity' THEN 'Infinity' ` +
        `WHEN ${expr} = '-Infinity' THEN '-Infinity' ELSE CAST(${expr} AS VARCHAR) END`
      );
    case 'timestamp':
      return `regexp_replace(CAST(${expr} AS VARCHAR), '[+-]\\d\\d(:\\d\\d)?$', '')`;
    case 'binary':
      return `hex(${expr})`;
    default:
      return `CAST(${expr} AS VARCHAR)`;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The partition value string of a column from `partitionTextSql`'s text: the empty string is null
 * (as Spark writes it), binary is its bytes as a UTF-8 string. Bytes that are not UTF-8 have no
 * faithful serialisation (Spark would replace them with U+FFFD): refused.
 */
export function serializePartitionValue(text: string | null, type: DataType, column: string): string | null {
  if (typeof type !== 'string')
    throw new SchemaMismatch(`partition column '${column}' must have a primitive type`);
  if (text === null || text === '') return null;
  if (type !== 'binary') return text;
  try {
    return UTF8.decode(Buffer.from(text, 'hex')) || null;
  } catch {
    throw new SchemaMismatch(
      `binary partition column '${column}' has a value that is not valid UTF-8 (hex ${text.slice(0, 64)}): ` +
        `the protocol stores binary partition values as text, so it cannot be written faithfully; ` +
        `partition by another column (e.g. hex(${column}))`,
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
