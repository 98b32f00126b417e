export * from './object-store.js';
export { LocalObjectStore, compareBytes } from './local-store.js';
