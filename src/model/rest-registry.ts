import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { osUserName } from '../os-user.js';
import * as nodePath from 'node:path';
import { TweetlakeError } from '../errors.js';
import { openArtifactRepo } from '../mlflow/artifact-repo.js';
import { MlflowHttpError, type MlflowHttpClient } from '../mlflow/http-client.js';
import { canonicalStage } from './model-uri.js';
import {
  ModelDownloadFailed,
  ModelNotFound,
  type ModelRegistry,
  type ModelVersionInfo,
  type RegisteredModelInfo,
} from './registry.js';

/** Experiment that holds the runs whose artifacts are the files of registered versions. */
export const MODEL_UPLOAD_EXPERIMENT = 'tweetlake-models';

interface RestModelVersion {
  name: string;
  version: string | number;
  creation_timestamp?: string | number;
  last_updated_timestamp?: string | number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  status_message?: string;
  aliases?: string[];
}

interface RestRegisteredModel {
  name: string;
  creation_timestamp?: string | number;
  last_updated_timestamp?: string | number;
  description?: string;
  aliases?: { alias: string; version: string | number }[];
}

interface RestRunInfo {
  run_id: string;
  experiment_id: string;
  artifact_uri: string;
}

function toVersion(v: RestModelVersion): ModelVersionInfo {
  return {
    name: v.name,
    version: String(v.version),
    currentStage: v.current_stage ?? 'None',
    aliases: v.aliases ?? [],
    source: v.source ?? '',
    ...(v.run_id ? { runId: v.run_id } : {}),
    status: v.status ?? 'READY',
    ...(v.description ? { description: v.description } : {}),
    creationTimestamp: Number(v.creation_timestamp ?? 0),
    lastUpdatedTimestamp: Number(v.last_updated_timestamp ?? 0),
  };
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof MlflowHttpError && err.errorCode === code;
}

/** A search filter literal (single quotes escaped as MLflow's parser expects). */
function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export { ModelDownloadFailed } from './registry.js';

/**
 * The model registry of an MLflow server, over its REST API. New versions' files are uploaded as
 * artifacts of a run (experiment `tweetlake-models`) through the server's mlflow-artifacts proxy, so
 * that any MLflow client can download them; downloads are cached in `cacheDir/<name>/<version>/`.
 */
export class RestModelRegistry implements ModelRegistry {
  constructor(
    private readonly http: MlflowHttpClient,
    private readonly options: { uploadExperiment?: string } = {},
  ) {}

  get location(): string {
    return this.http.baseUrl;
  }

