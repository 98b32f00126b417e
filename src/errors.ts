/** Who is at fault when something fails: the user's input, something outside us, or a bug of ours. */
export type ErrorDomain = 'user' | 'external' | 'internal';

/** Base of every error tweetlake throws on purpose: a stable code, a domain and a retry hint. */
export class TweetlakeError extends Error {
  readonly code: string;
  readonly domain: ErrorDomain;
  readonly retryable: boolean;

  constructor(
    code: string,
    message: string,
    options: { domain?: ErrorDomain; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.domain = options.domain ?? 'internal';
    this.retryable = options.retryable ?? false;
  }
}

/** Text of any thrown value, for messages. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True when a file-system call failed because the path does not exist: the only failure that means "absent". */
export function isNotFound(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOENT';
}
