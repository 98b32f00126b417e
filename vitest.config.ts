import { defineConfig } from 'vitest/config';

/**
 * Three suites. `unit` is `npm test` (fast: every property with a small run count). `soak` is
 * `npm run test:soak`: the long kill/restart soak (test/soak) and the same property and crash tests
 * as `unit`, made deep by their run-count variables. `interop` is `npm run test:interop`.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: 'forks',
          // two test files at once on 2 cores (vitest's default is one fewer than the cores): most
          // files wait on child processes or I/O, and npm test stays under 6 minutes
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'soak',
          include: [
            'test/soak/**/*.test.ts',
            'test/unit/delta/model.property.test.ts',
            'test/integration/delta/crash.test.ts',
            'test/integration/delta/concurrency.test.ts',
          ],
          env: {
            TWEETLAKE_MODEL_RUNS: '200',
            TWEETLAKE_CRASH_ROUNDS: '3',
            TWEETLAKE_CONCURRENT_COMMITS: '100',
          },
          testTimeout: 3_600_000,
          hookTimeout: 600_000,
          pool: 'forks',
          // the kill soak times its kills by the runs' progress: give it the machine to itself
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          // the pinned AWS SDK runs on Node 20; its notice about releases from 2027 is noise in test output
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          testTimeout: 600_000,
          hookTimeout: 600_000,
          pool: 'forks',
          fileParallelism: false,
        },
      },
    ],
  },
});
