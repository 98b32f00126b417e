import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { openArtifactRepo } from '../mlflow/artifact-repo.js';
import type { ArtifactEntry } from '../mlflow/http-client.js';
import {
  InvalidTrackingInput,
  TrackingNotFound,
  checkKey,
  defaultRunName,
  latestMetrics,
  runUser,
  systemRunTags,
  validateBatch,
  type CreateRunOptions,
  type Experiment,
  type LogBatch,
  type Metric,
  type Run,
  type RunInfo,
  type RunStatus,
  type TrackingStore,
} from './tracking-store.js';
import { isNotFound } from '../errors.js';
import {
  DEFAULT_EXPERIMENT_ID,
  RESERVED,
  STATUS_CODE,
  STATUS_NAME,
  experimentIdFor,
  parseMetricLine,
  readKeyFiles,
  readYaml,
  subdirs,
  writeYaml,
} from './file-store-layout.js';

/**
 * MLflow's file store (`<root>/<experiment_id>/meta.yaml`, `<run_id>/{meta.yaml,metrics,params,tags,artifacts}`),
 * the layout `mlflow ui --backend-store-uri <root>` (with MLFLOW_ALLOW_FILE_STORE=true) opens and
 * `mlflow migrate-filestore` moves to SQLite. See docs/mlflow.md.
 */
