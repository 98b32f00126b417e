/** Downloading an object into a local file, a range at a time: never the whole object in memory. */
import { promises as fs } from 'node:fs';
import { ObjectNotFound, type ObjectStore } from './object-store.js';

/** Bytes read from the store per request while downloading an object. */
export const DOWNLOAD_CHUNK = 8 << 20;

/**
 * Writes the object `path` into the new local file `file` (which must not exist), a range at a
 * time; resolves to the bytes written. A missing object throws `ObjectNotFound`.
 */
export async function downloadToFile(store: ObjectStore, path: string, file: string): Promise<number> {
  const meta = await store.head(path);
  if (!meta) throw new ObjectNotFound(path);
  const handle = await fs.open(file, 'wx');
  let offset = 0;
  try {
    while (offset < meta.size) {
      const chunk = await store.getRange(path, offset, Math.min(DOWNLOAD_CHUNK, meta.size - offset));
      if (chunk.length === 0) break;
      await handle.write(chunk);
      offset += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return offset;
}
