import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { stringify } from 'yaml';
import { TweetlakeError } from '../errors.js';
import { readText, readYaml } from '../mlflow/store-yaml.js';
import { osUserName } from '../os-user.js';
import { listChecked } from '../storage/checked-list.js';
import { listLocalFiles } from '../storage/local-store.js';
import { ObjectExists, type ObjectStore } from '../storage/object-store.js';
import { putCopyOf } from '../storage/put-copy.js';
import { canonicalStage } from './model-uri.js';
import {
  ModelNotFound,
  type ModelRegistry,
  type ModelVersionInfo,
  type RegisteredModelInfo,
} from './registry.js';
import { downloadVersion } from './version-download.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\- ]*$/;
const ALIAS = /^[A-Za-z0-9_-]+$/;

/** Where downloaded versions go when the caller names no cache folder. */
function defaultModelCache(): string {
  return nodePath.join(tmpdir(), 'tweetlake-models');
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new TweetlakeError(
      'MODEL_NAME_INVALID',
      `invalid model name '${name}' (letters, digits, '_', '-', '.', spaces)`,
      { domain: 'user' },
    );
  }
}

/** What a model's folder holds, from one listing: its version numbers and alias names. */
interface ModelEntries {
  versions: string[];
  aliases: string[];
}

/**
 * MLflow's file-store model registry (`<root>/models/<name>/meta.yaml`, `version-<n>/meta.yaml`,
 * `aliases/<alias>` holding a version), readable by MLflow's own FileStore, in an object store (a
 * local folder, S3, memory). A registered version's files are copied into `version-<n>/artifacts/`
 * so the registry does not depend on where they came from. A version is claimed by creating its
 * meta.yaml (PENDING_REGISTRATION), its files uploaded, then marked READY: reads show READY versions only.
 */
export class FileModelRegistry implements ModelRegistry {
  constructor(readonly store: ObjectStore) {}

  /** The store's root (a local path or a URI). */
  get root(): string {
    return this.store.root;
  }

  get location(): string {
    return this.root;
  }

  private modelDir(name: string): string {
    checkName(name);
    return `models/${name}`;
  }

  private versionDir(name: string, version: string): string {
    return `${this.modelDir(name)}/version-${version}`;
  }

  /** A version's files as an MLflow source: a `file://` URI for a local store, the store's URI otherwise. */
  private sourceOf(name: string, version: string): string {
    const where = this.store.location(`${this.versionDir(name, version)}/artifacts`);
    return nodePath.isAbsolute(where) ? `file://${where}` : where;
  }

  async listModels(): Promise<RegisteredModelInfo[]> {
    const names = new Set<string>();
    for (const m of await listChecked(this.store, 'models/')) {
      const found = /^models\/([^/]+)\/meta\.yaml$/.exec(m.path);
      if (found) names.add(found[1]!);
    }
    const out: RegisteredModelInfo[] = [];
    for (const n of [...names].sort()) {
      const m = await this.getModel(n);
      if (m) out.push(m);
    }
    return out;
  }

  /** The version numbers (any with an object, READY or not) and aliases under a model's folder. */
  private async entries(name: string): Promise<ModelEntries> {
    const dir = `${this.modelDir(name)}/`;
    const versions = new Set<string>();
    const aliases: string[] = [];
    for (const m of await this.store.list(dir)) {
      const rest = m.path.slice(dir.length);
      const v = /^version-(\d+)\//.exec(rest)?.[1];
      if (v) versions.add(v);
      const a = /^aliases\/([^/]+)$/.exec(rest)?.[1];
      if (a && ALIAS.test(a)) aliases.push(a);
    }
    return { versions: [...versions], aliases };
  }

  async getModel(name: string): Promise<RegisteredModelInfo | undefined> {
    const meta = await readYaml(this.store, `${this.modelDir(name)}/meta.yaml`);
    if (!meta) return undefined;
    const found = await this.entries(name);
    const aliases = await this.aliases(name, found.aliases);
    const versions: ModelVersionInfo[] = [];
    for (const number of found.versions) {
      const v = await this.readVersion(name, number, aliases);
      if (v && v.currentStage !== 'Deleted_Internal') versions.push(v);
    }
    versions.sort((a, b) => Number(a.version) - Number(b.version));
    return {
      name,
      ...(meta.description ? { description: String(meta.description) } : {}),
      creationTimestamp: Number(meta.creation_timestamp ?? 0),
      lastUpdatedTimestamp: Number(meta.last_updated_timestamp ?? 0),
      aliases,
      versions,
    };
  }

