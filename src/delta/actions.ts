/** The actions of the Delta log (PROTOCOL.md "Actions"), as plain JSON-shaped values. */
import { CorruptLog } from './errors.js';

export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[] | null;
  writerFeatures?: string[] | null;
}

export interface Format {
  provider: string;
  options?: Record<string, string> | null;
}

export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: Format;
  schemaString: string;
  partitionColumns: string[];
  createdTime?: number | null;
  configuration: Record<string, string>;
}

export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number | null;
  sizeInBytes: number;
  cardinality: number;
}

export interface AddFile {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string | null> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

export interface RemoveFile {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  stats?: string | null;
  tags?: Record<string, string | null> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
}

export interface AddCdcFile {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  dataChange: boolean;
  tags?: Record<string, string | null> | null;
}

export interface SetTransaction {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

/** Free-form provenance; these are the fields tweetlake writes and reads. */
export interface CommitInfo {
  timestamp?: number;
  inCommitTimestamp?: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  readVersion?: number;
  isolationLevel?: string;
  isBlindAppend?: boolean;
  engineInfo?: string;
  userName?: string;
  txnId?: string;
  [key: string]: unknown;
}

export interface DomainMetadata {
  domain: string;
  configuration: string;
  removed: boolean;
}

export interface CheckpointMetadata {
  version: number;
  tags?: Record<string, string> | null;
}

export interface Sidecar {
  path: string;
  sizeInBytes: number;
  modificationTime: number;
  tags?: Record<string, string> | null;
}

/** One line of a commit file: exactly one of these keys is set. */
export type Action =
  | { add: AddFile }
  | { remove: RemoveFile }
  | { metaData: Metadata }
  | { protocol: Protocol }
  | { txn: SetTransaction }
  | { commitInfo: CommitInfo }
  | { cdc: AddCdcFile }
  | { domainMetadata: DomainMetadata }
  | { checkpointMetadata: CheckpointMetadata }
  | { sidecar: Sidecar };

const KNOWN = new Set([
  'add',
  'remove',
  'metaData',
  'protocol',
  'txn',
  'commitInfo',
  'cdc',
  'domainMetadata',
  'checkpointMetadata',
  'sidecar',
]);

/**
 * Parses the newline-delimited JSON of a commit. Unknown action types are skipped, as the protocol
 * requires; a line that is not JSON makes the commit invalid.
 */
export function parseActions(text: string, source: string): Action[] {
  const out: Action[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (err) {
      throw new CorruptLog(`${source}:${lineNo}: not a JSON action: ${(err as Error).message}`, err);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new CorruptLog(`${source}:${lineNo}: an action must be a JSON object`);
    }
    const action = actionFromObject(obj as Record<string, unknown>);
    if (action) out.push(action);
  }
  return out;
}

/** The action held by a parsed JSON object, or undefined if it holds none we know. */
export function actionFromObject(obj: Record<string, unknown>): Action | undefined {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (KNOWN.has(key) && value !== null && value !== undefined) {
      return { [key]: value } as Action;
    }
  }
  return undefined;
}

/** Serialises actions as a commit file's text (one JSON object per line). */
export function serializeActions(actions: Action[]): string {
  return actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
}

/** The protocol's unique id of a deletion vector, or '' when there is none. */
export function dvUniqueId(dv: DeletionVectorDescriptor | null | undefined): string {
  if (!dv) return '';
  const base = `${dv.storageType}${dv.pathOrInlineDv}`;
  return dv.offset === null || dv.offset === undefined ? base : `${base}@${dv.offset}`;
}

/** Decodes an action's path (a URI) to the relative file path it names. */
export function decodeActionPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Encodes a relative file path as an action path (URI). Keeps '/' and the characters Spark keeps. */
export function encodeActionPath(path: string): string {
  return path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/%3D/g, '=').replace(/%2C/g, ','))
    .join('/');
}

/** Key of a logical file in log replay: its decoded path plus its deletion vector id. */
export function logicalFileKey(file: {
  path: string;
  deletionVector?: DeletionVectorDescriptor | null;
}): string {
  return `${decodeActionPath(file.path)}\u0000${dvUniqueId(file.deletionVector)}`;
}
