import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { localFilesOf } from './local-files.js';
import { ObjectExists, type ObjectStore } from './object-store.js';

/**
 * `put` of a copy of a local file the caller keeps (`putFile` may move its file away): a new object
 * is created straight from the file; an existing one is replaced by a staged copy moved in whole.
 */
export async function putCopyOf(store: ObjectStore, path: string, file: string): Promise<void> {
  try {
    await store.putFileIfAbsent(path, file);
    return;
  } catch (err) {
    if (!(err instanceof ObjectExists)) throw err;
  }
  const staging = await localFilesOf(store).staging();
  try {
    const copy = staging.file(nodePath.basename(file));
    await fs.copyFile(file, copy);
    await store.putFile(path, copy);
  } finally {
    await staging.dispose();
  }
}
