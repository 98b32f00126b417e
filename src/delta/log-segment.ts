import { ObjectNotFound, type ObjectMeta, type ObjectStore } from '../storage/object-store.js';
import { CorruptLog, TableNotFound, VersionNotFound } from './errors.js';
import { baseName, LAST_CHECKPOINT, LOG_DIR, pad20, parseLogFileName } from './log-files.js';

/** A commit file of the segment. */
export interface CommitFile {
  version: number;
  path: string;
  lastModified: number;
  /** Bytes of the file, when listed. */
  size?: number;
}

/** The checkpoint a snapshot starts from: one file, or every part of a multi-part checkpoint. */
export interface CheckpointRef {
  version: number;
  format: 'classic' | 'multipart' | 'uuid';
  paths: string[];
}

/** The files needed to rebuild one version: a checkpoint (if any) and the commits after it. */
export interface LogSegment {
  version: number;
  checkpoint?: CheckpointRef;
  /** Commits after the checkpoint, ascending, ending at `version`. */
  commits: CommitFile[];
  /** Modification time of the commit at `version` (or of the checkpoint when the commit is gone). */
  lastModified: number;
}

/** Contents of `_delta_log/_last_checkpoint`. */
export interface LastCheckpoint {
  version: number;
  size?: number;
  parts?: number;
  sizeInBytes?: number;
  numOfAddFiles?: number;
}

/**
 * Reads the `_last_checkpoint` hint; a missing or damaged one (not JSON, no version) is just no hint,
 * as in Spark. A store that fails to read it (permission denied, I/O error) fails the read.
 */
export async function readLastCheckpoint(store: ObjectStore): Promise<LastCheckpoint | undefined> {
  let text: string;
  try {
    text = new TextDecoder().decode(await store.get(LAST_CHECKPOINT));
  } catch (err) {
    if (err instanceof ObjectNotFound) return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  const hint = parsed as LastCheckpoint | null;
  return typeof hint?.version === 'number' ? hint : undefined;
}

interface Listing {
  commits: Map<number, ObjectMeta>;
  checkpoints: Map<number, CheckpointRef[]>;
}

function classify(entries: ObjectMeta[]): Listing {
  const commits = new Map<number, ObjectMeta>();
  const multi = new Map<string, { version: number; parts: number; paths: Map<number, string> }>();
  const checkpoints = new Map<number, CheckpointRef[]>();
  const push = (ref: CheckpointRef) => {
    const list = checkpoints.get(ref.version) ?? [];
    list.push(ref);
    checkpoints.set(ref.version, list);
  };
  for (const entry of entries) {
    // only direct children of _delta_log
    if (entry.path.slice(LOG_DIR.length + 1).includes('/')) continue;
    const f = parseLogFileName(baseName(entry.path));
    if (f.kind === 'commit') commits.set(f.version, entry);
    else if (f.kind === 'checkpoint' && f.format === 'classic') {
      push({ version: f.version, format: 'classic', paths: [entry.path] });
    } else if (f.kind === 'checkpoint' && f.format === 'uuid') {
      push({ version: f.version, format: 'uuid', paths: [entry.path] });
    } else if (f.kind === 'checkpoint' && f.format === 'multipart') {
      const key = `${f.version}/${f.parts}`;
      const group = multi.get(key) ?? { version: f.version, parts: f.parts, paths: new Map() };
      group.paths.set(f.part, entry.path);
      multi.set(key, group);
    }
  }
  for (const group of multi.values()) {
    // A multi-part checkpoint with a missing part must be ignored.
    if (group.paths.size !== group.parts) continue;
    const paths = [...group.paths.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
    push({ version: group.version, format: 'multipart', paths });
  }
  return { commits, checkpoints };
}

/** Prefers a UUID-named (v2) checkpoint, then a classic one, then a complete multi-part one. */
function bestCheckpoint(refs: CheckpointRef[]): CheckpointRef {
  const order = { uuid: 0, classic: 1, multipart: 2 } as const;
  return [...refs].sort((a, b) => order[a.format] - order[b.format])[0]!;
}

/**
 * Finds the newest checkpoint at or before the target version and the commits after it.
 * `_last_checkpoint` only narrows the listing; if the files it names are gone we list everything.
 */
export async function buildLogSegment(store: ObjectStore, targetVersion?: number): Promise<LogSegment> {
  const hint = await readLastCheckpoint(store);
  if (hint && (targetVersion === undefined || hint.version <= targetVersion)) {
    const listing = classify(await store.listFrom(LOG_DIR, `${LOG_DIR}/${pad20(hint.version)}`.slice(0, -1)));
    const segment = segmentFrom(listing, targetVersion, store.root, true);
    if (segment) return segment;
  }
  const listing = classify(await store.list(`${LOG_DIR}/`));
  const segment = segmentFrom(listing, targetVersion, store.root, false);
  if (!segment) throw new TableNotFound(store.root);
  return segment;
}

function segmentFrom(
  listing: Listing,
  targetVersion: number | undefined,
  location: string,
  partial: boolean,
): LogSegment | undefined {
  const { commits, checkpoints } = listing;
  if (commits.size === 0 && checkpoints.size === 0) return undefined;
  const maxCommit = commits.size ? Math.max(...commits.keys()) : -1;
  const maxCheckpoint = checkpoints.size ? Math.max(...checkpoints.keys()) : -1;
  const latest = Math.max(maxCommit, maxCheckpoint);
  const version = targetVersion ?? latest;
  if (version > latest) {
    if (partial) return undefined;
    throw new VersionNotFound(`version ${version} of ${location} does not exist; the latest is ${latest}`);
  }
  const cpVersions = [...checkpoints.keys()].filter((v) => v <= version).sort((a, b) => b - a);
  const checkpoint = cpVersions.length ? bestCheckpoint(checkpoints.get(cpVersions[0]!)!) : undefined;
  const start = checkpoint ? checkpoint.version + 1 : 0;
  const segCommits: CommitFile[] = [];
  for (let v = start; v <= version; v++) {
    const meta = commits.get(v);
    if (!meta) {
      if (partial) return undefined;
      if (!checkpoint && v === 0 && commits.size > 0) {
        // Old commits were cleaned up (log retention) and no checkpoint covers this version.
        const first = Math.min(...commits.keys());
        throw new VersionNotFound(
          `version ${version} of ${location} is no longer available: the log starts at commit ${first} ` +
            `and there is no checkpoint at or before version ${version}`,
        );
      }
      throw new CorruptLog(
        `the log of ${location} is missing commit ${v} (needed to rebuild version ${version})`,
      );
    }
    segCommits.push({ version: v, path: meta.path, lastModified: meta.lastModified, size: meta.size });
  }
  const last = segCommits.at(-1) ?? commits.get(version);
  const lastModified = last ? last.lastModified : 0;
  return { version, checkpoint, commits: segCommits, lastModified };
}

/** Every commit file in the log with its version and time, ascending (for history and timestamps). */
export async function listCommits(store: ObjectStore): Promise<CommitFile[]> {
  const entries = await store.list(`${LOG_DIR}/`);
  const out: CommitFile[] = [];
  for (const entry of entries) {
    const f = parseLogFileName(baseName(entry.path));
    if (f.kind === 'commit' && !entry.path.slice(LOG_DIR.length + 1).includes('/')) {
      out.push({ version: f.version, path: entry.path, lastModified: entry.lastModified, size: entry.size });
    }
  }
  return out.sort((a, b) => a.version - b.version);
}
