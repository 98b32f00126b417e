/** The small text and YAML files of MLflow's file stores (meta.yaml, tags, aliases), read and written in a store. */
import { parse, stringify } from 'yaml';
import { ObjectNotFound, type ObjectStore } from '../storage/object-store.js';

export type Yaml = Record<string, unknown>;

const decoder = new TextDecoder();

/** The text of an object; undefined when it is missing (any other failure is thrown). */
export async function readText(store: ObjectStore, path: string): Promise<string | undefined> {
  try {
    return decoder.decode(await store.get(path));
  } catch (err) {
    if (err instanceof ObjectNotFound) return undefined;
    throw err;
  }
}

/** A YAML file's mapping; undefined when the file is missing. */
export async function readYaml(store: ObjectStore, path: string): Promise<Yaml | undefined> {
  const body = await readText(store, path);
  return body === undefined ? undefined : ((parse(body) ?? {}) as Yaml);
}

/** Writes a YAML file whole (replaced atomically). */
export async function writeYaml(store: ObjectStore, path: string, value: Yaml): Promise<void> {
  await store.put(path, stringify(value));
}
