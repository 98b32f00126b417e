/**
 * A Hugging Face hub on loopback that serves folders as repos, with the hub's endpoints and
 * answers as `@huggingface/hub` and the hub's own clients meet them:
 *
 *   GET /api/models/<repo>/revision/<rev>           model info (sha, siblings)
 *   GET /api/models/<repo>/tree/<rev>?recursive=…   the file listing
 *   GET /<repo>/resolve/<rev>/<path>                a file: ETag, X-Repo-Commit, Range requests;
 *                                                   .onnx files redirect (302) to /cdn/…, as LFS files do
 *
 * A missing repo answers 404 RepoNotFound, a repo under `private/` 401, an unknown revision 404
 * RevisionNotFound, a missing file 404 EntryNotFound. Revisions: `main` and the repo's commit.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as nodePath from 'node:path';

export const HUB_COMMIT = '0123456789abcdef0123456789abcdef01234567';

export interface LocalHub {
  url: string;
  /** repo id -> folder served as that repo. */
  repos: Map<string, string>;
  /** Every request: path and Authorization header. */
  seen: { url: string; auth?: string }[];
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, errorCode?: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    ...(errorCode ? { 'x-error-code': errorCode } : {}),
  });
  res.end(JSON.stringify(body));
}

async function listFolder(
  root: string,
): Promise<{ path: string; type: 'file' | 'directory'; size: number }[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => {
      const full = nodePath.join(e.parentPath, e.name);
      const path = nodePath.relative(root, full).split(nodePath.sep).join('/');
      return {
        path,
        type: e.isDirectory() ? ('directory' as const) : ('file' as const),
        size: e.isFile() ? statSync(full).size : 0,
      };
    })
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function sendFile(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
  const data = await fs.readFile(file);
  const headers = {
    'x-repo-commit': HUB_COMMIT,
    etag: `"${createHash('sha1').update(data).digest('hex')}"`,
    'accept-ranges': 'bytes',
    'content-type': 'application/octet-stream',
  };
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${data.length}` });
    res.end(data.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, headers).end(data);
}

/** Starts the hub on 127.0.0.1 and a free port. */
export async function startHub(repos = new Map<string, string>()): Promise<LocalHub> {
  const seen: LocalHub['seen'] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({
      url: url.pathname,
      ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
    });
    const path = decodeURIComponent(url.pathname);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)(?:\/(.*))?$/.exec(path);
    const cdn = /^\/cdn\/(.+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(cdn ? `/${cdn[1]}` : path);
    const repo = api?.[1] ?? resolve?.[1];
    const revision = api?.[3] ?? resolve?.[2];
    if (!repo) return json(res, 404, { error: 'Not found' });
    if (repo.startsWith('private/')) return json(res, 401, { error: 'Repository not found' }, 'RepoNotFound');
    const folder = repos.get(repo);
    if (!folder) return json(res, 404, { error: 'Repository not found' }, 'RepoNotFound');
    if (revision !== 'main' && revision !== HUB_COMMIT)
      return json(res, 404, { error: `Invalid rev id: ${revision}` }, 'RevisionNotFound');
    const files = await listFolder(folder);
    if (api?.[2] === 'revision')
      return json(res, 200, {
        _id: createHash('sha1').update(repo).digest('hex').slice(0, 24),
        id: repo,
        sha: HUB_COMMIT,
        private: false,
        lastModified: '2026-11-25T10:00:00.000Z',
        siblings: files.filter((f) => f.type === 'file').map((f) => ({ rfilename: f.path })),
      });
    if (api) {
      const under = api[4] ? `${api[4]}/` : '';
      const recursive = url.searchParams.get('recursive') === 'true';
      return json(
        res,
        200,
        files
          .filter((f) => f.path.startsWith(under) && (recursive || !f.path.slice(under.length).includes('/')))
          .map((f) => ({
            type: f.type,
            path: f.path,
            size: f.size,
            oid: createHash('sha1').update(f.path).digest('hex'),
          })),
      );
    }
    const file = nodePath.join(folder, ...resolve![3]!.split('/'));
    if (resolve![3]!.includes('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    if (!cdn && file.endsWith('.onnx')) {
      // large files live on a CDN: the hub redirects there, as huggingface.co does for LFS files
      res.writeHead(302, { location: `/cdn${url.pathname}`, 'x-repo-commit': HUB_COMMIT }).end();
      return;
    }
    await sendFile(req, res, file);
  };
  const server = createServer((req, res) => {
    req.resume();
    handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    repos,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
