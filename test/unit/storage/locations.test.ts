import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidS3Url } from '../../../src/storage/s3-url.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import {
  isRemoteLocation,
  joinLocation,
  locationName,
  parentLocation,
  resolveLocation,
  storeAt,
} from '../../../src/storage/locations.js';
import { S3ObjectStore } from '../../../src/storage/s3-store.js';

describe('locations', () => {
  it('resolves local paths, file:// URLs and s3:// URLs to one canonical form', () => {
    expect(resolveLocation('lake')).toBe(nodePath.resolve('lake'));
    expect(resolveLocation('file:///tmp/a%20b')).toBe('/tmp/a b');
    expect(resolveLocation('s3://bucket//lake/')).toBe('s3://bucket/lake');
    expect(resolveLocation('s3a://bucket/lake')).toBe('s3://bucket/lake');
    expect(() => resolveLocation('s3://Bad_Bucket/x')).toThrow(InvalidS3Url);
    expect(isRemoteLocation('s3://b1b/x')).toBe(true);
    expect(isRemoteLocation('/tmp/s3:/x')).toBe(false);
  });

  it('joins, takes the parent and the name of both kinds alike', () => {
    expect(joinLocation('s3://bkt/lake', '_checkpoints', 'bronze_stream')).toBe(
      's3://bkt/lake/_checkpoints/bronze_stream',
    );
    expect(joinLocation('s3://bkt', 'a/b', 'c')).toBe('s3://bkt/a/b/c');
    expect(joinLocation('/tmp/lake', 'silver')).toBe('/tmp/lake/silver');
    expect(parentLocation('s3://bkt/lake/silver')).toBe('s3://bkt/lake');
    expect(parentLocation('s3://bkt/silver')).toBe('s3://bkt');
    expect(parentLocation('/tmp/lake/silver')).toBe('/tmp/lake');
    expect(locationName('s3://bkt/lake/silver/')).toBe('silver');
    expect(locationName('s3://bkt')).toBe('bkt');
  });

  it('opens the store a location names', () => {
    expect(storeAt('/tmp/x')).toBeInstanceOf(LocalObjectStore);
    const s3 = storeAt('s3://bkt/lake/silver');
    expect(s3).toBeInstanceOf(S3ObjectStore);
    expect(s3.root).toBe('s3://bkt/lake/silver');
    expect(s3.location('_delta_log/00000000000000000000.json')).toBe(
      's3://bkt/lake/silver/_delta_log/00000000000000000000.json',
    );
    expect(s3.localFiles).toBeDefined();
  });
});
