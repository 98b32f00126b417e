import { TweetlakeError } from '../errors.js';

/** A reference to a model, as MLflow users write it. */
export type ModelUri =
  | { kind: 'stage'; name: string; stage: string }
  | { kind: 'alias'; name: string; alias: string }
  | { kind: 'version'; name: string; version: string }
  | { kind: 'latest'; name: string }
  | { kind: 'run'; runId: string; path: string }
  | { kind: 'path'; path: string };

export class InvalidModelUri extends TweetlakeError {
  constructor(uri: string, why: string) {
    super(
      'MODEL_URI_INVALID',
      `cannot use model URI '${uri}': ${why} (expected models:/NAME/STAGE, models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/path or a folder)`,
      { domain: 'user' },
    );
  }
}

const STAGES = ['none', 'staging', 'production', 'archived'];

/** Canonical stage name as MLflow spells it ('Production', ...). */
export function canonicalStage(stage: string): string {
  const s = stage.toLowerCase();
  if (!STAGES.includes(s))
    throw new TweetlakeError(
      'MODEL_STAGE_INVALID',
      `unknown stage '${stage}' (None, Staging, Production, Archived)`,
      { domain: 'user' },
    );
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Parses `models:/NAME/STAGE|VERSION|latest`, `models:/NAME@ALIAS`, `runs:/ID/path`, a `file://` URI or a path. */
export function parseModelUri(uri: string): ModelUri {
  if (uri.startsWith('models:/')) {
    const rest = uri.slice('models:/'.length).replace(/^\/+/, '');
    const at = rest.indexOf('@');
    if (at > 0 && !rest.includes('/'))
      return { kind: 'alias', name: rest.slice(0, at), alias: rest.slice(at + 1) };
    const parts = rest.split('/');
    if (parts.length !== 2 || !parts[0] || !parts[1])
      throw new InvalidModelUri(uri, 'expected a name and a stage, version or alias');
    const [name, ref] = parts as [string, string];
    if (/^\d+$/.test(ref)) return { kind: 'version', name, version: ref };
    if (ref.toLowerCase() === 'latest') return { kind: 'latest', name };
    return { kind: 'stage', name, stage: canonicalStage(ref) };
  }
  if (uri.startsWith('runs:/')) {
    const rest = uri.slice('runs:/'.length).replace(/^\/+/, '');
    const slash = rest.indexOf('/');
    if (slash <= 0) throw new InvalidModelUri(uri, 'expected runs:/RUN_ID/path');
    return { kind: 'run', runId: rest.slice(0, slash), path: rest.slice(slash + 1) };
  }
  if (uri.startsWith('file://')) return { kind: 'path', path: decodeURIComponent(new URL(uri).pathname) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new InvalidModelUri(uri, 'unsupported scheme');
  return { kind: 'path', path: uri };
}

/** Prints a model URI back. */
export function formatModelUri(u: ModelUri): string {
  switch (u.kind) {
    case 'stage':
      return `models:/${u.name}/${u.stage}`;
    case 'alias':
      return `models:/${u.name}@${u.alias}`;
    case 'version':
      return `models:/${u.name}/${u.version}`;
    case 'latest':
      return `models:/${u.name}/latest`;
    case 'run':
      return `runs:/${u.runId}/${u.path}`;
    case 'path':
      return u.path;
  }
}
