import type {
  Action,
  AddFile,
  CommitInfo,
  DomainMetadata,
  Metadata,
  Protocol,
  RemoveFile,
  SetTransaction,
} from './actions.js';
import { logicalFileKey } from './actions.js';

/** The reconciled state of a table at one version (PROTOCOL.md "Action Reconciliation"). */
export interface TableState {
  protocol?: Protocol;
  metadata?: Metadata;
  files: Map<string, AddFile>;
  tombstones: Map<string, RemoveFile>;
  txns: Map<string, SetTransaction>;
  domains: Map<string, DomainMetadata>;
  /** commitInfo of the last replayed commit (not kept by checkpoints). */
  commitInfo?: CommitInfo;
}

export function emptyState(): TableState {
  return { files: new Map(), tombstones: new Map(), txns: new Map(), domains: new Map() };
}

/** A copy that later `applyActions` calls can change without touching the original. */
export function cloneState(state: TableState): TableState {
  return {
    protocol: state.protocol,
    metadata: state.metadata,
    files: new Map(state.files),
    tombstones: new Map(state.tombstones),
    txns: new Map(state.txns),
    domains: new Map(state.domains),
    commitInfo: state.commitInfo,
  };
}

/** Applies the actions of one commit (or checkpoint batch) in log order. */
export function applyActions(state: TableState, actions: readonly Action[]): void {
  for (const action of actions) {
    if ('add' in action) {
      const add = normaliseAdd(action.add);
      const key = logicalFileKey(add);
      state.files.set(key, add);
      state.tombstones.delete(key);
    } else if ('remove' in action) {
      const key = logicalFileKey(action.remove);
      state.files.delete(key);
      state.tombstones.set(key, action.remove);
    } else if ('metaData' in action) {
      state.metadata = normaliseMetadata(action.metaData);
    } else if ('protocol' in action) {
      state.protocol = action.protocol;
    } else if ('txn' in action) {
      state.txns.set(action.txn.appId, action.txn);
    } else if ('domainMetadata' in action) {
      const d = action.domainMetadata;
      if (d.removed) state.domains.delete(d.domain);
      else state.domains.set(d.domain, d);
    } else if ('commitInfo' in action) {
      state.commitInfo = action.commitInfo;
    }
  }
}

function normaliseAdd(add: AddFile): AddFile {
  if (add.partitionValues === null || add.partitionValues === undefined)
    return { ...add, partitionValues: {} };
  return add;
}

function normaliseMetadata(m: Metadata): Metadata {
  return {
    ...m,
    partitionColumns: m.partitionColumns ?? [],
    configuration: m.configuration ?? {},
    format: m.format ?? { provider: 'parquet', options: {} },
  };
}
