import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { linkTempNoReplace, moveFileAtomic, writeFileAtomic, writeTemp } from './atomic-write.js';
import { stagingAt, type LocalFiles, type OpenedFiles, type StagingDir } from './local-files.js';
import {
  ObjectExists,
  ObjectNotFound,
  type ObjectMeta,
  type ObjectStore,
  type RootStatus,
} from './object-store.js';
import { osCode, StoreIOError } from './store-errors.js';

/** Folder of a table (or any store) where DuckDB stages files before they are moved in (VACUUM cleans leftovers). */
export const STAGING_DIR = '_tweetlake_staging';

/**
 * Object store over a local directory. Writes go through the one atomic write (src/storage/atomic-write.ts):
 * a temporary file, fsynced, then visible in one step: `link` for put-if-absent (fails with EEXIST if
 * the name is taken, and never exposes a partly written file) and `rename` for put.
 */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly localFiles: LocalFiles;

  constructor(root: string) {
    this.root = nodePath.resolve(root);
    this.localFiles = {
      open: async (paths): Promise<OpenedFiles> => ({
        files: paths.map((p) => this.fsPath(p)),
        release: async () => {},
      }),
      // Inside the store, so that putFile is a rename on the same disk.
      staging: async (): Promise<StagingDir> => {
        const staging = await stagingAt(this.fsPath(`${STAGING_DIR}/${randomUUID()}`));
        return {
          ...staging,
          dispose: async () => {
            await staging.dispose();
            await this.removeEmptyFolders([`${STAGING_DIR}/x`]); // only if no other write is staging
          },
        };
      },
    };
  }

  /** The file of an object. */
  private fsPath(path: string): string {
    return nodePath.join(this.root, ...path.split('/'));
  }

  location(path: string): string {
    return this.fsPath(path);
  }

  private failed(operation: string, path: string, err: unknown): StoreIOError {
    return new StoreIOError(operation, this.fsPath(path), osCode(err), err);
  }

  async rootStatus(): Promise<RootStatus> {
    try {
      const st = await fs.stat(this.root);
      if (!st.isDirectory()) return { kind: 'not-a-folder' };
      await fs.readdir(this.root);
      return { kind: 'ok' };
    } catch (err) {
      const code = osCode(err);
      if (code === 'ENOENT') return { kind: 'missing' };
      if (code === 'ENOTDIR') return { kind: 'not-a-folder' };
      if (code === 'EACCES' || code === 'EPERM') return { kind: 'unreadable', reason: 'permission denied' };
      throw this.failed('reading', '', err);
    }
  }

  async get(path: string): Promise<Uint8Array> {
    try {
      return await fs.readFile(this.fsPath(path));
    } catch (err) {
      if (osCode(err) === 'ENOENT') throw new ObjectNotFound(path);
      throw this.failed('reading', path, err);
    }
  }

  async getRange(path: string, start: number, length: number): Promise<Uint8Array> {
    let handle;
    try {
      handle = await fs.open(this.fsPath(path), 'r');
    } catch (err) {
      if (osCode(err) === 'ENOENT') throw new ObjectNotFound(path);
      throw this.failed('reading', path, err);
    }
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, start);
      return buf.subarray(0, bytesRead);
    } catch (err) {
      throw this.failed('reading', path, err);
    } finally {
      await handle.close();
    }
  }

  async head(path: string): Promise<ObjectMeta | undefined> {
    try {
      const st = await fs.stat(this.fsPath(path));
      if (!st.isFile()) return undefined;
      return { path, size: st.size, lastModified: Math.floor(st.mtimeMs) };
    } catch (err) {
      // ENOTDIR: a folder on the way is a file, so no object has this path.
      if (osCode(err) === 'ENOENT' || osCode(err) === 'ENOTDIR') return undefined;
      throw this.failed('reading', path, err);
    }
  }

  async put(path: string, data: Uint8Array | string): Promise<void> {
    try {
      await writeFileAtomic(this.fsPath(path), data);
    } catch (err) {
      throw this.failed('writing', path, err);
    }
  }

  async putFile(path: string, file: string): Promise<void> {
    try {
      await moveFileAtomic(file, this.fsPath(path));
    } catch (err) {
      throw this.failed('writing', path, err);
    }
  }

  async putIfAbsent(path: string, data: Uint8Array | string): Promise<void> {
    await this.createFrom(path, data);
  }

  async putFileIfAbsent(path: string, file: string): Promise<void> {
    await this.createFrom(path, { copyOf: file });
  }

  private async createFrom(path: string, data: Uint8Array | string | { copyOf: string }): Promise<void> {
    const target = this.fsPath(path);
    try {
      await linkTempNoReplace(await writeTemp(target, data), target);
    } catch (err) {
      if (osCode(err) === 'EEXIST') throw new ObjectExists(path);
      // The caller's local file is missing: its own error, not the store's.
      if (typeof data === 'object' && 'copyOf' in data && (err as { path?: string }).path === data.copyOf)
        throw err;
      throw this.failed('writing', path, err);
    }
  }

  async delete(path: string): Promise<void> {
    try {
      await fs.rm(this.fsPath(path), { force: true });
    } catch (err) {
      throw this.failed('deleting', path, err);
    }
  }

  async makeFolder(path: string): Promise<void> {
    try {
      await fs.mkdir(this.fsPath(path), { recursive: true });
    } catch (err) {
      throw this.failed('writing', path, err);
    }
  }

  async removeEmptyFolders(deleted: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const p of deleted) {
      for (let d = nodePath.posix.dirname(p); d !== '.' && d !== ''; d = nodePath.posix.dirname(d))
        dirs.add(d);
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      try {
        await fs.rmdir(this.fsPath(d));
      } catch (err) {
        // not empty (or already gone): keep it
        if (!['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(osCode(err) ?? ''))
          throw this.failed('deleting', d, err);
      }
    }
  }

  async list(prefix: string, startAfter?: string): Promise<ObjectMeta[]> {
    // List the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirPart = slash >= 0 ? prefix.slice(0, slash) : '';
    const out: ObjectMeta[] = [];
    await this.walk(dirPart, out); // in byte order already
    return out.filter(
      (m) => m.path.startsWith(prefix) && (startAfter === undefined || compareBytes(m.path, startAfter) > 0),
    );
  }

  async listFrom(prefix: string, startAfter: string): Promise<ObjectMeta[]> {
    const dir = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    let names: string[];
    try {
      names = await fs.readdir(this.fsPath(dir));
    } catch (err) {
      if (osCode(err) === 'ENOENT' || osCode(err) === 'ENOTDIR') return [];
      throw this.failed('listing', dir, err);
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
    let files;
    try {
      files = await listLocalFiles(this.fsPath(dir));
    } catch (err) {
      throw this.failed('listing', dir, err);
    }
    for (const rel of files) {
      if (/(^|\/)\.[^/]*\.tmp$/.test(rel)) continue;
      const meta = await this.head(dir === '' ? rel : `${dir}/${rel}`);
      if (meta) out.push(meta);
    }
  }
}

/**
 * Paths, relative to `dir` with '/' separators, of every regular file below it, in byte order;
 * none when `dir` does not exist (ENOENT, or ENOTDIR: it is a file). Other failures throw.
 * Shared by the object store, the tracking store and artifact uploads.
 */
export async function listLocalFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(rel ? nodePath.join(dir, ...rel.split('/')) : dir, { withFileTypes: true });
    } catch (err) {
      if (osCode(err) === 'ENOENT' || osCode(err) === 'ENOTDIR') return;
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
