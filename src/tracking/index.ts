export * from './tracking-store.js';
export { FileTrackingStore } from './file-tracking-store.js';
export { RestTrackingStore } from './rest-tracking-store.js';
export { openTrackingStore, trackingChoice } from './tracking-factory.js';
export {
  MlflowHttpClient,
  MlflowHttpError,
  MlflowUnreachable,
  mlflowHttpOptionsFromEnv,
  type MlflowHttpOptions,
} from '../mlflow/http-client.js';
