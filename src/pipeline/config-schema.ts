import { z } from 'zod';
import { checkTimeZone } from './cron.js';

/**
 * The schema of `tweetlake.config.json` (zod): every key tweetlake reads, each optional (defaults
 * fill the rest), and no other key — a misspelt key is an error, not a setting silently ignored.
 * docs/operations.md lists the keys with their defaults.
 */

const show = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));

function positiveInt() {
  const error = (iss: { input?: unknown }) => `must be a positive integer, got ${show(iss.input)}`;
  return z.number({ error }).int({ error }).positive({ error });
}

function wholeMs() {
  const error = (iss: { input?: unknown }) =>
    `must be a whole number of milliseconds (0 or more), got ${show(iss.input)}`;
  return z.number({ error }).int({ error }).nonnegative({ error });
}

function flag() {
  return z.boolean({ error: (iss) => `must be true or false, got ${show(iss.input)}` });
}

function text(what: string) {
  const error = (iss: { input?: unknown }) => `must be ${what}, got ${show(iss.input)}`;
  return z.string({ error }).min(1, { error });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss) => `must be ${values.join(' or ')}, got ${show(iss.input)}` });
}

function section<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'invalid_type' ? `must be an object of settings, got ${show(iss.input)}` : undefined,
  });
}

const timeZone = text('an IANA time zone name').refine(
  (tz) => {
    try {
      checkTimeZone(tz);
      return true;
    } catch {
      return false;
    }
  },
  { error: (iss) => `must be an IANA time zone such as Europe/Berlin or UTC, got ${show(iss.input)}` },
);

/** Every key of the config file (all optional). */
export const CONFIG_FILE_SCHEMA = section({
  root: text('a folder path or an s3://bucket/prefix URL').optional(),
  source: text('a folder path, an s3://bucket/prefix URL or a kafka://host:port/topic URI').optional(),
  orchestration: oneOf(['sequential', 'concurrent']).optional(),
  trigger: oneOf(['available-now', 'continuous']).optional(),
  pollIntervalMs: wholeMs().optional(),
  maxFilesPerTrigger: positiveInt().optional(),
  maxBytesPerTrigger: positiveInt().optional(),
  maxBatchAttempts: positiveInt().optional(),
  retryBackoffMs: wholeMs().optional(),
  fileSettleMs: wholeMs().optional(),
  allowOverwrites: flag().optional(),
  maxRecordBytes: positiveInt().optional(),
  dropTweetsWithoutMentions: flag().optional(),
  schemaEvolution: flag().optional(),
  model: section({
    uri: text(
      'a model URI (models:/NAME/STAGE, runs:/ID/PATH, a folder, mlflow+http(s)://…, oip+http(s)://…)',
    ).optional(),
    workers: positiveInt().optional(),
    threadsPerWorker: positiveInt().optional(),
    batchSize: positiveInt().optional(),
    cache: flag().optional(),
    server: section({
      batchSize: positiveInt().optional(),
      concurrency: positiveInt().optional(),
      timeoutMs: positiveInt().optional(),
      maxAttempts: positiveInt().optional(),
      backoffMs: wholeMs().optional(),
      backoffCapMs: wholeMs().optional(),
      requestFormat: oneOf(['dataframe_split', 'inputs']).optional(),
      version: text('a model version').optional(),
    }).optional(),
  }).optional(),
  duckdb: section({
    memoryLimit: text("a size such as '512MB' or '4GB'").optional(),
    threads: positiveInt().optional(),
  }).optional(),
  schedule: section({
    timezone: timeZone.optional(),
  }).optional(),
  kafka: section({
    startingOffsets: text("earliest, latest or Spark's JSON of offsets per partition").optional(),
    maxOffsetsPerTrigger: positiveInt().optional(),
    clientId: text('a client id').optional(),
    retryMs: positiveInt().optional(),
    sasl: section({
      mechanism: oneOf(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
      username: text('a user name'),
      password: text('a password (or give passwordEnv, the variable that holds it)').optional(),
      passwordEnv: text('the name of an environment variable').optional(),
    }).optional(),
    tls: z
      .union([
        flag(),
        section({
          caFile: text("a path to PEM certificates of the brokers' CA").optional(),
          rejectUnauthorized: flag().optional(),
          serverName: text('a host name').optional(),
        }),
      ])
      .optional(),
  }).optional(),
  storage: section({
    s3: section({
      endpoint: text(
        'an endpoint URL such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000',
      ).optional(),
      region: text('an AWS region such as eu-west-1').optional(),
      forcePathStyle: flag().optional(),
      allowHttp: flag().optional(),
      requestTimeoutMs: positiveInt().optional(),
      maxAttempts: positiveInt().optional(),
    }).optional(),
    cacheBytes: positiveInt().optional(),
  }).optional(),
});

/** One line per problem, each naming the file and the key: `tweetlake.config.json: model.batchSize must be ...`. */
export function configIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const names = issue.keys.map((k) => (key ? `${key}.${k}` : k));
        return `${file}: unknown key${names.length > 1 ? 's' : ''} ${names.join(', ')} (a typo? docs/operations.md lists the settings)`;
      }
      return key ? `${file}: ${key} ${issue.message}` : `${file}: ${issue.message}`;
    })
    .join('\n');
}