  async listModels(): Promise<RegisteredModelInfo[]> {
    const names: string[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.get<{ registered_models?: RestRegisteredModel[]; next_page_token?: string }>(
        'registered-models/search',
        {
          max_results: 1000,
          page_token: pageToken,
        },
      );
      for (const m of r.registered_models ?? []) names.push(m.name);
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    const out: RegisteredModelInfo[] = [];
    for (const n of names.sort()) {
      const m = await this.getModel(n);
      if (m) out.push(m);
    }
    return out;
  }

  async getModel(name: string): Promise<RegisteredModelInfo | undefined> {
    let model: RestRegisteredModel;
    try {
      model = (
        await this.http.get<{ registered_model: RestRegisteredModel }>('registered-models/get', { name })
      ).registered_model;
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST')) return undefined;
      throw err;
    }
    const versions: ModelVersionInfo[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.get<{ model_versions?: RestModelVersion[]; next_page_token?: string }>(
        'model-versions/search',
        {
          filter: `name=${quote(name)}`,
          max_results: 1000,
          page_token: pageToken,
        },
      );
      for (const v of r.model_versions ?? []) versions.push(toVersion(v));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    versions.sort((a, b) => Number(a.version) - Number(b.version));
    const aliases: Record<string, string> = {};
    for (const a of model.aliases ?? []) aliases[a.alias] = String(a.version);
    // search results may leave a version's aliases out (the SQL store does): take them from the model
    for (const v of versions) {
      const own = Object.entries(aliases)
        .filter(([, ver]) => ver === v.version)
        .map(([a]) => a);
      v.aliases = [...new Set([...v.aliases, ...own])].sort();
    }
    return {
      name: model.name,
      ...(model.description ? { description: model.description } : {}),
      creationTimestamp: Number(model.creation_timestamp ?? 0),
      lastUpdatedTimestamp: Number(model.last_updated_timestamp ?? 0),
      aliases,
      versions,
    };
  }

  async createVersion(
    name: string,
    modelDir: string,
    options: { description?: string; runId?: string } = {},
  ): Promise<ModelVersionInfo> {
    if (!existsSync(nodePath.join(modelDir, 'MLmodel'))) {
      throw new TweetlakeError(
        'MODEL_INVALID',
        `${modelDir} is not an MLflow model folder (no MLmodel file)`,
        { domain: 'user' },
      );
    }
    const run = await this.uploadRun(name, modelDir, options.runId);
    try {
      await this.http.post('registered-models/create', { name });
    } catch (err) {
      if (!isCode(err, 'RESOURCE_ALREADY_EXISTS')) throw err;
    }
    const created = await this.http.post<{ model_version: RestModelVersion }>('model-versions/create', {
      name,
      source: `${run.artifact_uri.replace(/\/+$/, '')}/model`,
      run_id: run.run_id,
      ...(options.description ? { description: options.description } : {}),
    });
    return this.waitReady(toVersion(created.model_version));
  }

  /** Creates a run, uploads the model folder as its `model` artifact and ends the run. */
  private async uploadRun(name: string, modelDir: string, sourceRunId?: string): Promise<RestRunInfo> {
    const experimentId = await this.uploadExperimentId();
    const now = Date.now();
    const tags = [
      { key: 'mlflow.runName', value: `register-${name}` },
      { key: 'mlflow.source.name', value: 'tweetlake' },
      { key: 'mlflow.source.type', value: 'LOCAL' },
      { key: 'mlflow.user', value: osUserName() ?? 'unknown' },
      ...(sourceRunId ? [{ key: 'tweetlake.source_run_id', value: sourceRunId }] : []),
    ];
    const { run } = await this.http.post<{ run: { info: RestRunInfo } }>('runs/create', {
      experiment_id: experimentId,
      run_name: `register-${name}`,
      user_id: osUserName() ?? 'unknown',
      start_time: now,
      tags,
    });
    let status = 'FAILED';
    try {
      await openArtifactRepo(run.info.artifact_uri, this.http).uploadDir(modelDir, 'model');
      status = 'FINISHED';
    } finally {
      await this.http.post('runs/update', { run_id: run.info.run_id, status, end_time: Date.now() });
    }
    return run.info;
  }

  private async uploadExperimentId(): Promise<string> {
    const name = this.options.uploadExperiment ?? MODEL_UPLOAD_EXPERIMENT;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const r = await this.http.get<{ experiment: { experiment_id: string } }>('experiments/get-by-name', {
          experiment_name: name,
        });
        return r.experiment.experiment_id;
      } catch (err) {
        if (!isCode(err, 'RESOURCE_DOES_NOT_EXIST')) throw err;
      }
      try {
        return (await this.http.post<{ experiment_id: string }>('experiments/create', { name }))
          .experiment_id;
      } catch (err) {
        if (!isCode(err, 'RESOURCE_ALREADY_EXISTS')) throw err; // created concurrently: read it again
      }
    }
    throw new TweetlakeError(
      'MLFLOW_EXPERIMENT',
      `cannot get or create experiment '${name}' on ${this.location}`,
      { domain: 'external', retryable: true },
    );
  }

  private async waitReady(v: ModelVersionInfo): Promise<ModelVersionInfo> {
    const deadline = Date.now() + 120_000;
    let cur = v;
    while (cur.status === 'PENDING_REGISTRATION' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      cur = await this.getVersion(v.name, v.version);
    }
    if (cur.status !== 'READY') {
      throw new TweetlakeError(
        'MODEL_VERSION_NOT_READY',
        `version ${cur.version} of ${cur.name} is ${cur.status} on ${this.location}; check the server's logs`,
        {
          domain: 'external',
        },
      );
    }
    return cur;
  }

