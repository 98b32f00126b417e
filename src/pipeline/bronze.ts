import { literal } from '../duck/session.js';
import { withByteOffsetsSql } from '../engine/raw-records.js';

/**
 * Whether a raw record is a JSON object (SQL over the raw-records relation). json_type fails on
 * invalid JSON (and DuckDB may evaluate every operand of AND/OR on every row): `try` makes that NULL,
 * in one parse where `json_valid` first took two (30 against 45 ms per 100k records); coalesce makes
 * the result never NULL (so NOT works).
 */
const IS_OBJECT = `coalesce(file_error IS NULL AND try(json_type(line)) = 'OBJECT', false)`;

function jsonKey(column: string): string {
  return `[${literal(column)}]`;
}

/**
 * Fields the schema does not know, and known fields whose value is not a string, as a JSON object
 * text (Auto Loader's `_rescued_data`); NULL when nothing was rescued. A JSON merge patch that sets
 * a key to null removes it, so patching the record with {known: null} leaves the rest.
 */
export function rescuedDataSql(columns: readonly string[]): string {
  const patch = columns
    .map((c) => {
      const k = jsonKey(c);
      return `${literal(c)}, CASE WHEN json_type(line, ${k})[1] IN ('VARCHAR', 'NULL') THEN NULL ELSE json_extract(line, ${k})[1] END`;
    })
    .join(', ');
  const rest = `CAST(json_merge_patch(line, json_object(${patch})) AS VARCHAR)`;
  return `CASE WHEN ${rest} = '{}' THEN NULL ELSE ${rest} END`;
}

/** Bronze rows of a batch of raw records: the schema's columns, rescued data and provenance. */
export function bronzeRowsSql(raw: string, columns: readonly string[], processingTime: string): string {
  // One parse for the types and one for the values of all columns; rescued data only where needed.
  const keys = `[${columns.map(literal).join(', ')}]`;
  const cols = columns
    .map((c, i) => `CASE WHEN t[${i + 1}] = 'VARCHAR' THEN v[${i + 1}] END AS "${c.replace(/"/g, '""')}"`)
    .join(', ');
  const clean = `list_has_all(${keys}, json_keys(line)) AND list_bool_and(list_transform(t, x -> x IS NULL OR x IN ('VARCHAR', 'NULL')))`;
  return `SELECT ${cols}, CASE WHEN ${clean} THEN NULL ELSE ${rescuedDataSql(columns)} END AS _rescued_data, source_file,
      CAST(${literal(processingTime)} AS TIMESTAMPTZ) AS processing_time
    FROM (SELECT line, source_file, json_type(line, ${keys}) AS t, json_extract_string(line, ${keys}) AS v FROM ${raw} WHERE ${IS_OBJECT})`;
}

/**
 * Quarantine rows of a batch: records that are not JSON objects, and records or files the reader
 * could not read (`file_error`), with where each starts in its file and, when it is not UTF-8 text,
 * its bytes in base64.
 */
export function quarantineRowsSql(raw: string, stream: string, processingTime: string): string {
  return `SELECT source_file, line_number, line AS raw_text,
      CASE WHEN file_error IS NOT NULL THEN file_error
           WHEN NOT json_valid(line) THEN 'not valid JSON'
           ELSE 'a JSON ' || CASE json_type(line) WHEN 'VARCHAR' THEN 'string' WHEN 'ARRAY' THEN 'array'
             WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' ELSE 'number' END || ', not an object' END AS error,
      ${literal(stream)} AS stream, CAST(${literal(processingTime)} AS TIMESTAMPTZ) AS quarantined_at,
      byte_offset, raw_bytes
    FROM (${withByteOffsetsSql(raw, `NOT ${IS_OBJECT}`)})`;
}

/** Keys of the batch's records that are not columns yet (for schema evolution). */
export function newKeysSql(raw: string, columns: readonly string[]): string {
  const known = `[${columns.map(literal).join(', ')}]`;
  return `SELECT DISTINCT k FROM (SELECT unnest(json_keys(line)) AS k FROM ${raw} WHERE ${IS_OBJECT})
    WHERE NOT list_contains(${known}, k) ORDER BY k`;
}
