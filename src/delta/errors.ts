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

/** Why a data file that a version needs is gone, when the log says. */
export interface FileGoneReason {
  /** The version that removed the file from the table. */
  removedIn?: number;
  /** The VACUUM (its VACUUM START version) that ran after the removal. */
  vacuumedIn?: number;
}

/** A data file (or deletion vector file) that a table version needs does not exist. */
export class DataFileNotFound extends TweetlakeError {
  constructor(
    readonly location: string,
    readonly version: number,
    readonly file: string,
    readonly reason: FileGoneReason = {},
    cause?: unknown,
  ) {
    super('DELTA_DATA_FILE_NOT_FOUND', DataFileNotFound.describe(location, version, file, reason), {
      domain: 'user',
      cause,
    });
  }

  private static describe(location: string, version: number, file: string, r: FileGoneReason): string {
    const head = `version ${version} of table ${location} cannot be read: its file ${file} is gone`;
    if (r.removedIn === undefined) {
      return (
        `${head}, although the table still uses it (it was deleted outside Delta): restore the file, ` +
        `or read a version from before it was added`
      );
    }
    const how =
      r.vacuumedIn === undefined
        ? 'and then deleted'
        : `and deleted by the VACUUM of version ${r.vacuumedIn}`;
    return (
      `${head}: it was removed from the table in version ${r.removedIn} ${how}, so time travel to ` +
      `versions before ${r.removedIn} is no longer possible. Versions from ${r.removedIn} on do not need it ` +
      `(keep files longer with delta.deletedFileRetentionDuration or a longer VACUUM retention)`
    );
  }
}

/** A data file that a table version needs exists but cannot be read (permissions, truncated, not Parquet). */
export class DataFileUnreadable extends TweetlakeError {
  constructor(
    readonly location: string,
    readonly version: number,
    readonly file: string,
    readonly why: string,
    cause?: unknown,
  ) {
    super(
      'DELTA_DATA_FILE_UNREADABLE',
      `version ${version} of table ${location} cannot be read: its file ${file} is unreadable (${why})`,
      { domain: 'external', cause },
    );
  }
}

/** A table property has a value tweetlake cannot read (e.g. an interval that is not one). */
export class InvalidTableProperty extends TweetlakeError {
  constructor(message: string) {
    super(
      'DELTA_INVALID_TABLE_PROPERTY',
      `${message}: set the property to a valid value (ALTER TABLE ... SET TBLPROPERTIES)`,
      {
        domain: 'user',
      },
    );
  }
}
