export * from './object-store.js';
export { LocalObjectStore, compareBytes, listLocalFiles } from './local-store.js';
