/**
 * DuckDB reports errors as text only ("<Type> Error: <message>", then an excerpt of the statement
 * with a caret). These read that text, so that callers can say what failed without quoting SQL
 * the user never wrote.
 */
import type { ErrorDomain } from '../errors.js';

/** The kind DuckDB names at the start of an error ("Parser", "Catalog", "Binder", "Out of Memory", ...). */
export function duckErrorType(message: string): string | undefined {
  return /^([A-Za-z][A-Za-z ]*?) Error: /.exec(message)?.[1];
}

/** The message without DuckDB's quote of the statement ("LINE n: ..." and the caret line under it). */
export function withoutSqlExcerpt(message: string): string {
  return message
    .replace(/\n*LINE \d+: .*(\n *\^ *)?/g, '')
    .replace(/\n{2,}/g, '\n')
    .trim();
}

/** The table name of DuckDB's "Table with name X does not exist" catalog error, if it is one. */
export function missingTableName(message: string): string | undefined {
  return /^Catalog Error: Table with name (.+?) does not exist!/.exec(message)?.[1];
}

/**
 * Who is at fault for a DuckDB failure, from the kind DuckDB names: running out of memory or failing
 * to read or write a file is outside us (external); anything else is a mistake in the SQL, which is
 * the user's when they wrote it and ours otherwise.
 */
export function sqlFailureDomain(message: string, sqlBy: 'user' | 'tweetlake'): ErrorDomain {
  const type = duckErrorType(message);
  if (type === 'Out of Memory' || type === 'IO') return 'external';
  return sqlBy === 'user' ? 'user' : 'internal';
}
