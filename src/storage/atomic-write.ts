import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';

/** Contents of an atomic write: bytes or text, or a copy of a local file (streamed by the OS, never in memory). */
export type AtomicContents = Uint8Array | string | { copyOf: string };

/** The name of a temporary file beside `target`: hidden, and ending in `.tmp` so listings skip it. */
export function tempNameFor(target: string): string {
  return nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.${randomUUID()}.tmp`);
}

/** fsyncs a folder, so that a rename or link in it survives a power loss (not possible everywhere: skipped there). */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
  } catch (err) {
    if ((err as { code?: string }).code === 'EISDIR' || process.platform === 'win32') return;
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems cannot fsync a folder (EINVAL): the rename is still atomic there.
    if (!['EINVAL', 'EPERM', 'EBADF'].includes((err as { code?: string }).code ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

/** Writes `contents` to a new temporary file beside `target`, fsynced; returns its path. */
export async function writeTemp(target: string, contents: AtomicContents): Promise<string> {
  await fs.mkdir(nodePath.dirname(target), { recursive: true });
  const tmp = tempNameFor(target);
  const copy = typeof contents === 'object' && 'copyOf' in contents ? contents.copyOf : undefined;
  try {
    if (copy !== undefined) await fs.copyFile(copy, tmp, fs.constants.COPYFILE_EXCL);
    const handle = await fs.open(tmp, copy === undefined ? 'wx' : 'r+');
    try {
      if (copy === undefined) await handle.writeFile(contents as Uint8Array | string);
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

/**
 * The one atomic write of a local file: a temporary file beside it, fsynced, renamed over it, and
 * the folder fsynced. Readers see the old file or the new one, never a mix, even after a crash.
 */
export async function writeFileAtomic(target: string, contents: AtomicContents): Promise<void> {
  const tmp = await writeTemp(target, contents);
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(nodePath.dirname(target));
}

/**
 * Creates `target` from the temporary file `tmp` unless it exists (`link` fails with EEXIST, which
 * is rethrown), then removes `tmp` and fsyncs the folder: the file appears whole or not at all.
 */
export async function linkTempNoReplace(tmp: string, target: string): Promise<void> {
  try {
    await fs.link(tmp, target);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  await syncDir(nodePath.dirname(target));
}

/** Moves a local file (fsynced first) to `target`, replacing it atomically; copies when on another disk. */
export async function moveFileAtomic(from: string, target: string): Promise<void> {
  await fs.mkdir(nodePath.dirname(target), { recursive: true });
  const handle = await fs.open(from, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(from, target);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EXDEV') throw err;
    await writeFileAtomic(target, { copyOf: from });
    await fs.rm(from, { force: true });
    return;
  }
  await syncDir(nodePath.dirname(target));
}