export class FileTrackingStore implements TrackingStore {
  private readonly runDirs = new Map<string, string>();
  private ready: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.root = nodePath.resolve(root);
  }

  get location(): string {
    return this.root;
  }

  /** Creates the root with MLflow's Default experiment (id 0) and `.trash`, as MLflow's FileStore does. */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await fs.mkdir(nodePath.join(this.root, '.trash'), { recursive: true });
      await this.createExperimentDir(DEFAULT_EXPERIMENT_ID, 'Default', {});
    })();
    return this.ready;
  }

  private async createExperimentDir(
    id: string,
    name: string,
    tags: Record<string, string>,
  ): Promise<boolean> {
    const dir = nodePath.join(this.root, id);
    try {
      await fs.mkdir(dir);
    } catch (err) {
      if ((err as { code?: string }).code === 'EEXIST') return false;
      throw err;
    }
    const now = Date.now();
    for (const [k, v] of Object.entries(tags)) {
      checkKey('tag', k);
      await fs.mkdir(nodePath.dirname(nodePath.join(dir, 'tags', k)), { recursive: true });
      await fs.writeFile(nodePath.join(dir, 'tags', k), v);
    }
    await writeYaml(nodePath.join(dir, 'meta.yaml'), {
      artifact_location: dir,
      creation_time: now,
      experiment_id: id,
      last_update_time: now,
      lifecycle_stage: 'active',
      name,
    });
    return true;
  }

  private async readExperiment(dir: string): Promise<Experiment | undefined> {
    // a folder just made by another process may not have its meta.yaml yet
    let meta = await readYaml(nodePath.join(dir, 'meta.yaml'));
    for (let i = 0; !meta && i < 20 && existsSync(dir); i++) {
      await new Promise((r) => setTimeout(r, 25));
      meta = await readYaml(nodePath.join(dir, 'meta.yaml'));
    }
    if (!meta) return undefined;
    return {
      experimentId: String(meta.experiment_id),
      name: String(meta.name),
      artifactLocation: String(meta.artifact_location ?? dir),
      lifecycleStage: String(meta.lifecycle_stage ?? 'active'),
      tags: await readKeyFiles(nodePath.join(dir, 'tags')),
      ...(meta.creation_time != null ? { creationTime: Number(meta.creation_time) } : {}),
      ...(meta.last_update_time != null ? { lastUpdateTime: Number(meta.last_update_time) } : {}),
    };
  }

  private async experiments(folder: string): Promise<Experiment[]> {
    const out: Experiment[] = [];
    for (const id of await subdirs(folder)) {
      if (!/^\d+$/.test(id)) continue;
      const e = await this.readExperiment(nodePath.join(folder, id));
      if (e) out.push(e);
    }
    return out;
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    await this.init();
    return (await this.experiments(this.root)).find((e) => e.name === name);
  }

  async getOrCreateExperiment(name: string, tags: Record<string, string> = {}): Promise<Experiment> {
    if (!name.trim()) throw new InvalidTrackingInput('an experiment needs a name');
    const found = await this.getExperimentByName(name);
    if (found) return found;
    if ((await this.experiments(nodePath.join(this.root, '.trash'))).some((e) => e.name === name)) {
      throw new InvalidTrackingInput(
        `experiment '${name}' was deleted but is still in ${nodePath.join(this.root, '.trash')}: restore it (mlflow experiments restore) or delete it for good (mlflow gc)`,
      );
    }
    const id = experimentIdFor(name);
    await this.createExperimentDir(id, name, tags);
    const e = await this.readExperiment(nodePath.join(this.root, id));
    if (!e || e.name !== name) {
      throw new InvalidTrackingInput(
        `experiment id ${id} for '${name}' is taken by '${e?.name}' in ${this.root}; rename one of them`,
      );
    }
    return e;
  }

  async createRun(experimentId: string, options: CreateRunOptions = {}): Promise<RunInfo> {
    await this.init();
    const expDir = nodePath.join(this.root, experimentId);
    const exp = /^\d+$/.test(experimentId) ? await this.readExperiment(expDir) : undefined;
    if (!exp) throw new TrackingNotFound(`experiment ${experimentId}`, this.root);
    const runName = options.runName ?? options.tags?.['mlflow.runName'] ?? defaultRunName();
    const runId = randomUUID().replace(/-/g, '');
    const runDir = nodePath.join(expDir, runId);
    const info: RunInfo = {
      runId,
      experimentId,
      runName,
      userId: options.tags?.['mlflow.user'] ?? runUser(),
      status: 'RUNNING',
      startTime: options.startTime ?? Date.now(),
      artifactUri: nodePath.join(runDir, 'artifacts'),
      lifecycleStage: 'active',
    };
    for (const d of ['metrics', 'params', 'tags', 'artifacts'])
      await fs.mkdir(nodePath.join(runDir, d), { recursive: true });
    await this.writeRunMeta(runDir, info);
    this.runDirs.set(runId, runDir);
    await this.writeKeyFiles(runDir, 'tags', systemRunTags(runName, options.tags));
    return info;
  }

  private async writeRunMeta(runDir: string, info: RunInfo): Promise<void> {
    await writeYaml(nodePath.join(runDir, 'meta.yaml'), {
      artifact_uri: info.artifactUri,
      end_time: info.endTime ?? null,
      entry_point_name: '',
      experiment_id: info.experimentId,
      lifecycle_stage: info.lifecycleStage,
      run_id: info.runId,
      run_name: info.runName,
      run_uuid: info.runId,
      source_name: '',
      source_type: 4,
      source_version: '',
      start_time: info.startTime,
      status: STATUS_CODE[info.status],
      tags: [],
      user_id: info.userId,
      deleted_time: null,
    });
  }

  private async writeKeyFiles(runDir: string, kind: 'tags', values: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(values)) {
      checkKey('tag', k);
      const path = nodePath.join(runDir, kind, ...k.split('/'));
      await fs.mkdir(nodePath.dirname(path), { recursive: true });
      await fs.writeFile(path, v);
    }
  }

  private async runDir(runId: string): Promise<string> {
    const known = this.runDirs.get(runId);
    if (known) return known;
    if (!/^[0-9a-zA-Z-]{1,64}$/.test(runId)) throw new TrackingNotFound(`run '${runId}'`, this.root);
    for (const base of [this.root, nodePath.join(this.root, '.trash')]) {
      for (const exp of await subdirs(base)) {
        if (!/^\d+$/.test(exp)) continue;
        const dir = nodePath.join(base, exp, runId);
        if (existsSync(nodePath.join(dir, 'meta.yaml'))) {
          this.runDirs.set(runId, dir);
          return dir;
        }
      }
    }
    throw new TrackingNotFound(`run '${runId}'`, this.root);
  }

  private async readRunInfo(runDir: string): Promise<RunInfo> {
    const m = (await readYaml(nodePath.join(runDir, 'meta.yaml'))) ?? {};
    return {
      runId: String(m.run_id ?? m.run_uuid),
      experimentId: String(m.experiment_id),
      runName: String(m.run_name ?? ''),
      userId: String(m.user_id ?? ''),
      status: STATUS_NAME[Number(m.status ?? 1)] ?? 'RUNNING',
      startTime: Number(m.start_time ?? 0),
      ...(m.end_time != null ? { endTime: Number(m.end_time) } : {}),
      artifactUri: String(m.artifact_uri ?? nodePath.join(runDir, 'artifacts')),
      lifecycleStage: String(m.lifecycle_stage ?? 'active'),
    };
  }

  private async activeRun(runId: string): Promise<{ dir: string; info: RunInfo }> {
    const dir = await this.runDir(runId);
    const info = await this.readRunInfo(dir);
    if (info.lifecycleStage !== 'active')
      throw new InvalidTrackingInput(`run ${runId} is deleted; restore it before logging to it`);
    return { dir, info };
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    validateBatch(batch);
    const { dir, info } = await this.activeRun(runId);
    for (const [k, v] of Object.entries(batch.params ?? {})) {
      const path = nodePath.join(dir, 'params', ...k.split('/'));
      await fs.mkdir(nodePath.dirname(path), { recursive: true });
      try {
        await fs.writeFile(path, v, { flag: 'wx' });
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
        const old = await fs.readFile(path, 'utf8');
        if (old !== v)
          throw new InvalidTrackingInput(
            `param '${k}' of run ${runId} is already '${old}'; MLflow params cannot change (log a metric or a tag instead)`,
          );
      }
    }
    const lines = new Map<string, string[]>();
    for (const m of batch.metrics ?? []) {
      const l = lines.get(m.key) ?? [];
      l.push(`${Math.trunc(m.timestamp)} ${String(m.value)} ${Math.trunc(m.step)}\n`);
      lines.set(m.key, l);
    }
    for (const [k, l] of lines) {
      const path = nodePath.join(dir, 'metrics', ...k.split('/'));
      await fs.mkdir(nodePath.dirname(path), { recursive: true });
      await fs.appendFile(path, l.join(''));
    }
    if (batch.tags) {
      await this.writeKeyFiles(dir, 'tags', batch.tags);
      const name = batch.tags['mlflow.runName'];
      if (name !== undefined && name !== info.runName)
        await this.writeRunMeta(dir, { ...info, runName: name });
    }
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.logBatch(runId, { tags: { [key]: value } });
  }

  async logArtifact(runId: string, localFile: string, artifactPath?: string): Promise<void> {
    const { info } = await this.activeRun(runId);
    await openArtifactRepo(info.artifactUri).uploadFile(localFile, artifactPath);
  }

  async logArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void> {
    const { info } = await this.activeRun(runId);
    await openArtifactRepo(info.artifactUri).uploadDir(localDir, artifactPath);
  }

  async listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]> {
    const info = await this.readRunInfo(await this.runDir(runId));
    return openArtifactRepo(info.artifactUri).list(path);
  }

  async downloadArtifacts(runId: string, path: string, destDir: string): Promise<string> {
    const info = await this.readRunInfo(await this.runDir(runId));
    return openArtifactRepo(info.artifactUri).download(path, destDir);
  }

  async endRun(runId: string, status: RunStatus = 'FINISHED', endTime: number = Date.now()): Promise<void> {
    const dir = await this.runDir(runId);
    const info = await this.readRunInfo(dir);
    await this.writeRunMeta(dir, { ...info, status, endTime });
  }

  async getRun(runId: string): Promise<Run> {
    const dir = await this.runDir(runId);
    const info = await this.readRunInfo(dir);
    const history: Metric[] = [];
    for (const [key, text] of Object.entries(await readKeyFiles(nodePath.join(dir, 'metrics')))) {
      for (const line of text.split('\n')) if (line.trim()) history.push(parseMetricLine(key, line));
    }
    return {
      info,
      data: {
        metrics: latestMetrics(history),
        params: await readKeyFiles(nodePath.join(dir, 'params')),
        tags: await readKeyFiles(nodePath.join(dir, 'tags')),
      },
    };
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    checkKey('metric', key);
    const dir = await this.runDir(runId);
    let text: string;
    try {
      text = await fs.readFile(nodePath.join(dir, 'metrics', ...key.split('/')), 'utf8');
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => parseMetricLine(key, l));
  }

  async searchRuns(experimentId: string, options: { maxResults?: number } = {}): Promise<Run[]> {
    await this.init();
    const expDir = nodePath.join(this.root, experimentId);
    const infos: RunInfo[] = [];
    for (const name of await subdirs(expDir)) {
      if (RESERVED.has(name) || !existsSync(nodePath.join(expDir, name, 'meta.yaml'))) continue;
      const info = await this.readRunInfo(nodePath.join(expDir, name));
      if (info.lifecycleStage === 'active') infos.push(info);
    }
    infos.sort((a, b) => b.startTime - a.startTime || (a.runId < b.runId ? -1 : 1));
    const out: Run[] = [];
    for (const i of infos.slice(0, options.maxResults ?? 1000)) out.push(await this.getRun(i.runId));
    return out;
  }
}
