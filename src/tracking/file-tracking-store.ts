import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { localPathOf, openArtifactRepo, type ArtifactRepo } from '../mlflow/artifact-repo.js';
import type { ArtifactEntry } from '../mlflow/http-client.js';
import { StoreArtifactRepo } from '../mlflow/store-artifact-repo.js';
import { ObjectExists, type ObjectStore } from '../storage/object-store.js';
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
import {
  DEFAULT_EXPERIMENT_ID,
  RESERVED,
  STATUS_CODE,
  STATUS_NAME,
  experimentIdFor,
  parseMetricLine,
  readKeyFiles,
  readText,
  readYaml,
  subdirs,
  writeYaml,
  type Yaml,
} from './file-store-layout.js';

/**
 * MLflow's file store (`<root>/<experiment_id>/meta.yaml`, `<run_id>/{meta.yaml,metrics,params,tags,artifacts}`),
 * the layout `mlflow ui --backend-store-uri <root>` (with MLFLOW_ALLOW_FILE_STORE=true) opens and
 * `mlflow migrate-filestore` moves to SQLite. See docs/mlflow.md. It lives in an object store (a
 * local folder, S3, memory): paths below are relative to the store's root; folders are what the
 * objects' paths name, made empty only where the store has folders (MLflow expects `.trash` and a
 * run's four folders). One writer per run: a run's metric files are appended by read, add, put.
 */
export class FileTrackingStore implements TrackingStore {
  /** Run id -> the run's folder (`<experiment_id>/<run_id>`, or under `.trash/`). */
  private readonly runDirs = new Map<string, string>();
  private ready: Promise<void> | undefined;

  constructor(readonly store: ObjectStore) {}

  /** The store's root (a local path or a URI). */
  get root(): string {
    return this.store.root;
  }

  get location(): string {
    return this.root;
  }

