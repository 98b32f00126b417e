import { openArtifactRepo, type ArtifactRepo } from '../mlflow/artifact-repo.js';
import { MlflowHttpError, type ArtifactEntry, type MlflowHttpClient } from '../mlflow/http-client.js';
import {
  InvalidTrackingInput,
  TrackingNotFound,
  checkKey,
  defaultRunName,
  runUser,
  splitLogBatch,
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

interface RestKeyValue {
  key: string;
  value: string;
}
interface RestExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: string | number;
  last_update_time?: string | number;
  tags?: RestKeyValue[];
}
interface RestRunInfo {
  run_id?: string;
  run_uuid?: string;
  experiment_id: string;
  run_name?: string;
  user_id?: string;
  status?: RunStatus;
  start_time?: string | number;
  end_time?: string | number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}
interface RestMetric {
  key: string;
  value: number | string;
  timestamp?: string | number;
  step?: string | number;
}
interface RestRun {
  info: RestRunInfo;
  data?: { metrics?: RestMetric[]; params?: RestKeyValue[]; tags?: RestKeyValue[] };
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof MlflowHttpError && err.errorCode === code;
}

function kv(list: RestKeyValue[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));
}

function toExperiment(e: RestExperiment): Experiment {
  return {
    experimentId: String(e.experiment_id),
    name: e.name,
    artifactLocation: e.artifact_location ?? '',
    lifecycleStage: e.lifecycle_stage ?? 'active',
    tags: kv(e.tags),
    ...(e.creation_time != null ? { creationTime: Number(e.creation_time) } : {}),
    ...(e.last_update_time != null ? { lastUpdateTime: Number(e.last_update_time) } : {}),
  };
}

function toRunInfo(i: RestRunInfo): RunInfo {
  return {
    runId: String(i.run_id ?? i.run_uuid),
    experimentId: String(i.experiment_id),
    runName: i.run_name ?? '',
    userId: i.user_id ?? '',
    status: i.status ?? 'RUNNING',
    startTime: Number(i.start_time ?? 0),
    ...(i.end_time != null ? { endTime: Number(i.end_time) } : {}),
    artifactUri: i.artifact_uri ?? '',
    lifecycleStage: i.lifecycle_stage ?? 'active',
  };
}

function toMetric(m: RestMetric): Metric {
  return {
    key: m.key,
    value: Number(m.value),
    timestamp: Number(m.timestamp ?? 0),
    step: Number(m.step ?? 0),
  };
}

function toRun(r: RestRun): Run {
  return {
    info: toRunInfo(r.info),
    data: {
      metrics: Object.fromEntries((r.data?.metrics ?? []).map((m) => [m.key, Number(m.value)])),
      params: kv(r.data?.params),
      tags: kv(r.data?.tags),
    },
  };
}

/** MLflow tracking on a server, over its REST API; artifacts through the mlflow-artifacts proxy (or a shared folder). */
export class RestTrackingStore implements TrackingStore {
  private readonly artifactUris = new Map<string, string>();

  constructor(private readonly http: MlflowHttpClient) {}

  get location(): string {
    return this.http.baseUrl;
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const r = await this.http.get<{ experiment: RestExperiment }>('experiments/get-by-name', {
        experiment_name: name,
      });
      return toExperiment(r.experiment);
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST')) return undefined;
      throw err;
    }
  }

  async getOrCreateExperiment(name: string, tags: Record<string, string> = {}): Promise<Experiment> {
    if (!name.trim()) throw new InvalidTrackingInput('an experiment needs a name');
    for (let attempt = 0; attempt < 2; attempt++) {
      const found = await this.getExperimentByName(name);
      if (found) {
        if (found.lifecycleStage !== 'active') {
          throw new InvalidTrackingInput(
            `experiment '${name}' on ${this.location} is deleted: restore it in the MLflow UI or pick another name`,
          );
        }
        return found;
      }
      try {
        const tagList = Object.entries(tags).map(([key, value]) => ({ key, value }));
        await this.http.post<{ experiment_id: string }>('experiments/create', {
          name,
          ...(tagList.length ? { tags: tagList } : {}),
        });
      } catch (err) {
        if (!isCode(err, 'RESOURCE_ALREADY_EXISTS')) throw err; // created concurrently: read it again
      }
    }
    const e = await this.getExperimentByName(name);
    if (!e) throw new TrackingNotFound(`experiment '${name}'`, this.location);
    return e;
  }

  async createRun(experimentId: string, options: CreateRunOptions = {}): Promise<RunInfo> {
    const runName = options.runName ?? options.tags?.['mlflow.runName'] ?? defaultRunName();
    const tags = systemRunTags(runName, options.tags);
    for (const k of Object.keys(tags)) checkKey('tag', k);
    const r = await this.http.post<{ run: RestRun }>('runs/create', {
      experiment_id: experimentId,
      user_id: tags['mlflow.user'] ?? runUser(),
      run_name: runName,
      start_time: options.startTime ?? Date.now(),
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    const info = toRunInfo(r.run.info);
    this.artifactUris.set(info.runId, info.artifactUri);
    return info;
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    validateBatch(batch);
    for (const body of splitLogBatch(runId, batch)) await this.http.post('runs/log-batch', body);
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    checkKey('tag', key);
    await this.http.post('runs/set-tag', { run_id: runId, key, value });
  }

  private async repo(runId: string): Promise<ArtifactRepo> {
    let uri = this.artifactUris.get(runId);
    if (!uri) {
      uri = (await this.getRun(runId)).info.artifactUri;
      this.artifactUris.set(runId, uri);
    }
    return openArtifactRepo(uri, this.http);
  }

  async logArtifact(runId: string, localFile: string, artifactPath?: string): Promise<void> {
    await (await this.repo(runId)).uploadFile(localFile, artifactPath);
  }

  async logArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void> {
    await (await this.repo(runId)).uploadDir(localDir, artifactPath);
  }

  async listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]> {
    return (await this.repo(runId)).list(path);
  }

  async downloadArtifacts(runId: string, path: string, destDir: string): Promise<string> {
    return (await this.repo(runId)).download(path, destDir);
  }

  async endRun(runId: string, status: RunStatus = 'FINISHED', endTime: number = Date.now()): Promise<void> {
    await this.http.post('runs/update', { run_id: runId, status, end_time: endTime });
  }

  async getRun(runId: string): Promise<Run> {
    try {
      return toRun((await this.http.get<{ run: RestRun }>('runs/get', { run_id: runId })).run);
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST')) throw new TrackingNotFound(`run '${runId}'`, this.location);
      throw err;
    }
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    checkKey('metric', key);
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.get<{ metrics?: RestMetric[]; next_page_token?: string }>(
        'metrics/get-history',
        {
          run_id: runId,
          metric_key: key,
          max_results: 25_000,
          page_token: pageToken,
        },
      );
      for (const m of r.metrics ?? []) out.push(toMetric(m));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  async searchRuns(experimentId: string, options: { maxResults?: number } = {}): Promise<Run[]> {
    const want = options.maxResults ?? 1000;
    const out: Run[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.post<{ runs?: RestRun[]; next_page_token?: string }>('runs/search', {
        experiment_ids: [experimentId],
        run_view_type: 'ACTIVE_ONLY',
        max_results: Math.min(1000, want - out.length),
        order_by: ['attributes.start_time DESC'],
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      for (const run of r.runs ?? []) out.push(toRun(run));
      pageToken = r.next_page_token || undefined;
    } while (pageToken && out.length < want);
    return out;
  }
}
