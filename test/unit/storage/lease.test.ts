import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { Lease, LeaseHeld, LeaseLost } from '../../../src/storage/lease.js';

const dirs: string[] = [];
function store(): LocalObjectStore {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-lease-'));
  dirs.push(dir);
  return new LocalObjectStore(dir);
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('Lease over an object store', () => {
  it('lets one process hold it; a second is refused with the holder (pid, host, since, command)', async () => {
    const s = store();
    const a = await Lease.acquire(s, '_lease/', 'tweetlake run', {
      pid: 101,
      host: 'h1',
      isAlive: () => true,
    });
    const err = await Lease.acquire(s, '_lease/', 'tweetlake run --clear', {
      pid: 202,
      host: 'h1',
      isAlive: () => true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseHeld);
    expect((err as LeaseHeld).holder).toMatchObject({ pid: 101, host: 'h1', command: 'tweetlake run' });
    expect((err as Error).message).toMatch(/pid 101 on h1 since \d{4}-\d\d-\d\dT/);
    expect(await Lease.current(s, '_lease/', { isAlive: () => true, host: 'h1' })).toMatchObject({
      stale: false,
      holder: { pid: 101 },
    });
    await a.release();
    expect(await Lease.current(s, '_lease/')).toBeUndefined();
    const b = await Lease.acquire(s, '_lease/', 'again', { pid: 202, host: 'h1', isAlive: () => true });
    expect(b.info.pid).toBe(202);
  });

  it('takes over a lease whose process on this host is gone', async () => {
    const s = store();
    await Lease.acquire(s, '_lease/', 'killed run', { pid: 101, host: 'h1', isAlive: () => true });
    const dead = (pid: number) => pid !== 101;
    expect((await Lease.current(s, '_lease/', { host: 'h1', isAlive: dead }))?.stale).toBe(true);
    const b = await Lease.acquire(s, '_lease/', 'restart', { pid: 202, host: 'h1', isAlive: dead });
    expect(b.info.command).toBe('restart');
    // Only the new generation is left.
    expect(readdirSync(nodePath.join(s.root, '_lease'))).toHaveLength(1);
  });

  it('keeps a lease of another host while it is refreshed, takes it over once it is not', async () => {
    const s = store();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = { now: () => now, staleAfterMs: 30_000 };
    const a = await Lease.acquire(s, '_lease/', 'on h1', { ...clock, pid: 1, host: 'h1' });
    const other = { ...clock, pid: 2, host: 'h2', isAlive: () => false }; // h2 cannot see h1's pids
    now += 25_000;
    await a.refresh();
    now += 25_000; // 50 s after start, 25 s after the refresh
    await expect(Lease.acquire(s, '_lease/', 'on h2', other)).rejects.toBeInstanceOf(LeaseHeld);
    now += 10_000; // 35 s without a refresh
    const b = await Lease.acquire(s, '_lease/', 'on h2', other);
    expect(b.info.host).toBe('h2');
    // The old holder finds out at its next refresh, and does not release the new holder's lease.
    await expect(a.refresh()).rejects.toBeInstanceOf(LeaseLost);
    await a.release();
    expect((await Lease.current(s, '_lease/', other))?.holder.host).toBe('h2');
  });

  it('gives a stale lease to exactly one of many processes taking it over at once', async () => {
    const s = store();
    await Lease.acquire(s, '_lease/', 'gone', { pid: 1, host: 'h1', isAlive: () => true });
    const dead = { host: 'h1', isAlive: (pid: number) => pid !== 1 };
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => Lease.acquire(s, '_lease/', `p${i}`, { ...dead, pid: 100 + i })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LeaseHeld);
  });
});
