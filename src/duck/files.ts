/**
 * Paths handed to DuckDB, made literal. DuckDB's file readers (read_parquet, read_json, read_blob,
 * parquet_metadata, ...) take `*`, `?` and `[...]` anywhere in a path as glob patterns and expand a
 * leading `~` to $HOME; backslash escapes nothing. A one-character class (`[*]`, `[?]`, `[[]`) matches
 * the character itself, in file and directory names alike (measured on DuckDB 1.5.6). COPY ... TO
 * does not glob its target, so a target only needs to be absolute (no `~`).
 */
import * as nodePath from 'node:path';
import { literal } from './session.js';

const GLOB_CHARS = /[*?[]/g;
const URI = /^[a-z][a-z0-9+.-]*:\/\//i;

function absolute(path: string): string {
  return URI.test(path) ? path : nodePath.resolve(path);
}

/** A SQL literal of a file path that DuckDB's readers open as exactly that one file. */
export function fileLiteral(path: string): string {
  return literal(absolute(path).replace(GLOB_CHARS, (c) => `[${c}]`));
}

/** A SQL list of `fileLiteral`s, e.g. for read_parquet([...]). */
export function fileList(paths: string[]): string {
  return `[${paths.map(fileLiteral).join(', ')}]`;
}

/**
 * The files argument of read_parquet, read_json or read_csv over exactly these files: literal names, and no
 * columns made up from `key=value` folder names in their paths (DuckDB adds them by default, and
 * they replace the file's own columns of the same name). read_blob refuses the option: give it a
 * `fileList` and select its columns by name.
 */
export function readerFiles(paths: string[]): string {
  return `${fileList(paths)}, hive_partitioning=false`;
}

/** A SQL literal of a COPY ... TO target (DuckDB writes it as named, but would expand a leading `~`). */
export function copyTarget(path: string): string {
  return literal(absolute(path));
}
