import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import {
  ObjectExists,
  ObjectNotFound,
  type ObjectMeta,
  type ObjectStore,
  type RootStatus,
} from './object-store.js';

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * Object store over a local directory. Writes go to a temporary file that is fsynced first, then
 * become visible in one step: `link` for put-if-absent (fails with EEXIST if the name is taken, and
 * never exposes a partly written file) and `rename` for put.
 */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = nodePath.resolve(root);
  }

  localPath(path: string): string {
    return nodePath.join(this.root, ...path.split('/'));
  }

  async rootStatus(): Promise<RootStatus> {
    try {
      const st = await fs.stat(this.root);
      if (!st.isDirectory()) return { kind: 'not-a-folder' };
      await fs.readdir(this.root);
      return { kind: 'ok' };
    } catch (err) {
      if (isCode(err, 'ENOENT')) return { kind: 'missing' };
      if (isCode(err, 'ENOTDIR')) return { kind: 'not-a-folder' };
      if (isCode(err, 'EACCES') || isCode(err, 'EPERM'))
        return { kind: 'unreadable', reason: 'permission denied' };
      throw err;
    }
  }

  async get(path: string): Promise<Uint8Array> {
    try {
      return await fs.readFile(this.localPath(path));
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new ObjectNotFound(path);
      throw err;
    }
  }

  async getRange(path: string, start: number, length: number): Promise<Uint8Array> {
    let handle;
    try {
      handle = await fs.open(this.localPath(path), 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new ObjectNotFound(path);
      throw err;
    }
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, start);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async head(path: string): Promise<ObjectMeta | undefined> {
    try {
      const st = await fs.stat(this.localPath(path));
      if (!st.isFile()) return undefined;
      return { path, size: st.size, lastModified: Math.floor(st.mtimeMs) };
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  /** Writes a temporary file beside `path` (its contents: `data`, or a copy of the local file `from`), fsynced. */
  private async writeTemp(path: string, data: Uint8Array | string | { from: string }): Promise<string> {
    const target = this.localPath(path);
    const dir = nodePath.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    const tmp = nodePath.join(dir, `.${nodePath.basename(target)}.${randomUUID()}.tmp`);
    const from = typeof data === 'object' && 'from' in data ? data.from : undefined;
    try {
      if (from !== undefined) await fs.copyFile(from, tmp, fs.constants.COPYFILE_EXCL);
      const handle = await fs.open(tmp, from === undefined ? 'wx' : 'r+');
      try {
        if (from === undefined) await handle.writeFile(data as Uint8Array | string);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return tmp;
  }

  async put(path: string, data: Uint8Array | string): Promise<void> {
    const tmp = await this.writeTemp(path, data);
    try {
      await fs.rename(tmp, this.localPath(path));
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async putIfAbsent(path: string, data: Uint8Array | string): Promise<void> {
    await this.linkTemp(path, await this.writeTemp(path, data));
  }

  async putFileIfAbsent(path: string, file: string): Promise<void> {
    await this.linkTemp(path, await this.writeTemp(path, { from: file }));
  }

  /** Makes the temporary file `tmp` visible as `path` unless `path` exists (link fails with EEXIST). */
  private async linkTemp(path: string, tmp: string): Promise<void> {
    try {
      await fs.link(tmp, this.localPath(path));
    } catch (err) {
      if (isCode(err, 'EEXIST')) throw new ObjectExists(path);
      throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async delete(path: string): Promise<void> {
    await fs.rm(this.localPath(path), { force: true });
  }

  async list(prefix: string): Promise<ObjectMeta[]> {
    // List the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirPart = slash >= 0 ? prefix.slice(0, slash) : '';
    const out: ObjectMeta[] = [];
    await this.walk(dirPart, out); // in byte order already
    return out.filter((m) => m.path.startsWith(prefix));
  }

  async listFrom(prefix: string, startAfter: string): Promise<ObjectMeta[]> {
    const dir = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    let names: string[];
    try {
      names = await fs.readdir(this.localPath(dir));
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return [];
      throw err;
    }
    const out: ObjectMeta[] = [];
    for (const name of names) {
      if (name.startsWith('.') && name.endsWith('.tmp')) continue;
      const path = dir === '' ? name : `${dir}/${name}`;
      if (compareBytes(path, startAfter) <= 0) continue;
      const meta = await this.head(path);
      if (meta) out.push(meta);
    }
    return out.sort((a, b) => compareBytes(a.path, b.path));
  }

  private async walk(dir: string, out: ObjectMeta[]): Promise<void> {
    for (const rel of await listLocalFiles(this.localPath(dir))) {
      if (/(^|\/)\.[^/]*\.tmp$/.test(rel)) continue;
      const meta = await this.head(dir === '' ? rel : `${dir}/${rel}`);
      if (meta) out.push(meta);
    }
  }
}

/**
 * Paths, relative to `dir` with '/' separators, of every regular file below it, in byte order;
 * none when `dir` does not exist. Shared by the object store, the tracking store and artifact uploads.
 */
export async function listLocalFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(rel ? nodePath.join(dir, ...rel.split('/')) : dir, { withFileTypes: true });
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
      throw err;
    }
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push(path);
    }
  };
  await walk('');
  return out.sort(compareBytes);
}

/** Byte-order comparison of two strings (what object stores sort by), not locale order. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
