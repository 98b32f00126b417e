import { TweetlakeError } from '../errors.js';
import { ObjectNotFound } from '../storage/object-store.js';
import { StoreIOError } from '../storage/store-errors.js';

/** A file ended before the size it had when it was listed. */
export class FileTruncated extends TweetlakeError {
  constructor(
    readonly at: number,
    readonly listedSize: number,
  ) {
    super(
      'SOURCE_FILE_TRUNCATED',
      `the file ends at ${at} bytes, before the ${listedSize} it had when listed`,
      {
        domain: 'external',
      },
    );
  }
}

/**
 * Why a listed file could not be read, in the words the quarantine table keeps; undefined when the
 * error is not about the file itself (then it fails the batch instead).
 */
export function unreadableReason(err: unknown): string | undefined {
  if (err instanceof ObjectNotFound) return 'the file was removed after it was listed';
  if (err instanceof FileTruncated)
    return `the file is shorter than when it was listed (${err.at} bytes, listed ${err.listedSize}): it was truncated or replaced`;
  if (err instanceof StoreIOError && err.accessDenied) return 'the file cannot be read: permission denied';
  if (err instanceof StoreIOError && err.isFolder) return 'the file was replaced by a folder';
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('Z_'))
    return `the gzip data is damaged (${(err as Error).message})`;
  return undefined;
}
