import { TweetlakeError } from '../errors.js';

/** OS error codes of a failure that may pass if the operation is tried again. */
const TRANSIENT = new Set(['EAGAIN', 'EBUSY', 'EINTR', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'ECONNRESET']);

/** The OS error code (`ENOENT`, `EACCES`, ...) of a Node.js system error, if it is one. */
export function osCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/**
 * A store operation failed for a reason other than the object being absent (only ENOENT means
 * that): permission denied, a folder where a file should be, a full disk, an I/O error.
 * `osCode` keeps the OS's code; transient ones (EBUSY, EMFILE, ...) are retryable.
 */
export class StoreIOError extends TweetlakeError {
  constructor(
    readonly operation: string,
    readonly location: string,
    readonly osCode: string | undefined,
    cause: unknown,
  ) {
    super('STORE_IO', `${operation} ${location} failed: ${describe(osCode, cause)}`, {
      domain: 'external',
      retryable: osCode !== undefined && TRANSIENT.has(osCode),
      cause,
    });
  }

  /** Whether the store refused access (EACCES, EPERM). */
  get accessDenied(): boolean {
    return this.osCode === 'EACCES' || this.osCode === 'EPERM';
  }

  /** Whether a folder is where an object was expected. */
  get isFolder(): boolean {
    return this.osCode === 'EISDIR';
  }
}

function describe(code: string | undefined, cause: unknown): string {
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied: give this user access to it';
  if (code === 'EISDIR') return 'it is a folder, not a file';
  if (code === 'ENOSPC') return 'the disk is full: free some space';
  return cause instanceof Error ? cause.message : String(cause);
}
