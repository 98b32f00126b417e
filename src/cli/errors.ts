import { CommanderError } from 'commander';
import { SqlError } from '../duck/session.js';
import { StreamingQueryException } from '../engine/query.js';
import { duckErrorType, sqlFailureDomain, withoutSqlExcerpt } from '../duck/error-text.js';
import { TweetlakeError, errorMessage, type ErrorDomain } from '../errors.js';
import { redactSecrets } from '../redact.js';

/** Exit codes by kind of failure (docs/operations.md has the table). */
export const EXIT_CODES = {
  ok: 0,
  /** Bad flags or arguments, or input the user can fix (a wrong path, query, model name). */
  user: 2,
  /** Something outside tweetlake failed: the file system, an MLflow server, the network. */
  external: 3,
  /** A bug of ours (EX_SOFTWARE). */
  internal: 70,
  /** Stopped by Ctrl-C (128 + SIGINT); SIGTERM gives 143. */
  interrupted: 130,
} as const;

/** A mistake in what the user typed: a flag value, an argument. */
export class UsageError extends TweetlakeError {
  constructor(message: string, code = 'USAGE') {
    super(code, message, { domain: 'user' });
  }
}

/** The user's own SQL failed: DuckDB's message, which quotes only what the user wrote. */
export class QueryError extends TweetlakeError {
  constructor(message: string, cause?: unknown) {
    const duck = cause instanceof Error ? cause.message : message;
    super('SQL_QUERY', message, { domain: sqlFailureDomain(duck, 'user'), cause });
  }
}

/** The run was stopped by a signal before it finished. */
export class Interrupted extends TweetlakeError {
  constructor(
    readonly signal: NodeJS.Signals,
    message = `interrupted by ${signal}`,
  ) {
    super('INTERRUPTED', message, { domain: 'user' });
  }

  get exitCode(): number {
    return this.signal === 'SIGTERM' ? 143 : EXIT_CODES.interrupted;
  }
}

/** Node's file-system error codes that mean "the path you gave is not usable". */
const PATH_CODES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
};

/** What the CLI prints for a failure, and the exit code it returns. */
export interface PresentedError {
  code: string;
  domain: ErrorDomain;
  message: string;
  exitCode: number;
}

function systemError(err: unknown): { code: string; path?: string } | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  return typeof e.code === 'string' && typeof e.syscall === 'string'
    ? { code: e.code, ...(e.path ? { path: e.path } : {}) }
    : undefined;
}

/**
 * Turns any failure into the user's terms: the error's code and domain, a message without our
 * internal SQL or secrets, and the exit code of its domain. Unknown errors are bugs of ours.
 */
export function presentError(err: unknown): PresentedError {
  if (err instanceof Interrupted)
    return { code: err.code, domain: 'user', message: err.message, exitCode: err.exitCode };
  if (err instanceof CommanderError)
    return { code: err.code, domain: 'user', message: err.message, exitCode: EXIT_CODES.user };
  if (err instanceof QueryError)
    return {
      code: err.code,
      domain: err.domain,
      message: redactSecrets(err.message),
      exitCode: EXIT_CODES[err.domain],
    };
  if (err instanceof SqlError) return presentSqlError(err, err);
  if (err instanceof StreamingQueryException && sqlCause(err)) return presentSqlError(err, sqlCause(err)!);
  if (err instanceof TweetlakeError) {
    return {
      code: err.code,
      domain: err.domain,
      // A message built on a DuckDB error may still quote our SQL.
      message: redactSecrets(withoutSqlExcerpt(err.message)),
      exitCode: EXIT_CODES[err.domain],
    };
  }
  const sys = systemError(err);
  if (sys) {
    const what = PATH_CODES[sys.code];
    return {
      code: sys.code,
      domain: what ? 'user' : 'external',
      message: redactSecrets(what && sys.path ? `${sys.path}: ${what}` : errorMessage(err)),
      exitCode: what ? EXIT_CODES.user : EXIT_CODES.external,
    };
  }
  return {
    code: 'INTERNAL',
    domain: 'internal',
    message: redactSecrets(
      `${errorMessage(err)} (an internal error: TWEETLAKE_DEBUG=1 prints its stack trace; please report it)`,
    ),
    exitCode: EXIT_CODES.internal,
  };
}

/** The DuckDB failure behind an error (itself, or a cause of it), if any; a stream takes its failure's domain. */
function sqlCause(err: unknown): SqlError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++)
    if (e instanceof SqlError) return e;
  return undefined;
}

/**
 * A DuckDB failure on a statement of ours (the user's own SQL is a QueryError): DuckDB quotes the
 * statement, which holds internal file paths, so the quote goes. Running out of memory or failing
 * to read a file is something outside us; any other failure of our SQL is a bug of ours.
 */
function presentSqlError(err: TweetlakeError, sql: SqlError): PresentedError {
  const type = duckErrorType(sql.message);
  const domain = sqlFailureDomain(sql.message, 'tweetlake');
  const hint =
    type === 'Out of Memory'
      ? ' (raise duckdb.memoryLimit / TWEETLAKE_DUCKDB_MEMORY_LIMIT, or lower maxFilesPerTrigger)'
      : domain === 'internal'
        ? ' (an internal error: TWEETLAKE_DEBUG=1 prints its stack trace; please report it)'
        : '';
  return {
    code: err.code,
    domain,
    message: redactSecrets(withoutSqlExcerpt(err.message) + hint),
    exitCode: EXIT_CODES[domain],
  };
}
