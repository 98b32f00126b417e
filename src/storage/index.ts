export * from './object-store.js';
export { LocalObjectStore, compareBytes, listLocalFiles } from './local-store.js';
export {
  Lease,
  LeaseHeld,
  LeaseLost,
  type LeaseHolder,
  type LeaseState,
  type LeaseOptions,
} from './lease.js';
