export * from './object-store.js';
export { LocalObjectStore, STAGING_DIR, compareBytes, listLocalFiles } from './local-store.js';
export { MemoryObjectStore } from './memory-store.js';
export {
  DownloadCache,
  localFilesOf,
  stagingAt,
  tempStaging,
  type LocalFiles,
  type OpenedFiles,
  type StagingDir,
} from './local-files.js';
export { writeFileAtomic, moveFileAtomic } from './atomic-write.js';
export { downloadToFile } from './download.js';
export { putCopyOf } from './put-copy.js';
export { listChecked } from './checked-list.js';
export { StoreIOError, osCode } from './store-errors.js';
export { removeAtExit } from './temp-dirs.js';
export {
  Lease,
  LeaseHeld,
  LeaseLost,
  type LeaseHolder,
  type LeaseState,
  type LeaseOptions,
} from './lease.js';
export {
  configureStorage,
  isRemoteLocation,
  joinLocation,
  locationName,
  parentLocation,
  removeLocation,
  resolveLocation,
  storeAt,
  type StorageOptions,
} from './locations.js';
