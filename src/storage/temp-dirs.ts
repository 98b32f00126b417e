import { rmSync } from 'node:fs';

const dirs = new Set<string>();
let hooked = false;

/**
 * Removes `dir` (recursively) when the process exits, or earlier when its owner calls `remove`: for
 * private temporary folders (DuckDB's spill folder, download caches) that would otherwise be left in
 * the OS's temporary folder by every process. One exit hook for all of them. A process killed by a
 * signal it does not handle leaves its folders, as any process does.
 */
export function removeAtExit(dir: string): { remove(): void } {
  dirs.add(dir);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return {
    remove: () => {
      dirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
