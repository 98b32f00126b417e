/** Where the tests' data lives: test/fixtures/, in the repository (see test/fixtures/README.md). */
import * as nodePath from 'node:path';

/** The repository's test/fixtures folder. */
export const FIXTURES_DIR = nodePath.resolve(import.meta.dirname, '../fixtures');

/**
 * The Delta conformance tables (from delta-rs' test suite). TWEETLAKE_CONFORMANCE_DIR points the tests
 * at another copy (e.g. a newer set) without changing them.
 */
export const CONFORMANCE_DIR = nodePath.resolve(
  process.env.TWEETLAKE_CONFORMANCE_DIR ?? nodePath.join(FIXTURES_DIR, 'delta-conformance'),
);
