import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { TweetlakeError } from '../errors.js';
import { ObjectExists, ObjectNotFound, type ObjectStore } from './object-store.js';

/** Who holds a lease, as its object records it. */
export interface LeaseHolder {
  /** Unique per acquisition. */
  id: string;
  pid: number;
  host: string;
  /** ISO time the lease was taken. */
  startedAt: string;
  /** ISO time of the last refresh. */
  refreshedAt: string;
  /** What the holder is doing (e.g. the command line). */
  command: string;
}

/** The lease is held by a live process. */
export class LeaseHeld extends TweetlakeError {
  constructor(
    readonly holder: LeaseHolder,
    location: string,
  ) {
    super(
      'LEASE_HELD',
      `${location} is in use by another tweetlake process: pid ${holder.pid} on ${holder.host} since ` +
        `${holder.startedAt} (${holder.command}). Wait for it to finish or stop it (\`tweetlake stop\`); ` +
        `a lease whose process is gone is taken over by itself`,
      { domain: 'user', retryable: true },
    );
  }
}

/** Another process took the lease over (this one was thought gone): stop writing. */
export class LeaseLost extends TweetlakeError {
  constructor(location: string, holder: LeaseHolder | undefined) {
    super(
      'LEASE_LOST',
      `lost the lease on ${location}` +
        (holder ? ` to pid ${holder.pid} on ${holder.host} (${holder.command})` : '') +
        `: it was not refreshed in time, so another process took over; this one stops`,
      { domain: 'external' },
    );
  }
}

export interface LeaseOptions {
  /** A lease not refreshed for this long is stale (default 30 s). */
  staleAfterMs?: number;
  now?: () => number;
  /** Whether a process of this host is alive (default: signal 0). */
  isAlive?: (pid: number) => boolean;
  host?: string;
  pid?: number;
}

/** The state of a lease, as anyone may read it. */
export interface LeaseState {
  holder: LeaseHolder;
  /** Not refreshed in time, or its process (on this host) is gone. */
  stale: boolean;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

const GENERATION = /^(\d{20})\.json$/;

/**
 * A lease on a folder of an object store, made only of put-if-absent, put, get, list and delete, so
 * that it works on any store that keeps ObjectStore's rules (local disk, S3 with conditional
 * writes). Each acquisition writes the next generation `<prefix><n>.json` with put-if-absent: of
 * two processes taking over the same stale lease, one wins. The holder rewrites its generation to
 * refresh it, and deletes it on release.
 */
export class Lease {
  private constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly generation: number,
    private holder: LeaseHolder,
    private readonly options: LeaseOptions,
  ) {}

  private static path(prefix: string, generation: number): string {
    return `${prefix}${String(generation).padStart(20, '0')}.json`;
  }

  /** Generations present, oldest first. */
  private static async generations(store: ObjectStore, prefix: string): Promise<number[]> {
    return (await store.list(prefix))
      .map((m) => GENERATION.exec(m.path.slice(prefix.length)))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** The latest generation of the lease and its holder, if any. */
  private static async latest(
    store: ObjectStore,
    prefix: string,
  ): Promise<{ generation: number; holder: LeaseHolder } | undefined> {
    for (let attempt = 0; ; attempt++) {
      const generation = (await Lease.generations(store, prefix)).at(-1);
      if (generation === undefined) return undefined;
      try {
        const text = new TextDecoder().decode(await store.get(Lease.path(prefix, generation)));
        return { generation, holder: JSON.parse(text) as LeaseHolder };
      } catch (err) {
        // Released between the listing and the read: list again.
        if (!(err instanceof ObjectNotFound) || attempt >= 10) throw err;
      }
    }
  }

  /** Who holds the lease now, and whether that holder looks gone; undefined when it is free. */
  static async current(
    store: ObjectStore,
    prefix: string,
    options: LeaseOptions = {},
  ): Promise<LeaseState | undefined> {
    const latest = await Lease.latest(store, prefix);
    if (!latest) return undefined;
    return { holder: latest.holder, stale: Lease.isStale(latest.holder, options) };
  }

  private static isStale(holder: LeaseHolder, options: LeaseOptions): boolean {
    const now = (options.now ?? Date.now)();
    if (now - Date.parse(holder.refreshedAt) > (options.staleAfterMs ?? 30_000)) return true;
    const host = options.host ?? hostname();
    return holder.host === host && !(options.isAlive ?? processAlive)(holder.pid);
  }

  /** Takes the lease, or throws LeaseHeld naming the live holder. A stale lease is taken over. */
  static async acquire(
    store: ObjectStore,
    prefix: string,
    command: string,
    options: LeaseOptions = {},
  ): Promise<Lease> {
    for (;;) {
      const latest = await Lease.latest(store, prefix);
      if (latest && !Lease.isStale(latest.holder, options)) throw new LeaseHeld(latest.holder, store.root);
      const at = new Date((options.now ?? Date.now)()).toISOString();
      const holder: LeaseHolder = {
        id: randomUUID(),
        pid: options.pid ?? process.pid,
        host: options.host ?? hostname(),
        startedAt: at,
        refreshedAt: at,
        command,
      };
      const generation = (latest?.generation ?? 0) + 1;
      try {
        await store.putIfAbsent(Lease.path(prefix, generation), JSON.stringify(holder));
      } catch (err) {
        if (err instanceof ObjectExists) continue; // another process took it first: look again
        throw err;
      }
      for (const g of await Lease.generations(store, prefix))
        if (g < generation) await store.delete(Lease.path(prefix, g));
      return new Lease(store, prefix, generation, holder, options);
    }
  }

  /** The lease's generation: 1 for the first holder, one more at each takeover. */
  get generationNumber(): number {
    return this.generation;
  }

  /** Who holds this lease (this process). */
  get info(): LeaseHolder {
    return this.holder;
  }

  /** Records that the holder is alive; throws LeaseLost when another process has taken over. */
  async refresh(): Promise<void> {
    const latest = await Lease.latest(this.store, this.prefix);
    if (latest?.holder.id !== this.holder.id) throw new LeaseLost(this.store.root, latest?.holder);
    this.holder = { ...this.holder, refreshedAt: new Date((this.options.now ?? Date.now)()).toISOString() };
    await this.store.put(Lease.path(this.prefix, this.generation), JSON.stringify(this.holder));
  }

  /** Gives the lease up (unless another process has taken it over meanwhile). */
  async release(): Promise<void> {
    const latest = await Lease.latest(this.store, this.prefix);
    if (latest?.holder.id === this.holder.id)
      await this.store.delete(Lease.path(this.prefix, this.generation));
  }
}
