import type { Command } from 'commander';
import { missingTableName, duckErrorType } from '../duck/error-text.js';
import { DuckSession, SqlError } from '../duck/session.js';
import { lakehousePaths, TABLE_NAMES } from '../pipeline/paths.js';
import { DeltaViews } from '../sql/views.js';
import { QueryError } from './errors.js';
import { parseFormat, renderTable } from './format.js';
import { configFor, lakehouseOptions, positiveInt } from './options.js';

/** DuckDB's message for the user's statement, with the lakehouse's tables where DuckDB guesses others. */
function queryError(err: SqlError, root: string, present: string[]): QueryError {
  const missing = missingTableName(err.message);
  if (missing === undefined) return new QueryError(err.message, err);
  const known = TABLE_NAMES as readonly string[];
  const excerpt = /\n\s*LINE \d+: [\s\S]*$/.exec(err.message)?.[0] ?? '';
  const tables = present.length ? present.join(', ') : 'none yet';
  const head = known.includes(missing)
    ? `table ${missing} has not been written yet in ${root}: run \`tweetlake run\` first (tables there: ${tables})`
    : `no table named ${missing}; the tables of ${root} are: ${tables}`;
  return new QueryError(`${head}${excerpt}`, err);
}

/**
 * Runs one statement of the user's over the lakehouse views and prints its rows. The statement is
 * checked on its own first, so errors quote it as typed; queries are then wrapped to bound the
 * rows (or to turn them to JSON), and a statement that cannot be wrapped (PRAGMA, EXPLAIN, COPY)
 * runs as typed.
 */
async function printQuery(
  session: DuckSession,
  query: string,
  options: { format: 'table' | 'jsonl' | 'json'; limit: number; root: string; present: string[] },
  out: NodeJS.WritableStream,
): Promise<void> {
  let columns: string[];
  try {
    columns = (await session.describe(query)).map((c) => c.name);
  } catch (err) {
    if (err instanceof SqlError) throw queryError(err, options.root, options.present);
    throw err;
  }
  const body = query.trim().replace(/;+\s*$/, '');
  try {
    if (options.format === 'table') {
      const rows = await session.all(`SELECT * FROM (${body}) q LIMIT ${options.limit}`);
      out.write(renderTable(rows, rows.length ? undefined : columns));
      out.write(`(${rows.length} row${rows.length === 1 ? '' : 's'})\n`);
    } else {
      for await (const chunk of session.stream(`SELECT to_json(q) AS j FROM (${body}) q`))
        for (const row of chunk) out.write(`${row.j}\n`);
    }
    return;
  } catch (err) {
    if (!(err instanceof SqlError)) throw err;
    if (duckErrorType(err.message) !== 'Parser')
      throw new QueryError(err.message.split('\nLINE ')[0]!.trim(), err);
  }
  // Not a query that can be a subquery: run it as typed.
  const rows = [];
  try {
    for await (const chunk of session.stream(query)) {
      if (options.format !== 'table') for (const row of chunk) out.write(`${JSON.stringify(row)}\n`);
      else rows.push(...chunk.slice(0, options.limit - rows.length));
      if (rows.length >= options.limit) break;
    }
  } catch (err) {
    if (err instanceof SqlError) throw new QueryError(err.message, err);
    throw err;
  }
  if (options.format === 'table') {
    out.write(renderTable(rows, rows.length ? undefined : columns));
    out.write(`(${rows.length} row${rows.length === 1 ? '' : 's'})\n`);
  }
}

/** `tweetlake sql <query>`. */
export function registerSqlCommand(program: Command, out: NodeJS.WritableStream): void {
  lakehouseOptions(
    program
      .command('sql <query>')
      .description(`SQL (DuckDB dialect) over the tables by name: ${TABLE_NAMES.join(', ')}`),
  )
    .option('--format <fmt>', 'table | jsonl', 'table')
    .option('--limit <n>', 'print at most n rows (table format)', '100')
    .action(
      async (query: string, opts: { root?: string; config?: string; format: string; limit: string }) => {
        const config = configFor(opts);
        const format = parseFormat(opts.format);
        const limit = positiveInt(opts.limit, '--limit');
        const paths = lakehousePaths(config.root);
        const session = await DuckSession.create();
        const views = new DeltaViews(session);
        try {
          const present: string[] = [];
          for (const t of TABLE_NAMES) if (await views.register(t, paths.tables[t])) present.push(t);
          await printQuery(session, query, { format, limit, root: paths.root, present }, out);
        } finally {
          await views.dispose();
          session.close();
        }
      },
    );
}
