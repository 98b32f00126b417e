import { writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, defaultConfig, loadConfig } from '../../../src/pipeline/config.js';
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
