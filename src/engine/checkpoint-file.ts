import { TweetlakeError } from '../errors.js';

/** The checkpoint belongs to another query, is damaged, or is inconsistent with the tables it feeds. */
export class CheckpointError extends TweetlakeError {
  constructor(message: string) {
    super('STREAM_CHECKPOINT', message, { domain: 'user' });
  }
}

/** Version line of the checkpoint logs we write (Spark writes the same first line). */
const VERSION = 'v1';

/** How to get out of a damaged checkpoint, said the same way everywhere. */
export const RECOVERY_HINT =
  'restore the checkpoint folder from a backup, or run `tweetlake run --clear` ' +
  '(it deletes the tables and checkpoints and rebuilds them from the source)';

/** The text of a checkpoint log entry: a version line, then the JSON of `value`. */
export function formatLogEntry(value: unknown): string {
  return `${VERSION}\n${JSON.stringify(value)}`;
}

/**
 * The JSON value of a checkpoint log entry, versioned (`v1` line first) or as older tweetlake wrote
 * it (the JSON alone). A truncated or unreadable entry is a CheckpointError naming the file.
 */
export function parseLogEntry<T>(bytes: Uint8Array, file: string): T {
  const text = new TextDecoder().decode(bytes);
  let json = text;
  const firstLine = /^v(\d+)\r?\n/.exec(text);
  if (firstLine) {
    if (firstLine[1] !== '1') {
      throw new CheckpointError(
        `checkpoint file ${file} is of log version v${firstLine[1]}, written by a newer tweetlake: ` +
          `run that version, or ${RECOVERY_HINT}`,
      );
    }
    json = text.slice(firstLine[0].length);
  }
  let value: unknown;
  let why: string | undefined;
  try {
    value = JSON.parse(json) as unknown;
  } catch (err) {
    why = `it is truncated or not JSON (${(err as Error).message})`;
  }
  if (why === undefined && (value === null || typeof value !== 'object'))
    why = 'it is truncated or not JSON (not a JSON object)';
  if (why !== undefined) {
    if (text.trim() === '') why = 'it is empty';
    throw new CheckpointError(`checkpoint file ${file} is damaged: ${why}; ${RECOVERY_HINT}`);
  }
  return value as T;
}
