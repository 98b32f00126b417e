/** Reading and writing MLflow's file-store layout: YAML meta files, key files, ids, metric lines. */
import { createHash } from 'node:crypto';
import { readText } from '../mlflow/store-yaml.js';
import { listChecked } from '../storage/checked-list.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Metric, RunStatus } from './tracking-store.js';

/** MLflow's RunStatus enum as its file store persists it. */
export const STATUS_CODE: Record<RunStatus, number> = {
  RUNNING: 1,
  SCHEDULED: 2,
  FINISHED: 3,
  FAILED: 4,
  KILLED: 5,
};
export const STATUS_NAME = Object.fromEntries(Object.entries(STATUS_CODE).map(([k, v]) => [v, k])) as Record<
  number,
  RunStatus
>;
/** Folders of an experiment that are not runs (MLflow's RESERVED_EXPERIMENT_FOLDERS). */
export const RESERVED = new Set(['tags', 'datasets', 'traces', 'models']);
export const DEFAULT_EXPERIMENT_ID = '0';

export { readText, readYaml, writeYaml, type Yaml } from '../mlflow/store-yaml.js';

/**
 * Names of the folders directly in `dir` ('' for the root) that hold an object, from one listing
 * ([] when the root is missing; a root that is not a folder is an error).
 */
export async function subdirs(store: ObjectStore, dir: string): Promise<string[]> {
  const prefix = dir === '' ? '' : `${dir}/`;
  const names = new Set<string>();
  for (const m of await listChecked(store, prefix)) {
    const rest = m.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash > 0) names.add(rest.slice(0, slash));
  }
  return [...names];
}

/** `{key: content}` of every file below `dir` (keys with '/' are nested files, as MLflow writes them). */
export async function readKeyFiles(store: ObjectStore, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const m of await store.list(`${dir}/`)) {
    const body = await readText(store, m.path);
    if (body !== undefined) out[m.path.slice(dir.length + 1)] = body; // one removed meanwhile is skipped
  }
  return out;
}

/** An 18-digit experiment id derived from the name, so that two processes creating one name agree. */
export function experimentIdFor(name: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(name).digest('hex').slice(0, 16)}`)
    .toString()
    .padStart(20, '0');
  return `${1 + (Number(digits[0]) % 9)}${digits.slice(-17)}`;
}

/** One metric point from a metrics file line `<timestamp> <value> [<step>]`. */
export function parseMetricLine(key: string, line: string): Metric {
  const [ts, value, step] = line.trim().split(' ');
  return { key, timestamp: Number(ts), value: Number(value), step: Number(step ?? 0) };
}
