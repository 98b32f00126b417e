import { readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  configFromEnv,
  defaultConfig,
  kafkaConnection,
  kafkaSourceOptions,
  loadConfig,
} from '../../../src/pipeline/config.js';
import { tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-config-');
afterAll(() => dirs.cleanup());

describe('the model.cache setting (prediction cache)', () => {
  const saved = process.env.TWEETLAKE_PREDICTION_CACHE;
  afterEach(() => {
    if (saved === undefined) delete process.env.TWEETLAKE_PREDICTION_CACHE;
    else process.env.TWEETLAKE_PREDICTION_CACHE = saved;
  });

  it('is on by default, off from the config file, and the environment overrides the file', () => {
    delete process.env.TWEETLAKE_PREDICTION_CACHE;
    expect(defaultConfig().model.cache).toBe(true);
    const file = nodePath.join(dirs.make(), 'tweetlake.config.json');
    writeFileSync(file, JSON.stringify({ model: { cache: false } }));
    expect(loadConfig({}, file).model.cache).toBe(false);
    expect(loadConfig({}, file).model.batchSize).toBe(32); // the other model settings keep their defaults
    process.env.TWEETLAKE_PREDICTION_CACHE = 'true';
    expect(loadConfig({}, file).model.cache).toBe(true);
  });

  it('reads 1/0, true/false, yes/no, on/off from TWEETLAKE_PREDICTION_CACHE and refuses anything else', () => {
    expect(configFromEnv({ TWEETLAKE_PREDICTION_CACHE: '0' }).model?.cache).toBe(false);
    expect(configFromEnv({ TWEETLAKE_PREDICTION_CACHE: 'Off' }).model?.cache).toBe(false);
    expect(configFromEnv({ TWEETLAKE_PREDICTION_CACHE: 'yes' }).model?.cache).toBe(true);
    expect(configFromEnv({}).model?.cache).toBeUndefined();
    expect(() => configFromEnv({ TWEETLAKE_PREDICTION_CACHE: 'maybe' })).toThrow(ConfigError);
  });

  it('refuses a cache setting in the config file that is not a boolean, naming the key', () => {
    delete process.env.TWEETLAKE_PREDICTION_CACHE;
    const file = nodePath.join(dirs.make(), 'tweetlake.config.json');
    writeFileSync(file, JSON.stringify({ model: { cache: 'no' } }));
    expect(() => loadConfig({}, file)).toThrow(/model\.cache must be true or false/);
  });
});

describe('the config file schema', () => {
  const write = (value: unknown): string => {
    const file = nodePath.join(dirs.make(), 'tweetlake.config.json');
    writeFileSync(file, JSON.stringify(value));
    return file;
  };

  it('takes every key of the documented config file', () => {
    const file = write({
      root: './lake',
      source: './incoming',
      orchestration: 'concurrent',
      trigger: 'continuous',
      pollIntervalMs: 500,
      maxFilesPerTrigger: 3,
      maxBytesPerTrigger: 1 << 20,
      fileSettleMs: 0,
      allowOverwrites: true,
      maxRecordBytes: 4096,
      dropTweetsWithoutMentions: true,
      schemaEvolution: true,
      model: { uri: 'models:/M/Production', workers: 2, threadsPerWorker: 1, batchSize: 8, cache: false },
      duckdb: { memoryLimit: '1GB', threads: 2 },
      schedule: { timezone: 'Europe/Berlin' },
    });
    const c = loadConfig({}, file);
    expect(c).toMatchObject({
      orchestration: 'concurrent',
      trigger: 'continuous',
      pollIntervalMs: 500,
      maxFilesPerTrigger: 3,
      maxBytesPerTrigger: 1 << 20,
      fileSettleMs: 0,
      allowOverwrites: true,
      maxRecordBytes: 4096,
      dropTweetsWithoutMentions: true,
      schemaEvolution: true,
      model: { uri: 'models:/M/Production', workers: 2, threadsPerWorker: 1, batchSize: 8, cache: false },
      duckdb: { memoryLimit: '1GB', threads: 2 },
      schedule: { timezone: 'Europe/Berlin' },
    });
    expect(c.root).toBe(nodePath.resolve('./lake'));
  });

  it.each([
    [{ model: { batchSize: 0 } }, 'model.batchSize must be a positive integer, got 0'],
    [{ model: { batchSize: 2.5 } }, 'model.batchSize must be a positive integer, got 2.5'],
    [{ maxFilesPerTrigger: '10' }, 'maxFilesPerTrigger must be a positive integer, got "10"'],
    [{ fileSettleMs: -1 }, 'fileSettleMs must be a whole number of milliseconds (0 or more), got -1'],
    [{ allowOverwrites: 'yes' }, 'allowOverwrites must be true or false, got "yes"'],
    [{ trigger: 'once' }, 'trigger must be available-now or continuous, got "once"'],
    [{ duckdb: 4 }, 'duckdb must be an object of settings, got 4'],
    [{ schedule: { timezone: 'Europe/Berln' } }, 'schedule.timezone must be an IANA time zone'],
  ])('refuses %j, naming the file and the key', (value, message) => {
    const file = write(value);
    expect(() => loadConfig({}, file)).toThrow(ConfigError);
    expect(() => loadConfig({}, file)).toThrow(`${file}: ${message}`);
  });

  it('refuses unknown keys (a typo is not silently ignored), at the top and inside a section', () => {
    const file = write({ maxFilesPerTriger: 5, model: { batchsize: 8 } });
    let message = '';
    try {
      loadConfig({}, file);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`${file}: unknown key maxFilesPerTriger`);
    expect(message).toContain(`${file}: unknown key model.batchsize`);
  });

  it('names the file when it is not JSON', () => {
    const file = nodePath.join(dirs.make(), 'tweetlake.config.json');
    writeFileSync(file, '{ "root": ');
    expect(() => loadConfig({}, file)).toThrow(`cannot read config file ${file}`);
  });
});

describe('kafka.sasl and kafka.tls', () => {
  const write = (value: unknown): string => {
    const file = nodePath.join(dirs.make(), 'tweetlake.config.json');
    writeFileSync(file, JSON.stringify(value));
    return file;
  };

  it('become the client connection: the password from its variable, TLS with a CA file', () => {
    const dir = dirs.make();
    const ca = nodePath.join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const c = loadConfig(
      {},
      write({
        kafka: {
          clientId: 'tl',
          sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', passwordEnv: 'TL_UNIT_KAFKA_PW' },
          tls: { caFile: ca, serverName: 'broker.internal' },
        },
      }),
    );
    process.env.TL_UNIT_KAFKA_PW = 'from-env';
    try {
      expect(kafkaConnection(c.kafka)).toEqual({
        clientId: 'tl',
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'from-env' },
        tls: { ca: readFileSync(ca, 'utf8'), servername: 'broker.internal' },
      });
      expect(kafkaSourceOptions({ ...c.kafka, startingOffsets: 'earliest' })).toMatchObject({
        startingOffsets: 'earliest',
        sasl: { password: 'from-env' },
      });
    } finally {
      delete process.env.TL_UNIT_KAFKA_PW;
    }
    expect(() => kafkaConnection(c.kafka)).toThrow(/passwordEnv names TL_UNIT_KAFKA_PW, which is not set/);
    expect(kafkaConnection({ tls: true })).toEqual({ tls: {} });
  });

  it('refuses a mechanism the client has not, both or neither password, and an unreadable CA file', () => {
    expect(() =>
      loadConfig({}, write({ kafka: { sasl: { mechanism: 'GSSAPI', username: 'u', password: 'p' } } })),
    ).toThrow(/kafka\.sasl\.mechanism must be PLAIN or SCRAM-SHA-256 or SCRAM-SHA-512/);
    const both = { mechanism: 'PLAIN' as const, username: 'u', password: 'p', passwordEnv: 'X' };
    expect(() => kafkaConnection({ sasl: both })).toThrow(ConfigError);
    expect(() => kafkaConnection({ sasl: { mechanism: 'PLAIN', username: 'u' } })).toThrow(/one of password/);
    expect(() => kafkaConnection({ tls: { caFile: '/nonexistent/ca.pem' } })).toThrow(
      /kafka\.tls\.caFile \/nonexistent\/ca\.pem cannot be read/,
    );
  });
});
