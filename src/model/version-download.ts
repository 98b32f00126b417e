import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { downloadToFile } from '../storage/download.js';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.js';
import { ModelDownloadFailed } from './registry.js';

/** Whether `dir` holds each of `files` (below `prefix`) at its size. */
async function holds(dir: string, prefix: string, files: ObjectMeta[]): Promise<boolean> {
  for (const f of files) {
    const local = nodePath.join(dir, ...f.path.slice(prefix.length).split('/'));
    const size = await fs.stat(local).then(
      (st) => st.size,
      () => -1,
    );
    if (size !== f.size) return false;
  }
  return true;
}

/**
 * The MLflow model folder below `prefix` in `store`, as the local folder `dest` an engine can open:
 * a copy there already (every file at its size) is reused; otherwise each file is streamed down
 * (a range at a time, never whole in memory) into a temporary folder renamed into place complete.
 */
export async function downloadVersion(
  store: ObjectStore,
  prefix: string,
  target: { dest: string; what: string },
): Promise<string> {
  const { dest, what } = target;
  const files = await store.list(`${prefix}/`);
  if (!files.some((f) => f.path === `${prefix}/MLmodel`))
    throw new ModelDownloadFailed(
      `${what} from ${store.location(prefix)}`,
      'it has no MLmodel file (not an MLflow model folder)',
    );
  if (await holds(dest, `${prefix}/`, files)) return dest;
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    for (const f of files) {
      const file = nodePath.join(tmp, ...f.path.slice(prefix.length + 1).split('/'));
      await fs.mkdir(nodePath.dirname(file), { recursive: true });
      await downloadToFile(store, f.path, file);
    }
    await fs.mkdir(nodePath.dirname(dest), { recursive: true });
    await fs.rm(dest, { recursive: true, force: true }); // a stale copy (the registry was made anew)
    await fs.rename(tmp, dest).catch(async (err: unknown) => {
      if (!(await holds(dest, `${prefix}/`, files))) throw err; // else another process finished first
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return dest;
}
