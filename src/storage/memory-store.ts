import { promises as fs } from 'node:fs';
import { compareBytes } from './local-store.js';
import { ObjectExists, ObjectNotFound, type ObjectMeta, type ObjectStore } from './object-store.js';

interface Entry {
  data: Uint8Array;
  lastModified: number;
}

/**
 * An object store in memory (for tests and small scratch use). It has no folders and no local
 * files: DuckDB reaches its objects through the download cache of `localFilesOf`, as it would a
 * remote store's, so code tested against it does not depend on local paths.
 */
export class MemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Entry>();
  private clock = 0;

  constructor(readonly root = `memory://${Math.random().toString(36).slice(2, 10)}`) {}

  location(path: string): string {
    return `${this.root}/${path}`;
  }

  /** Modification times strictly increase, so that ordering by time is ordering by write. */
  private now(): number {
    this.clock = Math.max(this.clock + 1, Date.now());
    return this.clock;
  }

  private entry(path: string): Entry {
    const e = this.objects.get(path);
    if (!e) throw new ObjectNotFound(path);
    return e;
  }

  async get(path: string): Promise<Uint8Array> {
    return this.entry(path).data.slice();
  }

  async getRange(path: string, start: number, length: number): Promise<Uint8Array> {
    return this.entry(path).data.slice(start, start + length);
  }

  async head(path: string): Promise<ObjectMeta | undefined> {
    const e = this.objects.get(path);
    return e ? { path, size: e.data.length, lastModified: e.lastModified } : undefined;
  }

  async put(path: string, data: Uint8Array | string): Promise<void> {
    this.objects.set(path, { data: bytes(data), lastModified: this.now() });
  }

  async putIfAbsent(path: string, data: Uint8Array | string): Promise<void> {
    if (this.objects.has(path)) throw new ObjectExists(path);
    await this.put(path, data);
  }

  async putFile(path: string, file: string): Promise<void> {
    await this.put(path, await fs.readFile(file));
    await fs.rm(file, { force: true });
  }

  async putFileIfAbsent(path: string, file: string): Promise<void> {
    if (this.objects.has(path)) throw new ObjectExists(path);
    const data = await fs.readFile(file);
    if (this.objects.has(path)) throw new ObjectExists(path);
    await this.put(path, data);
  }

  async delete(path: string): Promise<void> {
    this.objects.delete(path);
  }

  async list(prefix: string, startAfter?: string): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    for (const [path, e] of this.objects) {
      if (path.startsWith(prefix) && (startAfter === undefined || compareBytes(path, startAfter) > 0))
        out.push({ path, size: e.data.length, lastModified: e.lastModified });
    }
    return out.sort((a, b) => compareBytes(a.path, b.path));
  }

  async listFrom(prefix: string, startAfter: string): Promise<ObjectMeta[]> {
    const dir = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    return (await this.list(dir)).filter(
      (m) => !m.path.slice(dir.length).includes('/') && compareBytes(m.path, startAfter) > 0,
    );
  }
}

function bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data.slice();
}