  private async aliases(name: string, names?: string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const a of (names ?? (await this.entries(name)).aliases).sort()) {
      const version = await readText(this.store, `${this.modelDir(name)}/aliases/${a}`);
      if (version !== undefined) out[a] = version.trim();
    }
    return out;
  }

  /** A READY version; undefined when it is absent or its registration never finished. */
  private async readVersion(
    name: string,
    version: string,
    aliases: Record<string, string>,
  ): Promise<ModelVersionInfo | undefined> {
    const meta = await readYaml(this.store, `${this.versionDir(name, version)}/meta.yaml`);
    if (!meta || String(meta.status ?? 'READY') !== 'READY') return undefined;
    return {
      name,
      version: String(meta.version),
      currentStage: String(meta.current_stage ?? 'None'),
      aliases: Object.entries(aliases)
        .filter(([, v]) => v === String(meta.version))
        .map(([a]) => a),
      source: String(meta.source ?? ''),
      ...(meta.run_id ? { runId: String(meta.run_id) } : {}),
      status: String(meta.status ?? 'READY'),
      ...(meta.description ? { description: String(meta.description) } : {}),
      creationTimestamp: Number(meta.creation_timestamp ?? 0),
      lastUpdatedTimestamp: Number(meta.last_updated_timestamp ?? 0),
    };
  }

  private metaOf(v: ModelVersionInfo, storageLocation: string): string {
    return stringify({
      name: v.name,
      version: Number(v.version),
      creation_timestamp: v.creationTimestamp,
      last_updated_timestamp: v.lastUpdatedTimestamp,
      description: v.description ?? null,
      user_id: osUserName() ?? '',
      current_stage: v.currentStage,
      source: v.source,
      run_id: v.runId ?? null,
      run_link: null,
      status: v.status,
      status_message: null,
      storage_location: storageLocation,
    });
  }

  private async writeVersion(v: ModelVersionInfo, storageLocation: string): Promise<void> {
    await this.store.put(`${this.versionDir(v.name, v.version)}/meta.yaml`, this.metaOf(v, storageLocation));
  }

  private async touchModel(name: string, now: number, description?: string): Promise<void> {
    const path = `${this.modelDir(name)}/meta.yaml`;
    const meta = (await readYaml(this.store, path)) ?? {
      name,
      creation_timestamp: now,
      description: description ?? null,
    };
    meta.last_updated_timestamp = now;
    await this.store.put(path, stringify(meta));
  }

  async createVersion(
    name: string,
    modelDir: string,
    options: { description?: string; runId?: string } = {},
  ): Promise<ModelVersionInfo> {
    const now = Date.now();
    await this.touchModel(name, now);
    // Number after every version with an object, including one whose registration never finished;
    // a number another process claims first (put-if-absent) goes to it, and this one takes the next.
    let version = String(Math.max(0, ...(await this.entries(name)).versions.map(Number)) + 1);
    let info: ModelVersionInfo;
    let source: string;
    let dir: string;
    for (;;) {
      source = this.sourceOf(name, version);
      info = {
        name,
        version,
        currentStage: 'None',
        aliases: [],
        source,
        ...(options.runId ? { runId: options.runId } : {}),
        status: 'PENDING_REGISTRATION',
        ...(options.description ? { description: options.description } : {}),
        creationTimestamp: now,
        lastUpdatedTimestamp: now,
      };
      dir = this.versionDir(name, version);
      try {
        await this.store.putIfAbsent(`${dir}/meta.yaml`, this.metaOf(info, source));
        break;
      } catch (err) {
        if (!(err instanceof ObjectExists)) throw err;
        version = String(Number(version) + 1);
      }
    }
    // Copies, streamed: the caller's folder stays as it is.
    for (const f of await listLocalFiles(modelDir))
      await putCopyOf(this.store, `${dir}/artifacts/${f}`, nodePath.join(modelDir, ...f.split('/')));
    const ready = { ...info, status: 'READY' };
    await this.writeVersion(ready, source);
    return ready;
  }

  async getVersion(name: string, version: string): Promise<ModelVersionInfo> {
    const v = /^\d+$/.test(version)
      ? await this.readVersion(name, version, await this.aliases(name))
      : undefined;
    if (!v || v.currentStage === 'Deleted_Internal')
      throw new ModelNotFound(`version ${version} of model '${name}'`, this.root);
    return v;
  }

  async transitionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting = false,
  ): Promise<ModelVersionInfo> {
    const target = canonicalStage(stage);
    const now = Date.now();
    const model = await this.getModel(name);
    if (!model) throw new ModelNotFound(`model '${name}'`, this.root);
    const current = await this.getVersion(name, version);
    if (archiveExisting && (target === 'Staging' || target === 'Production')) {
      for (const v of model.versions) {
        if (v.version !== version && v.currentStage === target) {
          await this.writeVersion({ ...v, currentStage: 'Archived', lastUpdatedTimestamp: now }, v.source);
        }
      }
    }
    const updated = { ...current, currentStage: target, lastUpdatedTimestamp: now };
    await this.writeVersion(updated, current.source);
    await this.touchModel(name, now);
    return updated;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.getVersion(name, version);
    if (/^(latest|v\d+)$/i.test(alias) || !ALIAS.test(alias)) {
      throw new TweetlakeError('MODEL_ALIAS_INVALID', `invalid alias '${alias}'`, { domain: 'user' });
    }
    await this.store.put(`${this.modelDir(name)}/aliases/${alias}`, version);
    await this.touchModel(name, Date.now());
  }

  /**
   * A local folder with the version's files: for a local store the registry's own folder (no
   * copy); for any other store a copy downloaded into `cacheDir/<name>/<version>-<source hash>`
   * (by default under the OS's temporary folder) and reused while its files keep their sizes.
   */
  async localModelDir(version: ModelVersionInfo, cacheDir = defaultModelCache()): Promise<string> {
    const src = version.source;
    if (src.startsWith('file://')) return decodeURIComponent(new URL(src).pathname);
    if (src !== this.sourceOf(version.name, version.version)) return src;
    // keyed by where it came from too: one cache folder may serve several registries
    const from = createHash('sha256').update(src).digest('hex').slice(0, 12);
    const safeName = version.name.replace(/[^A-Za-z0-9_.-]/g, '_');
    return downloadVersion(this.store, `${this.versionDir(version.name, version.version)}/artifacts`, {
      dest: nodePath.join(nodePath.resolve(cacheDir), safeName, `${version.version}-${from}`),
      what: `version ${version.version} of ${version.name}`,
    });
  }
}
