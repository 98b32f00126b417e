import type { ObjectMeta, ObjectStore } from './object-store.js';
import { StoreIOError } from './store-errors.js';

/** Stores whose root was seen listable: an empty listing of theirs needs no second look. */
const rootsOk = new WeakSet<ObjectStore>();

/**
 * `store.list(prefix)`, except that a root that is not a folder or cannot be read is an error
 * (`StoreIOError`), not an empty listing: only a missing root means "nothing there". The root is
 * looked at only when a listing is empty, once per store while it is fine.
 */
export async function listChecked(store: ObjectStore, prefix: string): Promise<ObjectMeta[]> {
  const found = await store.list(prefix);
  if (found.length > 0 || rootsOk.has(store) || !store.rootStatus) return found;
  const status = await store.rootStatus();
  if (status.kind === 'ok') rootsOk.add(store);
  if (status.kind === 'not-a-folder')
    throw new StoreIOError('listing', store.root, 'ENOTDIR', new Error('it is not a folder'));
  if (status.kind === 'unreadable')
    throw new StoreIOError('listing', store.root, 'EACCES', new Error(status.reason));
  return found;
}
