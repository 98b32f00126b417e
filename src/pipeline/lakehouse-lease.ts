import { Lease, type LeaseOptions, type LeaseState } from '../storage/lease.js';
import { storeAt } from '../storage/locations.js';

/** Folder of the lease, under the lakehouse root (kept by `clear`). */
export const LEASE_PREFIX = '_lease/';

/** How often a holder refreshes its lease, and how long an unrefreshed lease stays valid. */
export const LEASE_TIMING = { refreshMs: 5_000, staleAfterMs: 30_000 };

/** Takes the lease of a lakehouse for a command that writes it (one run at a time). */
export function acquireLakehouseLease(
  root: string,
  command: string,
  options: LeaseOptions = {},
): Promise<Lease> {
  return Lease.acquire(storeAt(root), LEASE_PREFIX, command, {
    staleAfterMs: LEASE_TIMING.staleAfterMs,
    ...options,
  });
}

/** Who holds the lease of a lakehouse now (undefined when nobody does). */
export function lakehouseLease(root: string, options: LeaseOptions = {}): Promise<LeaseState | undefined> {
  return Lease.current(storeAt(root), LEASE_PREFIX, {
    staleAfterMs: LEASE_TIMING.staleAfterMs,
    ...options,
  });
}

/**
 * Runs `fn` holding the lakehouse's lease, refreshed in the background; `onLost` is called if
 * another process takes the lease over (this one was thought gone). The lease is released after.
 */
export async function withLakehouseLease<T>(
  root: string,
  command: string,
  fn: () => Promise<T>,
  onLost: (err: unknown) => void = () => undefined,
): Promise<T> {
  const lease = await acquireLakehouseLease(root, command);
  let refreshing: Promise<void> | undefined;
  const timer = setInterval(() => {
    refreshing ??= lease
      .refresh()
      .catch(onLost)
      .finally(() => (refreshing = undefined));
  }, LEASE_TIMING.refreshMs);
  timer.unref();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    await refreshing;
    await lease.release();
  }
}
