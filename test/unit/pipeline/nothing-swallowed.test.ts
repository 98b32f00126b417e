import { mkdirSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { openArtifactRepo } from '../../../src/mlflow/artifact-repo.js';
import { ScheduleHistory, ScheduleHistoryCorrupt } from '../../../src/pipeline/schedule.js';
import { StateFileCorrupt, StateStore } from '../../../src/pipeline/state.js';
import { subdirs } from '../../../src/tracking/file-store-layout.js';
import { FileTrackingStore } from '../../../src/tracking/file-tracking-store.js';
import { rejection, tempDirs } from '../../helpers/delta.js';

const dirs = tempDirs('tweetlake-swallow-');
afterAll(() => dirs.cleanup());

/** A folder path whose parent is a plain file: listing it fails with ENOTDIR, not ENOENT. */
function underAFile(name: string): string {
  const root = dirs.make();
  writeFileSync(nodePath.join(root, 'file'), 'x');
  return nodePath.join(root, 'file', name);
}

describe('only a missing path means "absent"', () => {
  it('the schedule history is empty before the first run, and a damaged line is an error naming file and line', async () => {
    const dir = dirs.make();
    const history = new ScheduleHistory(dir);
    expect(await history.list()).toEqual([]);
    const run = {
      job: 'j',
      scheduledFor: '2026-11-25T02:00:00.000Z',
      startedAt: '2026-11-25T02:00:00.000Z',
      endedAt: '2026-11-25T02:00:01.000Z',
      status: 'SUCCEEDED',
      tasks: [],
    };
    writeFileSync(history.file, `${JSON.stringify(run)}\n{"job": "j", "sched\n${JSON.stringify(run)}\n`);
    const err = await rejection(history.list());
    expect(err).toBeInstanceOf(ScheduleHistoryCorrupt);
    expect((err as ScheduleHistoryCorrupt).message).toContain(`${history.file}:2 `);
    expect((err as ScheduleHistoryCorrupt).domain).toBe('external');
    writeFileSync(history.file, `${JSON.stringify(run)}\n[1, 2]\n`);
    expect(((await rejection(history.list())) as Error).message).toContain(`${history.file}:2 `);
  });

  it('stream states and stop requests: a folder that cannot be listed is an error, not "none"', async () => {
    const missing = new StateStore(new LocalObjectStore(nodePath.join(dirs.make(), '_state')));
    expect(await missing.streams()).toEqual([]);
    expect(await missing.takeStopRequests()).toEqual([]);
    expect(await missing.process()).toBeUndefined();
    const broken = new StateStore(new LocalObjectStore(underAFile('_state')));
    expect(await rejection(broken.streams())).toMatchObject({ osCode: 'ENOTDIR' });
    expect(await rejection(broken.takeStopRequests())).toMatchObject({ osCode: 'ENOTDIR' });
    expect(await rejection(broken.process())).toMatchObject({ osCode: 'ENOTDIR' });
  });

  it('a damaged state document is an error naming the file', async () => {
    const dir = dirs.make();
    const store = new StateStore(new LocalObjectStore(dir));
    mkdirSync(nodePath.join(dir, 'streams'), { recursive: true });
    writeFileSync(nodePath.join(dir, 'streams', 'gold_stream.json'), '{"name": ');
    const err = await rejection(store.streams());
    expect(err).toBeInstanceOf(StateFileCorrupt);
    expect((err as Error).message).toContain(nodePath.join(dir, 'streams', 'gold_stream.json'));
    writeFileSync(nodePath.join(dir, 'evaluation.json'), 'not json');
    expect(await rejection(store.getDocument('evaluation'))).toBeInstanceOf(StateFileCorrupt);
  });

  it('the model registry, artifact repository and tracking store propagate listing failures', async () => {
    expect(
      await new FileModelRegistry(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns'))).listModels(),
    ).toEqual([]);
    expect(
      await rejection(new FileModelRegistry(new LocalObjectStore(underAFile('mlruns'))).listModels()),
    ).toMatchObject({
      osCode: 'ENOTDIR',
    });
    expect(await openArtifactRepo(nodePath.join(dirs.make(), 'a')).list()).toEqual([]);
    expect(await rejection(openArtifactRepo(underAFile('a')).list())).toMatchObject({
      code: 'ENOTDIR',
    });
    expect(await subdirs(new LocalObjectStore(nodePath.join(dirs.make(), 'x')), '')).toEqual([]);
    expect(await rejection(subdirs(new LocalObjectStore(underAFile('x')), ''))).toMatchObject({
      osCode: 'ENOTDIR',
    });
    const tracking = new FileTrackingStore(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')));
    const exp = await tracking.getOrCreateExperiment('e');
    const run = await tracking.createRun(exp.experimentId);
    expect(await tracking.getMetricHistory(run.runId, 'never_logged')).toEqual([]);
  });
});