  async getVersion(name: string, version: string): Promise<ModelVersionInfo> {
    try {
      const r = await this.http.get<{ model_version: RestModelVersion }>('model-versions/get', {
        name,
        version,
      });
      return toVersion(r.model_version);
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST'))
        throw new ModelNotFound(`version ${version} of model '${name}'`, this.location);
      throw err;
    }
  }

  async transitionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting = false,
  ): Promise<ModelVersionInfo> {
    try {
      const r = await this.http.post<{ model_version: RestModelVersion }>('model-versions/transition-stage', {
        name,
        version,
        stage: canonicalStage(stage),
        archive_existing_versions: archiveExisting,
      });
      return toVersion(r.model_version);
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST'))
        throw new ModelNotFound(`version ${version} of model '${name}'`, this.location);
      throw err;
    }
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    try {
      await this.http.post('registered-models/alias', { name, alias, version });
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST'))
        throw new ModelNotFound(`version ${version} of model '${name}'`, this.location);
      throw err;
    }
  }

  /** The version an alias points at. */
  async getVersionByAlias(name: string, alias: string): Promise<ModelVersionInfo> {
    try {
      const r = await this.http.get<{ model_version: RestModelVersion }>('registered-models/alias', {
        name,
        alias,
      });
      return toVersion(r.model_version);
    } catch (err) {
      if (isCode(err, 'RESOURCE_DOES_NOT_EXIST') || isCode(err, 'INVALID_PARAMETER_VALUE'))
        throw new ModelNotFound(`models:/${name}@${alias}`, this.location);
      throw err;
    }
  }

  /** Where the server says the version's files are (model-versions/get-download-uri). */
  async downloadUri(name: string, version: string): Promise<string> {
    const r = await this.http.get<{ artifact_uri: string }>('model-versions/get-download-uri', {
      name,
      version,
    });
    return r.artifact_uri;
  }

  async localModelDir(version: ModelVersionInfo, cacheDir: string): Promise<string> {
    const dest = nodePath.join(cacheDir, version.name.replace(/[^A-Za-z0-9_.-]/g, '_'), version.version);
    if (existsSync(dest)) return dest; // only ever renamed into place complete
    const uri = await this.artifactUriOf(await this.downloadUri(version.name, version.version));
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await openArtifactRepo(uri, this.http).download('', tmp);
      if (!existsSync(nodePath.join(tmp, 'MLmodel'))) {
        throw new ModelDownloadFailed(
          `version ${version.version} of ${version.name} from ${uri}`,
          'it has no MLmodel file (not an MLflow model folder)',
        );
      }
      await fs.mkdir(nodePath.dirname(dest), { recursive: true });
      await fs.rename(tmp, dest).catch(async (err: { code?: string }) => {
        if (!existsSync(dest)) throw err; // else another process finished first: keep theirs
      });
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
    return dest;
  }

  /** Turns `runs:/ID/path` and `models:/m-ID` (MLflow 3 logged models) into the artifact URIs they stand for. */
  private async artifactUriOf(uri: string): Promise<string> {
    const run = /^runs:\/+([^/]+)\/?(.*)$/.exec(uri);
    if (run) {
      const r = await this.http.get<{ run: { info: RestRunInfo } }>('runs/get', { run_id: run[1]! });
      return [r.run.info.artifact_uri.replace(/\/+$/, ''), run[2]].filter(Boolean).join('/');
    }
    const logged = /^models:\/+(m-[0-9a-f]+)\/?(.*)$/.exec(uri);
    if (logged) {
      const r = await this.http.get<{ model: { info: { artifact_uri: string } } }>(
        `logged-models/${logged[1]!}`,
      );
      return [r.model.info.artifact_uri.replace(/\/+$/, ''), logged[2]].filter(Boolean).join('/');
    }
    return uri;
  }
}
