import type { DuckSession } from '../duck/session.js';
import { ident } from '../duck/session.js';
import type { ScanPlan } from '../delta/scan.js';
import { DeltaTable } from '../delta/table.js';

/** Views that expose Delta tables to SQL by name, at the versions they were created at. */
export class DeltaViews {
  private readonly plans: ScanPlan[] = [];
  readonly versions = new Map<string, number>();

  constructor(private readonly session: DuckSession) {}

  /** Creates (or replaces) view `name` over the latest snapshot of the table at `path`; false if there is no table. */
  async register(name: string, path: string, version?: number): Promise<boolean> {
    const table = await DeltaTable.forPath(path, this.session);
    if (!(await table.exists())) return false;
    const snapshot = await table.snapshot(version === undefined ? {} : { version });
    const plan = await table.scan(snapshot);
    this.plans.push(plan);
    await this.session.run(`CREATE OR REPLACE VIEW ${ident(name)} AS ${plan.sql}`);
    this.versions.set(name, snapshot.version);
    return true;
  }

  /** Drops the views and what they needed. */
  async dispose(): Promise<void> {
    for (const name of this.versions.keys()) await this.session.run(`DROP VIEW IF EXISTS ${ident(name)}`);
    for (const p of this.plans) await p.dispose();
    this.plans.length = 0;
    this.versions.clear();
  }
}
