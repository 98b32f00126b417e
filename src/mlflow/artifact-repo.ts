/**
 * Where MLflow artifacts live, behind one small interface: a local folder (`file://` URIs and plain
 * paths, also when a server shares our file system) or an MLflow server's `mlflow-artifacts` proxy.
 * Other schemes (s3://, dbfs:/, gs://) are refused with what to do instead.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { TweetlakeError, isNotFound } from '../errors.js';
import { listLocalFiles } from '../storage/local-store.js';
import { artifactProxyPath, isHttpUri, type ArtifactEntry, type MlflowHttpClient } from './http-client.js';

/** An artifact location: list, upload into it, download from it. Paths are '/'-separated and relative to its root. */
export interface ArtifactRepo {
  /** The artifact URI it was opened from. */
  readonly uri: string;
  /** Entries directly under `path` ('' for the root), with paths relative to the root. */
  list(path?: string): Promise<ArtifactEntry[]>;
  /** Copies one local file to `<path>/<basename>` (or the root when `path` is empty). */
  uploadFile(localFile: string, path?: string): Promise<void>;
  /** Copies every file below `localDir` to below `path`. */
  uploadDir(localDir: string, path?: string): Promise<void>;
  /** Copies the file or folder `path` ('' for everything) into `destDir`; returns the local path of what came. */
  download(path: string, destDir: string): Promise<string>;
}

/** The artifact URI's scheme is one we cannot read or write. */
export class UnsupportedArtifactLocation extends TweetlakeError {
  constructor(uri: string) {
    super(
      'ARTIFACT_LOCATION_UNSUPPORTED',
      `cannot read or write artifacts at '${uri}': tweetlake supports mlflow-artifacts:/ (start the MLflow server with artifact serving, e.g. --artifacts-destination) and local file:// paths`,
      { domain: 'user' },
    );
  }
}

/** A relative artifact path with `/` separators and no leading or trailing `/`; `..` is refused. */
export function cleanRel(path: string | undefined): string {
  const p = (path ?? '').replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
  if (p.split('/').some((s) => s === '..')) {
    throw new TweetlakeError('ARTIFACT_PATH_INVALID', `artifact path '${path}' may not contain '..'`, {
      domain: 'user',
    });
  }
  return p;
}

/** Where an MLflow tracking or registry URI points: a server (REST) or MLflow's file store in a folder. */
export interface MlflowLocation {
  kind: 'rest' | 'file';
  location: string;
}

/**
 * The location an MLflow URI taken from `variables` names: http(s)://… is a server, a `file:` URI or
 * a path is a folder, and no URI is `lakehouseMlflowDir`. Other schemes (databricks, sqlite, …) are
 * refused with a message that says what to use instead.
 */
export function mlflowLocation(
  uri: string | undefined,
  variables: string,
  lakehouseMlflowDir: string,
): MlflowLocation {
  if (!uri) return { kind: 'file', location: lakehouseMlflowDir };
  if (isHttpUri(uri)) return { kind: 'rest', location: uri };
  const local = /^databricks(-uc)?(:|$)/.test(uri) ? undefined : localPathOf(uri);
  if (local === undefined) {
    throw new TweetlakeError(
      'MLFLOW_URI_UNSUPPORTED',
      `unsupported ${variables} '${uri}': use an http(s):// MLflow server (for Databricks: https://<workspace-host> with MLFLOW_TRACKING_TOKEN), a local folder (file:///path), or unset ${variables} to use ${lakehouseMlflowDir}`,
      { domain: 'user' },
    );
  }
  return { kind: 'file', location: local };
}

/** The local folder a `file:` URI or a path names; undefined for other schemes. */
export function localPathOf(uri: string): string | undefined {
  if (uri.startsWith('file:'))
    return fileURLToPath(uri.startsWith('file://') ? uri : `file://${uri.slice('file:'.length)}`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) && !/^[a-z]:[\\/]/i.test(uri)) return undefined;
  return nodePath.resolve(uri);
}

class LocalArtifactRepo implements ArtifactRepo {
  constructor(
    readonly uri: string,
    private readonly root: string,
  ) {}

  private abs(rel: string): string {
    return rel ? nodePath.join(this.root, ...rel.split('/')) : this.root;
  }

