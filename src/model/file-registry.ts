import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { osUserName } from '../os-user.js';
import { parse, stringify } from 'yaml';
import { TweetlakeError, isNotFound } from '../errors.js';
import { canonicalStage } from './model-uri.js';
import {
  ModelNotFound,
  type ModelRegistry,
  type ModelVersionInfo,
  type RegisteredModelInfo,
} from './registry.js';
import { writeFileAtomic } from '../storage/atomic-write.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\- ]*$/;

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new TweetlakeError(
      'MODEL_NAME_INVALID',
      `invalid model name '${name}' (letters, digits, '_', '-', '.', spaces)`,
      { domain: 'user' },
    );
  }
}

async function readYaml(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (parse(await fs.readFile(path, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The names in a folder; [] when it does not exist (any other failure is thrown). */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * MLflow's file-store model registry (`<root>/models/<name>/meta.yaml`, `version-<n>/meta.yaml`,
 * `aliases/<alias>` holding a version), readable by MLflow's own FileStore. A registered version's
 * files are copied into `version-<n>/artifacts/` so the registry does not depend on where they came from.
 */
export class FileModelRegistry implements ModelRegistry {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private modelDir(name: string): string {
    checkName(name);
    return nodePath.join(this.root, 'models', name);
  }

  async listModels(): Promise<RegisteredModelInfo[]> {
    const names = await namesIn(nodePath.join(this.root, 'models'));
    const out: RegisteredModelInfo[] = [];
    for (const n of names.sort()) {
      const m = await this.getModel(n);
      if (m) out.push(m);
    }
    return out;
  }

  async getModel(name: string): Promise<RegisteredModelInfo | undefined> {
    const dir = this.modelDir(name);
    const meta = await readYaml(nodePath.join(dir, 'meta.yaml'));
    if (!meta) return undefined;
    const aliases = await this.aliases(name);
    const versions: ModelVersionInfo[] = [];
    for (const entry of await fs.readdir(dir)) {
      const m = /^version-(\d+)$/.exec(entry);
      if (!m) continue;
      const v = await this.readVersion(name, m[1]!, aliases);
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

  private async aliases(name: string): Promise<Record<string, string>> {
    const dir = nodePath.join(this.modelDir(name), 'aliases');
    const out: Record<string, string> = {};
    const files = await namesIn(dir);
    for (const f of files)
      if (!f.endsWith('.tmp')) out[f] = (await fs.readFile(nodePath.join(dir, f), 'utf8')).trim();
    return out;
  }

  private async readVersion(
    name: string,
    version: string,
    aliases: Record<string, string>,
  ): Promise<ModelVersionInfo | undefined> {
    const meta = await readYaml(nodePath.join(this.modelDir(name), `version-${version}`, 'meta.yaml'));
    if (!meta) return undefined;
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

  private async writeVersion(v: ModelVersionInfo, storageLocation: string): Promise<void> {
    const meta = {
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
    };
    await writeFileAtomic(
      nodePath.join(this.modelDir(v.name), `version-${v.version}`, 'meta.yaml'),
      stringify(meta),
    );
  }

  private async touchModel(name: string, now: number, description?: string): Promise<void> {
    const path = nodePath.join(this.modelDir(name), 'meta.yaml');
    const meta = (await readYaml(path)) ?? {
      name,
      creation_timestamp: now,
      description: description ?? null,
    };
    meta.last_updated_timestamp = now;
    await writeFileAtomic(path, stringify(meta));
  }

  async createVersion(
    name: string,
    modelDir: string,
    options: { description?: string; runId?: string } = {},
  ): Promise<ModelVersionInfo> {
    const now = Date.now();
    await this.touchModel(name, now);
    // Number after every version folder, including one a crash left without its meta.yaml (ignored by reads).
    const taken = (await fs.readdir(this.modelDir(name)))
      .map((e) => /^version-(\d+)$/.exec(e)?.[1])
      .filter((v): v is string => !!v);
    const version = String(Math.max(0, ...taken.map(Number)) + 1);
    const versionDir = nodePath.join(this.modelDir(name), `version-${version}`);
    const artifacts = nodePath.join(versionDir, 'artifacts');
    await fs.mkdir(versionDir, { recursive: false }).catch((err: { code?: string }) => {
      if (err.code === 'EEXIST')
        throw new TweetlakeError(
          'MODEL_VERSION_RACE',
          `version ${version} of ${name} was created concurrently; try again`,
          { domain: 'external', retryable: true },
        );
      throw err;
    });
    // Copy under a temporary name, then rename: a version's files are complete or absent.
    await fs.cp(modelDir, `${artifacts}.tmp`, { recursive: true });
    await fs.rename(`${artifacts}.tmp`, artifacts);
    const info: ModelVersionInfo = {
      name,
      version,
      currentStage: 'None',
      aliases: [],
      source: `file://${artifacts}`,
      ...(options.runId ? { runId: options.runId } : {}),
      status: 'READY',
      ...(options.description ? { description: options.description } : {}),
      creationTimestamp: now,
      lastUpdatedTimestamp: now,
    };
    await this.writeVersion(info, `file://${artifacts}`);
    return info;
  }

  async getVersion(name: string, version: string): Promise<ModelVersionInfo> {
    const v = await this.readVersion(name, version, await this.aliases(name));
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
    if (/^(latest|v\d+)$/i.test(alias) || !/^[A-Za-z0-9_-]+$/.test(alias)) {
      throw new TweetlakeError('MODEL_ALIAS_INVALID', `invalid alias '${alias}'`, { domain: 'user' });
    }
    await writeFileAtomic(nodePath.join(this.modelDir(name), 'aliases', alias), version);
    await this.touchModel(name, Date.now());
  }

  async localModelDir(version: ModelVersionInfo): Promise<string> {
    const src = version.source.startsWith('file://')
      ? decodeURIComponent(new URL(version.source).pathname)
      : version.source;
    return src;
  }
}
