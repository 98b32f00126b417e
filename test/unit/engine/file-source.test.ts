import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSource, SourcePathError } from '../../../src/engine/file-source.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { rejection } from '../../helpers/delta.js';
import { Trigger } from '../../../src/engine/trigger.js';
import { ForeachBatchSink } from '../../../src/engine/sink.js';
import { range, streamTests } from '../../helpers/engine-stream-test.js';

const { stream } = streamTests('tweetlake-filesource-');

describe('FileSource: each file once, across restarts', () => {
  it('reads every file once; a restart reads only files that are new since', async () => {
    const t = stream();
    t.addFile('a.json', range(1, 3));
    t.addFile('b.json', range(4, 5));
    const q1 = await t.run();
    expect(q1.recentProgress.map((p) => p.batchId)).toEqual([0]);
    await t.checkAnswer(range(1, 5));

    // StopStream (it stopped by itself), AddData, StartStream on the same checkpoint.
    t.addFile('c.json', range(6, 8));
    const q2 = await t.run();
    expect(q2.recentProgress.map((p) => p.batchId)).toEqual([1]);
    expect(q2.id).toBe(q1.id);
    expect(q2.runId).not.toBe(q1.runId);
    expect(t.batchFiles.get(1)).toEqual(['c.json']);
    await t.checkAnswer(range(1, 8));

    // Nothing new: no batch, no new table version.
    const version = await t.tableVersion();
    const q3 = await t.run();
    expect(q3.recentProgress).toEqual([]);
    expect(await t.tableVersion()).toBe(version);
    await t.checkAnswer(range(1, 8));
  });

  it('does not read a file again when it is rewritten with a newer modification time: one record reports it', async () => {
    const t = stream();
    const a = t.addFile('a.json', [1, 2]);
    await t.run();
    writeFileSync(a, JSON.stringify({ id: 99, v: 'rewritten' }) + '\n');
    utimesSync(a, 1_900_000_000, 1_900_000_000);
    const reported = await t.run({ transform: null, sink: t.rawSink() });
    expect(reported.recentProgress.map((p) => p.numInputRows)).toEqual([1]);
    expect(reported.warnings.join('\n')).toMatch(/a\.json: the file changed after it was read/);
    const [notice] = t.rawRecords;
    expect(notice).toMatchObject({ source_file: a, line: null, line_number: null });
    expect(String(notice!.file_error)).toMatch(
      /changed after it was read \(size 36 -> 26 bytes, modified 2020-.* -> 2030-/,
    );
    await t.checkAnswer([1, 2]); // the new content is not read
    const again = await t.run(); // reported once: nothing more until it changes again
    expect(again.recentProgress).toEqual([]);
  });

  it('records the admitted files in the checkpoint before the batch runs', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    t.addFile('b.json', [2]);
    await t.run({ limits: { maxFilesPerTrigger: 1 } });
    const logged = (n: number) => {
      const text = readFileSync(nodePath.join(t.checkpoint, 'sources', '0', String(n)), 'utf8');
      expect(text.startsWith('v1\n')).toBe(true);
      const entry = JSON.parse(text.slice(3)) as {
        ranges: { key: string; start: number; end: number; size: number }[];
      };
      for (const r of entry.ranges) expect([r.start, r.end]).toEqual([0, r.size]); // whole files
      return entry.ranges.map((r) => r.key);
    };
    expect(logged(0)).toEqual(['a.json']);
    expect(logged(1)).toEqual(['b.json']);
    expect(t.hasLog('offsets', 1) && t.hasLog('commits', 1)).toBe(true);
  });
});

