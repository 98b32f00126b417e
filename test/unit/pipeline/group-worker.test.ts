/**
 * The rules around a group worker that need no broker: what `--group` accepts, and that a single
 * run or a clear refuses a lakehouse whose workers are writing it (their published states say so).
 * The workers themselves are tested against a real broker in test/interop/kafka/kafka-group.test.ts.
 */
import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckSession } from '../../../src/duck/session.js';
import { checkGroupSource, GroupWorker, GroupWorkerError } from '../../../src/pipeline/group-worker.js';
import { KafkaSourceError } from '../../../src/engine/kafka-uri.js';
import { Pipeline, WorkersRunning } from '../../../src/pipeline/pipeline.js';
import { lakehousePaths } from '../../../src/pipeline/paths.js';
import { StateStore } from '../../../src/pipeline/state.js';
import { storeAt } from '../../../src/storage/locations.js';
import { tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-group-');
afterAll(() => dirs.cleanup());

describe('run --group', () => {
  it('needs a well-formed kafka:// source and a group name Kafka and file names accept', async () => {
    expect(() => checkGroupSource('/data/tweets')).toThrow(GroupWorkerError);
    expect(() => checkGroupSource('/data/tweets')).toThrow(/needs a Kafka source/);
    expect(() => checkGroupSource('kafka://broker/tweets')).toThrow(KafkaSourceError);
    expect(() => checkGroupSource('kafka://broker:9092/tweets')).not.toThrow();
    const session = await DuckSession.create();
    try {
      const make = (group: string) =>
        new GroupWorker({
          root: dirs.make(),
          source: 'kafka://broker:9092/tweets',
          group,
          session,
          classifier: () => Promise.reject(new Error('unused')),
        });
      expect(() => make('tweets to gold')).toThrow(GroupWorkerError);
      expect(() => make('../x')).toThrow(GroupWorkerError);
      expect(make('tweets-to-gold.v2').name).toBe(`tweets-to-gold.v2/${hostname()}:${process.pid}`);
    } finally {
      session.close();
    }
  });

  it('a single run and a clear refuse a lakehouse that live workers are writing, and go ahead once they are gone', async () => {
    const root = dirs.make();
    const state = new StateStore(storeAt(lakehousePaths(root).state));
    const worker = (pid: number) => ({
      name: `worker-g1-${hostname()}-${pid}`,
      id: 'group:g1',
      runId: 'r',
      pid,
      host: hostname(),
      active: true,
      status: { message: 'Consuming', isDataAvailable: false, isTriggerActive: true },
      startedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      history: [],
      worker: {
        group: 'g1',
        topic: 'kafka://b:9092/t',
        partitions: [0, 1],
        lag: 5,
        batches: 1,
        records: 10,
        application: false,
      },
    });
    await state.publish(worker(process.pid)); // this process is alive: a live worker
    const session = await DuckSession.create();
    try {
      const pipeline = new Pipeline({
        root,
        source: dirs.make(),
        session,
        classifier: () => Promise.reject(new Error('unused')),
      });
      const run = await pipeline.run().catch((err: unknown) => err);
      expect(run).toBeInstanceOf(WorkersRunning);
      expect((run as Error).message).toMatch(new RegExp(`group g1 .*pid ${process.pid}`));
      expect(await pipeline.clear().catch((err: unknown) => err)).toBeInstanceOf(WorkersRunning);
      // a worker whose process is gone does not hold the lakehouse
      await state.publish({ ...worker(process.pid), pid: 2 ** 22 + 12345 });
      await pipeline.clear();
    } finally {
      session.close();
    }
  });
});
