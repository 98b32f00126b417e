import { TweetlakeError } from '../errors.js';

/** The two scoring protocols tweetlake speaks to a model server. */
export type ServingProtocol = 'mlflow' | 'oip';

/** A model server endpoint named by a `--model` URI. */
export interface ModelServerEndpoint {
  protocol: ServingProtocol;
  /** The URL requests are POSTed to (`…/invocations`, or `…/v2/models/NAME[/versions/V]/infer`). */
  inferUrl: string;
  /** OIP: the model's metadata URL (`…/v2/models/NAME[/versions/V]`). */
  metadataUrl?: string;
  /** OIP: the model name (and version) in the URL. */
  modelName?: string;
  modelVersion?: string;
  /** The URI as given, without user info: safe to print and to key a cache with. */
  display: string;
}

export class InvalidModelServerUri extends TweetlakeError {
  constructor(uri: string, why: string) {
    super(
      'MODEL_SERVER_URI_INVALID',
      `cannot use model server '${uri}': ${why} (expected mlflow+http(s)://HOST[:PORT][/PATH] for the MLflow ` +
        `scoring protocol, e.g. mlflow+https://<workspace>/serving-endpoints/<name>, or ` +
        `oip+http(s)://HOST[:PORT]/v2/models/<name>[/versions/<v>] for the Open Inference Protocol v2)`,
      { domain: 'user' },
    );
  }
}

/** Whether a `--model` URI names a model server rather than a registered model or a folder. */
export function isModelServerUri(uri: string): boolean {
  return /^(mlflow|oip)\+https?:\/\//i.test(uri);
}

/**
 * Parses `mlflow+http(s)://…` (POST `<url>/invocations`, unless the path already ends in
 * `/invocations`) and `oip+http(s)://…/v2/models/NAME[/versions/V]` (POST `…/infer`).
 */
export function parseModelServerUri(uri: string): ModelServerEndpoint {
  const m = /^(mlflow|oip)\+(https?:\/\/.*)$/i.exec(uri);
  if (!m) throw new InvalidModelServerUri(uri, 'unknown scheme');
  const protocol = m[1]!.toLowerCase() as ServingProtocol;
  let url: URL;
  try {
    url = new URL(m[2]!);
  } catch {
    throw new InvalidModelServerUri(uri, 'not a URL');
  }
  if (url.username || url.password)
    throw new InvalidModelServerUri(uri, 'put the token in TWEETLAKE_MODEL_TOKEN, not in the URL');
  url.search = '';
  url.hash = '';
  const base = url.toString().replace(/\/+$/, '');
  const display = `${protocol}+${base}`;
  if (protocol === 'mlflow') {
    return {
      protocol,
      inferUrl: /\/invocations$/.test(base) ? base : `${base}/invocations`,
      display,
    };
  }
  const path = /^(.*\/v2\/models\/([^/]+))(?:\/versions\/([^/]+))?(?:\/infer)?$/.exec(base);
  if (!path) throw new InvalidModelServerUri(uri, 'an OIP URL names the model: …/v2/models/<name>');
  const metadataUrl = path[3] ? `${path[1]}/versions/${path[3]}` : path[1]!;
  return {
    protocol,
    inferUrl: `${metadataUrl}/infer`,
    metadataUrl,
    modelName: decodeURIComponent(path[2]!),
    ...(path[3] ? { modelVersion: decodeURIComponent(path[3]) } : {}),
    display: `${protocol}+${metadataUrl}`,
  };
}