  /** Creates the root with MLflow's Default experiment (id 0) and `.trash`, as MLflow's FileStore does. */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await this.store.makeFolder?.('.trash');
      await this.createExperimentDir(DEFAULT_EXPERIMENT_ID, 'Default', {});
    })();
    return this.ready;
  }

  private async createExperimentDir(
    id: string,
    name: string,
    tags: Record<string, string>,
  ): Promise<boolean> {
    // meta.yaml, created if absent, is the claim: an experiment is there once it is. Its tags go
    // first, so that a reader who sees it sees them (a creator that loses the race may add its own).
    const meta = `${id}/meta.yaml`;
    if (await this.store.head(meta)) return false;
    for (const [k, v] of Object.entries(tags)) {
      checkKey('tag', k);
      await this.store.put(`${id}/tags/${k}`, v);
    }
    const now = Date.now();
    const body = stringify({
      artifact_location: this.store.location(id),
      creation_time: now,
      experiment_id: id,
      last_update_time: now,
      lifecycle_stage: 'active',
      name,
    });
    try {
      await this.store.putIfAbsent(meta, body);
    } catch (err) {
      if (err instanceof ObjectExists) return false;
      throw err;
    }
    return true;
  }

  /** The experiment in folder `dir` (`<id>` or `.trash/<id>`); undefined when it has no meta.yaml. */
  private async readExperiment(dir: string): Promise<Experiment | undefined> {
    const meta = await readYaml(this.store, `${dir}/meta.yaml`);
    if (!meta) return undefined;
    return {
      experimentId: String(meta.experiment_id),
      name: String(meta.name),
      artifactLocation: String(meta.artifact_location ?? this.store.location(dir)),
      lifecycleStage: String(meta.lifecycle_stage ?? 'active'),
      tags: await readKeyFiles(this.store, `${dir}/tags`),
      ...(meta.creation_time != null ? { creationTime: Number(meta.creation_time) } : {}),
      ...(meta.last_update_time != null ? { lastUpdateTime: Number(meta.last_update_time) } : {}),
    };
  }

  /** The experiments in `folder` ('' or '.trash'). */
  private async experiments(folder: string): Promise<Experiment[]> {
    const out: Experiment[] = [];
    for (const id of await subdirs(this.store, folder)) {
      if (!/^\d+$/.test(id)) continue;
      const e = await this.readExperiment(folder === '' ? id : `${folder}/${id}`);
      if (e) out.push(e);
    }
    return out;
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    await this.init();
    // tweetlake's own experiments are at the id their name gives: one read, not a listing of the store
    const derived = await this.readExperiment(experimentIdFor(name));
    if (derived?.name === name) return derived;
    return (await this.experiments('')).find((e) => e.name === name);
  }

  async getOrCreateExperiment(name: string, tags: Record<string, string> = {}): Promise<Experiment> {
    if (!name.trim()) throw new InvalidTrackingInput('an experiment needs a name');
    const found = await this.getExperimentByName(name);
    if (found) return found;
    if ((await this.experiments('.trash')).some((e) => e.name === name)) {
      throw new InvalidTrackingInput(
        `experiment '${name}' was deleted but is still in ${this.store.location('.trash')}: restore it (mlflow experiments restore) or delete it for good (mlflow gc)`,
      );
    }
    const id = experimentIdFor(name);
    await this.createExperimentDir(id, name, tags);
    const e = await this.readExperiment(id);
    if (!e || e.name !== name) {
      throw new InvalidTrackingInput(
        `experiment id ${id} for '${name}' is taken by '${e?.name}' in ${this.root}; rename one of them`,
      );
    }
    return e;
  }

  async createRun(experimentId: string, options: CreateRunOptions = {}): Promise<RunInfo> {
    await this.init();
    const exp = /^\d+$/.test(experimentId) ? await this.readExperiment(experimentId) : undefined;
    if (!exp) throw new TrackingNotFound(`experiment ${experimentId}`, this.root);
    const runName = options.runName ?? options.tags?.['mlflow.runName'] ?? defaultRunName();
    const runId = randomUUID().replace(/-/g, '');
    const runDir = `${experimentId}/${runId}`;
    const info: RunInfo = {
      runId,
      experimentId,
      runName,
      userId: options.tags?.['mlflow.user'] ?? runUser(),
      status: 'RUNNING',
      startTime: options.startTime ?? Date.now(),
      artifactUri: this.store.location(`${runDir}/artifacts`),
      lifecycleStage: 'active',
    };
    for (const d of ['metrics', 'params', 'tags', 'artifacts'])
      await this.store.makeFolder?.(`${runDir}/${d}`);
    await this.writeRunMeta(runDir, info);
    this.runDirs.set(runId, runDir);
    await this.writeKeyFiles(runDir, 'tags', systemRunTags(runName, options.tags));
    return info;
  }

  private async writeRunMeta(runDir: string, info: RunInfo): Promise<void> {
    await writeYaml(this.store, `${runDir}/meta.yaml`, {
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
      await this.store.put(`${runDir}/${kind}/${k}`, v);
    }
  }

  private async runDir(runId: string): Promise<string> {
    const known = this.runDirs.get(runId);
    if (known) return known;
    if (!/^[0-9a-zA-Z-]{1,64}$/.test(runId)) throw new TrackingNotFound(`run '${runId}'`, this.root);
    for (const base of ['', '.trash']) {
      for (const exp of await subdirs(this.store, base)) {
        if (!/^\d+$/.test(exp)) continue;
        const dir = base === '' ? `${exp}/${runId}` : `${base}/${exp}/${runId}`;
        if (await this.store.head(`${dir}/meta.yaml`)) {
          this.runDirs.set(runId, dir);
          return dir;
        }
      }
    }
    throw new TrackingNotFound(`run '${runId}'`, this.root);
  }

  private async readRunInfo(runDir: string): Promise<RunInfo> {
    return this.runInfoFrom(runDir, (await readYaml(this.store, `${runDir}/meta.yaml`)) ?? {});
  }

  private runInfoFrom(runDir: string, m: Yaml): RunInfo {
    return {
      runId: String(m.run_id ?? m.run_uuid),
      experimentId: String(m.experiment_id),
      runName: String(m.run_name ?? ''),
      userId: String(m.user_id ?? ''),
      status: STATUS_NAME[Number(m.status ?? 1)] ?? 'RUNNING',
      startTime: Number(m.start_time ?? 0),
      ...(m.end_time != null ? { endTime: Number(m.end_time) } : {}),
      artifactUri: String(m.artifact_uri ?? this.store.location(`${runDir}/artifacts`)),
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
      const path = `${dir}/params/${k}`;
      try {
        await this.store.putIfAbsent(path, v);
      } catch (err) {
        if (!(err instanceof ObjectExists)) throw err;
        const old = await readText(this.store, path);
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
      // An append as read, add, put: safe with one writer per run (the process that runs it).
      const path = `${dir}/metrics/${k}`;
      await this.store.put(path, `${(await readText(this.store, path)) ?? ''}${l.join('')}`);
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

  /** The run's artifacts: in this store when its artifact URI is the run's own folder here, else where the URI says. */
  private artifacts(dir: string, info: RunInfo): ArtifactRepo {
    const own = `${dir}/artifacts`;
    const uri = info.artifactUri;
    if ((localPathOf(uri) ?? uri) === this.store.location(own))
      return new StoreArtifactRepo(uri, this.store, own);
    return openArtifactRepo(uri);
  }

  async logArtifact(runId: string, localFile: string, artifactPath?: string): Promise<void> {
    const { dir, info } = await this.activeRun(runId);
    await this.artifacts(dir, info).uploadFile(localFile, artifactPath);
  }

  async logArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void> {
    const { dir, info } = await this.activeRun(runId);
    await this.artifacts(dir, info).uploadDir(localDir, artifactPath);
  }

  async listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]> {
    const dir = await this.runDir(runId);
    return this.artifacts(dir, await this.readRunInfo(dir)).list(path);
  }

  async downloadArtifacts(runId: string, path: string, destDir: string): Promise<string> {
    const dir = await this.runDir(runId);
    return this.artifacts(dir, await this.readRunInfo(dir)).download(path, destDir);
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
    for (const [key, text] of Object.entries(await readKeyFiles(this.store, `${dir}/metrics`))) {
      for (const line of text.split('\n')) if (line.trim()) history.push(parseMetricLine(key, line));
    }
    return {
      info,
      data: {
        metrics: latestMetrics(history),
        params: await readKeyFiles(this.store, `${dir}/params`),
        tags: await readKeyFiles(this.store, `${dir}/tags`),
      },
    };
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    checkKey('metric', key);
    const dir = await this.runDir(runId);
    const text = (await readText(this.store, `${dir}/metrics/${key}`)) ?? '';
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => parseMetricLine(key, l));
  }

  async searchRuns(experimentId: string, options: { maxResults?: number } = {}): Promise<Run[]> {
    await this.init();
    const infos: RunInfo[] = [];
    for (const name of /^\d+$/.test(experimentId) ? await subdirs(this.store, experimentId) : []) {
      const dir = `${experimentId}/${name}`;
      const meta = RESERVED.has(name) ? undefined : await readYaml(this.store, `${dir}/meta.yaml`);
      if (!meta) continue;
      const info = this.runInfoFrom(dir, meta);
      this.runDirs.set(info.runId, dir);
      if (info.lifecycleStage === 'active') infos.push(info);
    }
    infos.sort((a, b) => b.startTime - a.startTime || (a.runId < b.runId ? -1 : 1));
    const out: Run[] = [];
    for (const i of infos.slice(0, options.maxResults ?? 1000)) out.push(await this.getRun(i.runId));
    return out;
  }
}
