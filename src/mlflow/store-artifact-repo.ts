import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { TweetlakeError } from '../errors.js';
import { downloadToFile } from '../storage/download.js';
import { listLocalFiles } from '../storage/local-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { putCopyOf } from '../storage/put-copy.js';
import { cleanRel, type ArtifactRepo } from './artifact-repo.js';
import type { ArtifactEntry } from './http-client.js';

/**
 * Artifacts kept in an object store under `base` (a run's `artifacts` folder of a file store in a
 * local folder, S3 or memory). Files go up and come down streamed; folders are what paths name.
 */
export class StoreArtifactRepo implements ArtifactRepo {
  constructor(
    readonly uri: string,
    private readonly store: ObjectStore,
    private readonly base: string,
  ) {}

  private key(rel: string): string {
    return rel ? `${this.base}/${rel}` : this.base;
  }

  async list(path?: string): Promise<ArtifactEntry[]> {
    const rel = cleanRel(path);
    const prefix = `${this.key(rel)}/`;
    const entries = new Map<string, ArtifactEntry>();
    for (const m of await this.store.list(prefix)) {
      const rest = m.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      const p = rel ? `${rel}/${name}` : name;
      if (!entries.has(name))
        entries.set(name, slash < 0 ? { path: p, isDir: false, fileSize: m.size } : { path: p, isDir: true });
    }
    return [...entries.keys()].sort().map((name) => entries.get(name)!);
  }

  async uploadFile(localFile: string, path?: string): Promise<void> {
    const rel = cleanRel(path);
    const name = nodePath.basename(localFile);
    await putCopyOf(this.store, this.key(rel ? `${rel}/${name}` : name), localFile);
  }

  async uploadDir(localDir: string, path?: string): Promise<void> {
    const rel = cleanRel(path);
    for (const f of await listLocalFiles(localDir))
      await putCopyOf(
        this.store,
        this.key(rel ? `${rel}/${f}` : f),
        nodePath.join(localDir, ...f.split('/')),
      );
  }

  async download(path: string, destDir: string): Promise<string> {
    const rel = cleanRel(path);
    const dest = rel ? nodePath.join(destDir, nodePath.posix.basename(rel)) : destDir;
    if (rel && (await this.store.head(this.key(rel)))) {
      await fetchTo(this.store, this.key(rel), dest);
      return dest;
    }
    const prefix = `${this.key(rel)}/`;
    const files = await this.store.list(prefix);
    if (rel && files.length === 0)
      throw new TweetlakeError(
        'ARTIFACT_NOT_FOUND',
        `no artifact '${rel}' in ${this.uri}: list the run's artifacts to see what it has`,
        { domain: 'user' },
      );
    await fs.mkdir(dest, { recursive: true });
    for (const f of files)
      await fetchTo(this.store, f.path, nodePath.join(dest, ...f.path.slice(prefix.length).split('/')));
    return dest;
  }
}

/** Downloads one object to `file`, replacing what is there. */
async function fetchTo(store: ObjectStore, path: string, file: string): Promise<void> {
  await fs.mkdir(nodePath.dirname(file), { recursive: true });
  await fs.rm(file, { force: true });
  await downloadToFile(store, path, file);
}