  async list(path?: string): Promise<ArtifactEntry[]> {
    const rel = cleanRel(path);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(this.abs(rel), { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const out: ArtifactEntry[] = [];
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) out.push({ path: p, isDir: true });
      else if (e.isFile()) out.push({ path: p, isDir: false, fileSize: (await fs.stat(this.abs(p))).size });
    }
    return out;
  }

  async uploadFile(localFile: string, path?: string): Promise<void> {
    const dir = this.abs(cleanRel(path));
    await fs.mkdir(dir, { recursive: true });
    await fs.copyFile(localFile, nodePath.join(dir, nodePath.basename(localFile)));
  }

  async uploadDir(localDir: string, path?: string): Promise<void> {
    const dir = this.abs(cleanRel(path));
    await fs.mkdir(dir, { recursive: true });
    await fs.cp(localDir, dir, { recursive: true });
  }

  async download(path: string, destDir: string): Promise<string> {
    const rel = cleanRel(path);
    const src = this.abs(rel);
    const dest = rel ? nodePath.join(destDir, nodePath.posix.basename(rel)) : destDir;
    await fs.mkdir(nodePath.dirname(dest), { recursive: true });
    await fs.cp(src, dest, { recursive: true });
    return dest;
  }
}

class ProxyArtifactRepo implements ArtifactRepo {
  constructor(
    readonly uri: string,
    private readonly base: string,
    private readonly http: MlflowHttpClient,
  ) {}

  private remote(rel: string): string {
    return [this.base, rel].filter((s) => s !== '').join('/');
  }

  async list(path?: string): Promise<ArtifactEntry[]> {
    const rel = cleanRel(path);
    const entries = await this.http.listArtifacts(this.remote(rel));
    // the proxy answers base names; make them relative to this repo's root
    return entries.map((e) => ({
      ...e,
      path: rel ? `${rel}/${nodePath.posix.basename(e.path)}` : nodePath.posix.basename(e.path),
    }));
  }

  async uploadFile(localFile: string, path?: string): Promise<void> {
    const rel = cleanRel(path);
    await this.http.uploadArtifact(
      localFile,
      this.remote(rel ? `${rel}/${nodePath.basename(localFile)}` : nodePath.basename(localFile)),
    );
  }

  async uploadDir(localDir: string, path?: string): Promise<void> {
    const rel = cleanRel(path);
    for (const f of await listLocalFiles(localDir))
      await this.http.uploadArtifact(
        nodePath.join(localDir, ...f.split('/')),
        this.remote(rel ? `${rel}/${f}` : f),
      );
  }

  async download(path: string, destDir: string): Promise<string> {
    const rel = cleanRel(path);
    const dest = rel ? nodePath.join(destDir, nodePath.posix.basename(rel)) : destDir;
    const entries = await this.list(rel);
    if (entries.length === 0 && rel) {
      // a file (or nothing: the server answers 404, which surfaces as MlflowHttpError)
      await this.http.downloadArtifact(this.remote(rel), dest);
      return dest;
    }
    await fs.mkdir(dest, { recursive: true });
    const walk = async (list: ArtifactEntry[]): Promise<void> => {
      for (const e of list) {
        const sub = rel ? e.path.slice(rel.length + 1) : e.path;
        if (e.isDir) await walk(await this.list(e.path));
        else await this.http.downloadArtifact(this.remote(e.path), nodePath.join(dest, ...sub.split('/')));
      }
    };
    await walk(entries);
    return dest;
  }
}

/** Opens the artifact location an MLflow artifact URI names (`http` is needed for `mlflow-artifacts:` URIs). */
export function openArtifactRepo(uri: string, http?: MlflowHttpClient): ArtifactRepo {
  const proxy = artifactProxyPath(uri);
  if (proxy !== undefined) {
    if (!http)
      throw new UnsupportedArtifactLocation(`${uri} (no MLflow server configured: set MLFLOW_TRACKING_URI)`);
    return new ProxyArtifactRepo(uri, proxy, http);
  }
  const local = localPathOf(uri);
  if (local === undefined) throw new UnsupportedArtifactLocation(uri);
  return new LocalArtifactRepo(uri, local);
}
