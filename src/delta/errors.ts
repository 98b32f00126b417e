import { TweetlakeError } from '../errors.js';

/** The path holds no Delta table (no `_delta_log` with a commit or checkpoint). */
export class TableNotFound extends TweetlakeError {
  constructor(readonly location: string) {
    super('DELTA_TABLE_NOT_FOUND', `no Delta table at ${location}: _delta_log has no commit or checkpoint`, {
      domain: 'user',
    });
  }
}

/** A table already exists where one was to be created. */
export class TableAlreadyExists extends TweetlakeError {
  constructor(readonly location: string) {
    super('DELTA_TABLE_EXISTS', `a Delta table already exists at ${location}`, { domain: 'user' });
  }
}

/** The table needs a reader feature or protocol version that tweetlake does not implement. */
export class UnsupportedReaderFeature extends TweetlakeError {
  constructor(
    readonly feature: string,
    readonly location: string,
  ) {
    super(
      'DELTA_UNSUPPORTED_READER_FEATURE',
      `unsupported reader feature '${feature}' in table ${location}: tweetlake cannot read this table correctly, ` +
        `so it refuses to (read it with Spark or delta-rs, or rewrite it without that feature)`,
      { domain: 'user' },
    );
  }
}

/** The table needs a writer feature that tweetlake cannot honour for this operation. */
export class UnsupportedWriterFeature extends TweetlakeError {
  constructor(
    readonly feature: string,
    readonly location: string,
    detail = '',
  ) {
    super(
      'DELTA_UNSUPPORTED_WRITER_FEATURE',
      `unsupported writer feature '${feature}' in table ${location}${detail ? `: ${detail}` : ''}; ` +
        `tweetlake will not write to it (write with Spark or delta-rs instead)`,
      { domain: 'user' },
    );
  }
}

/** The log is not a valid Delta log (missing commits, unreadable actions, ...). */
export class CorruptLog extends TweetlakeError {
  constructor(message: string, cause?: unknown) {
    super('DELTA_CORRUPT_LOG', message, { domain: 'external', cause });
  }
}

/** A requested version or timestamp does not exist (or is no longer reconstructible). */
export class VersionNotFound extends TweetlakeError {
  constructor(message: string) {
    super('DELTA_VERSION_NOT_FOUND', message, { domain: 'user' });
  }
}

/** Data does not fit the table's schema. */
export class SchemaMismatch extends TweetlakeError {
  constructor(message: string) {
    super('DELTA_SCHEMA_MISMATCH', message, { domain: 'user' });
  }
}

/** A write broke a table rule (append-only, NOT NULL, ...). */
export class ProtocolViolation extends TweetlakeError {
  constructor(message: string) {
    super('DELTA_PROTOCOL_VIOLATION', message, { domain: 'user' });
  }
}

/** Why a commit lost its race in a way that retrying cannot fix. */
export type ConflictKind =
  | 'ConcurrentAppend'
  | 'ConcurrentDeleteRead'
  | 'ConcurrentDeleteDelete'
  | 'MetadataChanged'
  | 'ProtocolChanged'
  | 'ConcurrentTransaction'
  | 'ConcurrentDomainMetadata'
  | 'TableCreatedConcurrently'
  | 'ConcurrentVacuum'
  | 'TooManyRetries';

/** A concurrent commit changed what this transaction relied on; the transaction did not commit. */
export class CommitConflict extends TweetlakeError {
  constructor(
    readonly kind: ConflictKind,
    readonly attemptedVersion: number,
    readonly winningVersion: number,
    detail: string,
  ) {
    super(
      'DELTA_COMMIT_CONFLICT',
      `${kind}: commit for version ${attemptedVersion} conflicts with version ${winningVersion}: ${detail}`,
      { domain: 'external', retryable: kind === 'TooManyRetries' || kind === 'ConcurrentVacuum' },
    );
  }
}
