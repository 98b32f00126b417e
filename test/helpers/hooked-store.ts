/**
 * An object store that runs a test's hook before each operation of a real store: a way to put
 * another writer's commit at an exact moment of an operation under test (interleaved commits).
 */
import type { ObjectMeta, ObjectStore } from '../../src/storage/object-store.js';

export type StoreOp =
  'get' | 'head' | 'put' | 'putIfAbsent' | 'putFile' | 'putFileIfAbsent' | 'delete' | 'list' | 'listFrom';

/** Runs before every call; may wait (the operation waits with it). */
export type StoreHook = (op: StoreOp, path: string) => Promise<void> | void;

export class HookedStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    private readonly hook: StoreHook,
  ) {}

  get root(): string {
    return this.inner.root;
  }

  location(path: string): string {
    return this.inner.location(path);
  }

  get localFiles(): ObjectStore['localFiles'] {
    return this.inner.localFiles;
  }

  async removeEmptyFolders(deleted: string[]): Promise<void> {
    await this.inner.removeEmptyFolders?.(deleted);
  }

  async get(path: string): Promise<Uint8Array> {
    await this.hook('get', path);
    return this.inner.get(path);
  }

  async getRange(path: string, start: number, length: number): Promise<Uint8Array> {
    await this.hook('get', path);
    return this.inner.getRange(path, start, length);
  }

  async head(path: string): Promise<ObjectMeta | undefined> {
    await this.hook('head', path);
    return this.inner.head(path);
  }

  async put(path: string, data: Uint8Array | string): Promise<void> {
    await this.hook('put', path);
    return this.inner.put(path, data);
  }

  async putIfAbsent(path: string, data: Uint8Array | string): Promise<void> {
    await this.hook('putIfAbsent', path);
    return this.inner.putIfAbsent(path, data);
  }

  async putFile(path: string, file: string): Promise<void> {
    await this.hook('putFile', path);
    return this.inner.putFile(path, file);
  }

  async putFileIfAbsent(path: string, file: string): Promise<void> {
    await this.hook('putFileIfAbsent', path);
    return this.inner.putFileIfAbsent(path, file);
  }

  async delete(path: string): Promise<void> {
    await this.hook('delete', path);
    return this.inner.delete(path);
  }

  async list(prefix: string, startAfter?: string): Promise<ObjectMeta[]> {
    await this.hook('list', prefix);
    return this.inner.list(prefix, startAfter);
  }

  async listFrom(prefix: string, startAfter: string): Promise<ObjectMeta[]> {
    await this.hook('listFrom', prefix);
    return this.inner.listFrom(prefix, startAfter);
  }
}
