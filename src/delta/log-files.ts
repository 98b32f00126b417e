/** Names of the files in `_delta_log` (PROTOCOL.md "File Types"). */

export const LOG_DIR = '_delta_log';
export const LAST_CHECKPOINT = `${LOG_DIR}/_last_checkpoint`;
export const SIDECAR_DIR = `${LOG_DIR}/_sidecars`;

/** A version zero-padded to 20 digits, as the log names files. */
export function pad20(version: number): string {
  return String(version).padStart(20, '0');
}

export function commitPath(version: number): string {
  return `${LOG_DIR}/${pad20(version)}.json`;
}

export function classicCheckpointPath(version: number): string {
  return `${LOG_DIR}/${pad20(version)}.checkpoint.parquet`;
}

/** What a file in `_delta_log` is, from its name alone. */
export type LogFile =
  | { kind: 'commit'; version: number }
  | { kind: 'checkpoint'; version: number; format: 'classic' }
  | { kind: 'checkpoint'; version: number; format: 'multipart'; part: number; parts: number }
  | { kind: 'checkpoint'; version: number; format: 'uuid'; uuid: string; ext: 'json' | 'parquet' }
  | { kind: 'other' };

const COMMIT = /^(\d{20})\.json$/;
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const UUID_CP = /^(\d{20})\.checkpoint\.([0-9a-fA-F-]{36})\.(json|parquet)$/;

/** Classifies a log file by its name (the last path segment). */
export function parseLogFileName(name: string): LogFile {
  let m = COMMIT.exec(name);
  if (m) return { kind: 'commit', version: Number(m[1]) };
  m = CLASSIC.exec(name);
  if (m) return { kind: 'checkpoint', version: Number(m[1]), format: 'classic' };
  m = MULTIPART.exec(name);
  if (m) {
    return {
      kind: 'checkpoint',
      version: Number(m[1]),
      format: 'multipart',
      part: Number(m[2]),
      parts: Number(m[3]),
    };
  }
  m = UUID_CP.exec(name);
  if (m) {
    return {
      kind: 'checkpoint',
      version: Number(m[1]),
      format: 'uuid',
      uuid: m[2]!,
      ext: m[3] as 'json' | 'parquet',
    };
  }
  return { kind: 'other' };
}

/** Last segment of a '/'-separated path. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}
