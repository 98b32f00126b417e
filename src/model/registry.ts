import { TweetlakeError } from '../errors.js';

/** A model version as the registry knows it. */
export interface ModelVersionInfo {
  name: string;
  version: string;
  currentStage: string;
  aliases: string[];
  /** Where the model's files are (a local path, file://, mlflow-artifacts:/, runs:/ ...). */
  source: string;
  runId?: string;
  status: string;
  description?: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
}

export interface RegisteredModelInfo {
  name: string;
  description?: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  /** alias -> version */
  aliases: Record<string, string>;
  versions: ModelVersionInfo[];
}

/** The model registry: MLflow's file store on disk, or an MLflow server over REST. */
export interface ModelRegistry {
  /** Where it is (a folder or a server URL), for messages. */
  readonly location: string;
  listModels(): Promise<RegisteredModelInfo[]>;
  getModel(name: string): Promise<RegisteredModelInfo | undefined>;
  /** Registers a new version from a local MLflow model folder; creates the registered model if needed. */
  createVersion(
    name: string,
    modelDir: string,
    options?: { description?: string; runId?: string },
  ): Promise<ModelVersionInfo>;
  getVersion(name: string, version: string): Promise<ModelVersionInfo>;
  transitionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting?: boolean,
  ): Promise<ModelVersionInfo>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  /** A local folder holding the version's MLflow model (downloaded into `cacheDir` when remote). */
  localModelDir(version: ModelVersionInfo, cacheDir: string): Promise<string>;
}

export class ModelNotFound extends TweetlakeError {
  constructor(what: string, where: string) {
    super(
      'MODEL_NOT_FOUND',
      `${what} is not in the model registry at ${where} (see 'tweetlake model list')`,
      {
        domain: 'user',
      },
    );
  }
}

/** A version's files are not a model tweetlake can read. */
export class ModelDownloadFailed extends TweetlakeError {
  constructor(what: string, why: string) {
    super('MODEL_DOWNLOAD_FAILED', `cannot download ${what}: ${why}`, { domain: 'external' });
  }
}
