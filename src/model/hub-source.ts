/**
 * Where an imported model's files come from: a Hugging Face hub (or a server with the hub's API,
 * through `@huggingface/hub`), or a local folder such as the output of Optimum's ONNX export.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { downloadFile, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { TweetlakeError, errorMessage } from '../errors.js';

/** The hub refused or lacks something the import needs. */
export class HubImportError extends TweetlakeError {
  constructor(
    message: string,
    options: { domain?: 'user' | 'external'; retryable?: boolean; cause?: unknown } = {},
  ) {
    super('HF_IMPORT_FAILED', message, {
      domain: options.domain ?? 'user',
      retryable: options.retryable ?? false,
      cause: options.cause,
    });
  }
}

/** A repo's files, listed once and copied one by one. */
export interface ModelSource {
  /** For messages: `<hub>/<repo> at revision <rev>`, or the folder. */
  readonly description: string;
  /** Every file (paths from the repo root, `/`-separated) and the commit the revision resolved to. */
  list(): Promise<{ paths: string[]; commit?: string }>;
  /** Streams one file to `dest`. */
  copy(path: string, dest: string): Promise<void>;
}

/** The hub's answer as a HubImportError that says what to do. */
function hubError(err: unknown, what: string, hubUrl: string): HubImportError {
  if (err instanceof HubImportError) return err;
  if (err instanceof HubApiError) {
    if (err.statusCode === 401 || err.statusCode === 403)
      return new HubImportError(
        `${what} was not found on ${hubUrl}, or the hub refused it (${err.statusCode}: private or gated): check the repo id and revision; for a private or gated repo accept its terms on the hub and set HF_TOKEN`,
        { cause: err },
      );
    if (err.statusCode === 404)
      return new HubImportError(`${what} was not found on ${hubUrl}: check the repo id and revision`, {
        cause: err,
      });
    return new HubImportError(`${what}: the hub answered ${err.statusCode} (${err.message})`, {
      domain: 'external',
      retryable: err.statusCode === 429 || err.statusCode >= 500,
      cause: err,
    });
  }
  return new HubImportError(
    `cannot reach ${hubUrl} for ${what} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); without internet, set HF_ENDPOINT (or --hub) to a reachable mirror`,
    { domain: 'external', retryable: true, cause: err },
  );
}

/** fetch that sends the token to the hub itself (not to the CDN it redirects large files to). */
function authorizedFetch(hubUrl: string, token: string | undefined): typeof fetch {
  const origin = new URL(hubUrl).origin;
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    if (token && url.origin === origin) headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

async function streamTo(body: ReadableStream<Uint8Array>, dest: string): Promise<void> {
  await fs.mkdir(nodePath.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), createWriteStream(part));
  await fs.rename(part, dest);
}

/** A repo on a hub at a revision; files are downloaded at the commit the revision resolved to. */
export function hubSource(
  repoId: string,
  options: { hubUrl: string; revision: string; token?: string },
): ModelSource {
  const { hubUrl, revision } = options;
  const what = `${repoId} at revision '${revision}'`;
  const fetch = authorizedFetch(hubUrl, options.token);
  let pinned = encodeURIComponent(revision);
  return {
    description: `${hubUrl}/${repoId} at revision '${revision}'`,
    async list() {
      try {
        const info = await modelInfo({ name: repoId, revision, hubUrl, fetch, additionalFields: ['sha'] });
        const commit = typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : undefined;
        if (commit) pinned = commit;
        const paths: string[] = [];
        for await (const f of listFiles({ repo: repoId, revision: pinned, recursive: true, hubUrl, fetch }))
          if (f.type === 'file') paths.push(f.path);
        return { paths: paths.sort(), ...(commit ? { commit } : {}) };
      } catch (err) {
        throw hubError(err, what, hubUrl);
      }
    },
    async copy(path, dest) {
      try {
        const blob = await downloadFile({ repo: repoId, path, revision: pinned, hubUrl, fetch });
        if (!blob) throw new HubImportError(`${repoId}/${path} was listed but the hub has no such file`);
        await streamTo(blob.stream(), dest);
      } catch (err) {
        throw hubError(err, `${repoId}/${path}`, hubUrl);
      }
    },
  };
}

/** A folder in the Hugging Face layout on this machine (e.g. what `optimum-cli export onnx` wrote). */
export function folderSource(dir: string): ModelSource {
  const root = nodePath.resolve(dir);
  return {
    description: root,
    async list() {
      const entries = await fs
        .readdir(root, { recursive: true, withFileTypes: true })
        .catch((err: unknown) => {
          throw new HubImportError(`cannot read the model folder ${root}: ${errorMessage(err)}`, {
            cause: err,
          });
        });
      const paths = entries
        .filter((e) => e.isFile())
        .map((e) =>
          nodePath.relative(root, nodePath.join(e.parentPath, e.name)).split(nodePath.sep).join('/'),
        )
        .filter((p) => !p.startsWith('.git/'));
      return { paths: paths.sort() };
    },
    async copy(path, dest) {
      await fs.mkdir(nodePath.dirname(dest), { recursive: true });
      await fs.copyFile(nodePath.join(root, ...path.split('/')), dest);
    },
  };
}
