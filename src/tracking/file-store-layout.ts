/** Reading and writing MLflow's file-store layout: YAML meta files, key files, ids, metric lines. */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { parse, stringify } from 'yaml';
import { listLocalFiles } from '../storage/local-store.js';
import type { Metric, RunStatus } from './tracking-store.js';
import { writeFileAtomic } from '../storage/atomic-write.js';
import { isNotFound } from '../errors.js';

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

export type Yaml = Record<string, unknown>;

/** A YAML file's mapping; undefined when the file is missing. */
export async function readYaml(path: string): Promise<Yaml | undefined> {
  try {
    return (parse(await fs.readFile(path, 'utf8')) ?? {}) as Yaml;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Writes a YAML file atomically (temp file + rename). */
export async function writeYaml(path: string, value: Yaml): Promise<void> {
  await writeFileAtomic(path, stringify(value));
}

/** Names of the folders directly in `dir` ([] when it is missing). */
export async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** `{key: content}` of every file below `dir` (keys with '/' are nested files, as MLflow writes them). */
export async function readKeyFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await listLocalFiles(dir))
    out[key] = await fs.readFile(nodePath.join(dir, ...key.split('/')), 'utf8');
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
