/**
 * DuckDB reports errors as text only ("<Type> Error: <message>", then an excerpt of the statement
 * with a caret). These read that text, so that callers can say what failed without quoting SQL
 * the user never wrote.
 */

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