describe('FileSource: discovery order and admission limits', () => {
  it('admits files by modification time, then by name, whatever their names', async () => {
    const t = stream();
    t.addFile('z.json', [1], 1_000);
    t.addFile('a.json', [2], 3_000);
    t.addFile('m.json', [3], 2_000);
    t.addFile('c.json', [4], 2_000); // same time as m.json: the name decides
    await t.run({ limits: { maxFilesPerTrigger: 1 } });
    expect([...t.batchFiles.entries()]).toEqual([
      [0, ['z.json']],
      [1, ['c.json']],
      [2, ['m.json']],
      [3, ['a.json']],
    ]);
    await t.checkAnswer([1, 2, 3, 4]);
  });

  it('maxFilesPerTrigger splits a backlog into ceil(files / max) batches', async () => {
    const t = stream();
    for (let i = 0; i < 5; i++) t.addFile(`f${i}.json`, [i]);
    const q = await t.run({ limits: { maxFilesPerTrigger: 2 } });
    expect(q.recentProgress.map((p) => p.numInputRows)).toEqual([2, 2, 1]);
    expect([...t.batchFiles.values()]).toEqual([['f0.json', 'f1.json'], ['f2.json', 'f3.json'], ['f4.json']]);
    await t.checkAnswer(range(0, 4));
  });

  it('maxBytesPerTrigger admits files while they fit, and cuts a file larger than it into ranges', async () => {
    const t = stream();
    const paths = [1, 2, 3, 4].map((i) => t.addFile(`f${i}.json`, range(i * 10, i * 10 + 9)));
    const size = readFileSync(paths[0]!).length; // all four files have the same size
    expect(paths.every((p) => readFileSync(p).length === size)).toBe(true);
    const twoFiles = await t.run({ limits: { maxBytesPerTrigger: size * 2 + 1 } });
    expect(twoFiles.recentProgress.map((p) => p.numInputRows)).toEqual([20, 20]);

    const u = stream();
    for (let i = 0; i < 3; i++) u.addFile(`f${i}.json`, range(i * 10, i * 10 + 9));
    // A budget of one byte: each range holds the one record that starts in it.
    const tiny = await u.run({ limits: { maxBytesPerTrigger: 1 } });
    expect(tiny.recentProgress.map((p) => p.numInputRows)).toEqual(Array(30).fill(1));
    await u.checkAnswer(range(0, 29));
  });

  it('Trigger.once reads everything in one batch, ignoring the limits', async () => {
    const t = stream();
    for (let i = 0; i < 4; i++) t.addFile(`f${i}.json`, [i]);
    const q = await t.run({ trigger: Trigger.once(), limits: { maxFilesPerTrigger: 1 } });
    expect(q.recentProgress).toHaveLength(1);
    await t.checkAnswer([0, 1, 2, 3]);
  });

  it('ignores hidden files and folders (names starting with . or _) and reads subfolders', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    t.addFile('.hidden.json', [2]);
    t.addFile('_SUCCESS', [3]);
    t.addFile('_tmp/b.json', [4]);
    t.addFile('.staging/c.json', [5]);
    t.addFile('2015/02/d.json', [6]);
    await t.run();
    await t.checkAnswer([1, 6]);
  });

  it('reads only the files matching `pattern` when given', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    t.addFile('b.txt', [2]);
    await t.run({ source: new FileSource({ path: t.source, pattern: /\.json$/ }) });
    await t.checkAnswer([1]);
  });
});

describe('FileSource: availableNow', () => {
  it('processes what exists at start in as many batches as the limits need, then stops by itself', async () => {
    const t = stream();
    for (let i = 0; i < 3; i++) t.addFile(`f${i}.json`, [i]);
    const q = await t.run({ trigger: Trigger.availableNow(), limits: { maxFilesPerTrigger: 1 } });
    expect(q.isActive).toBe(false);
    expect(q.status.message).toBe('Stopped');
    expect(q.recentProgress.map((p) => p.batchId)).toEqual([0, 1, 2]);
    await t.checkAnswer([0, 1, 2]);
  });

  it('leaves a file that arrives during the run to the next run', async () => {
    const t = stream();
    t.addFile('a.json', [1]);
    t.addFile('b.json', [2]);
    const inner = t.deltaSink();
    let added = false;
    // The sink drops a new (and older-looking) file into the folder while batch 0 runs.
    const sink = new ForeachBatchSink('adds a file', async (batch, ctx) => {
      if (!added) {
        added = true;
        t.addFile('c.json', [3], 1_000);
      }
      return inner.addBatch(batch, ctx);
    });
    const q = await t.run({ sink, limits: { maxFilesPerTrigger: 1 } });
    expect(q.recentProgress).toHaveLength(2);
    await t.checkAnswer([1, 2]);

    const next = await t.run({ limits: { maxFilesPerTrigger: 1 } });
    expect(next.recentProgress.map((p) => p.batchId)).toEqual([2]);
    expect(t.batchFiles.get(2)).toEqual(['c.json']);
    await t.checkAnswer([1, 2, 3]);
  });
});

describe('FileSource: a source that is not there', () => {
  it('a missing folder, or a file instead of a folder, is a SourcePathError naming the path', async () => {
    const t = stream();
    const missing = nodePath.join(t.source, 'no-such-folder');
    const err = await rejection(t.run({ source: new FileSource({ path: missing }) }));
    expect(err).toBeInstanceOf(SourcePathError);
    expect(err.message).toBe(
      `the source folder ${missing} does not exist: give a folder of JSON files (--source)`,
    );
    expect((err as SourcePathError).domain).toBe('user');

    const file = t.addFile('a.json', [1]);
    const notFolder = await rejection(t.run({ source: new FileSource({ path: file }) }));
    expect(notFolder).toBeInstanceOf(SourcePathError);
    expect(notFolder.message).toMatch(
      new RegExp(`^the source ${file.replace(/[.]/g, '\\.')} is not a folder`),
    );
  });

  it('a folder that cannot be read is a SourcePathError saying why', async () => {
    const t = stream();
    const store = new LocalObjectStore(t.source);
    store.rootStatus = async () => ({ kind: 'unreadable', reason: 'permission denied' });
    const err = await rejection(t.run({ source: new FileSource({ path: t.source, store }) }));
    expect(err).toBeInstanceOf(SourcePathError);
    expect(err.message).toBe(`the source folder ${t.source} cannot be read (permission denied)`);
  });

  it('an empty folder is a warning, not a failure', async () => {
    const t = stream();
    const q = await t.run();
    expect(q.recentProgress).toEqual([]);
    expect(q.warnings).toEqual([`no files in ${t.source}`]);
  });
});
