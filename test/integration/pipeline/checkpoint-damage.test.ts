/**
 * The real pipeline after a clean run, with one stream's checkpoint damaged — commits/, sources/,
 * offsets/ or the whole folder deleted, or the last offsets file truncated — and run again: every
 * table equals the clean run's, or the run refuses with a CheckpointError that names what is damaged
 * and how to recover. Never a duplicate row.
 */
import { cpSync, mkdirSync, promises as fs, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/index.js';
import { DuckSession } from '../../../src/duck/session.js';
import { CheckpointError } from '../../../src/engine/checkpoint.js';
import type { Classifier } from '../../../src/model/classifier.js';
import { bundledSampleDir } from '../../../src/pipeline/config.js';
import { STREAM_NAMES, TABLE_NAMES, type StreamName } from '../../../src/pipeline/paths.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { rejection, tempDirs } from '../../helpers/delta.js';

const labeller: Classifier = {
  labels: ['NEG', 'NEU', 'POS'],
  info: { name: 'stand-in', uri: 'test' },
  classify: async (texts) => texts.map((t) => ({ label: ['NEG', 'NEU', 'POS'][t.length % 3]!, score: 50 })),
  close: async () => {},
};

let session: DuckSession;
const dirs = tempDirs('tweetlake-checkpoint-damage-');
let source: string;
let clean: string;
let reference: Record<string, string[]>;

/** Every table's rows as sorted JSON texts, without the columns that hold wall-clock times. */
async function contents(root: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of TABLE_NAMES) {
    const table = await DeltaTable.forPath(nodePath.join(root, name), session);
    const plan = await table.scan();
    const clock =
      { bronze: ' EXCLUDE (processing_time)', quarantine: ' EXCLUDE (quarantined_at)' }[name as string] ?? '';
    const rows = await session.all(`SELECT to_json(q) AS j FROM (SELECT *${clock} FROM (${plan.sql})) q`);
    await plan.dispose();
    out[name] = rows.map((r) => String(r.j)).sort();
  }
  return out;
}

async function runPipeline(root: string): Promise<void> {
  await new Pipeline({
    root,
    source,
    session,
    classifier: async () => labeller,
    maxFilesPerTrigger: 1,
  }).run();
}

beforeAll(async () => {
  session = await DuckSession.create();
  const base = dirs.make();
  source = nodePath.join(base, 'source');
  mkdirSync(source);
  const lines = readFileSync(
    nodePath.join(bundledSampleDir(), readdirSync(bundledSampleDir()).sort()[0]!),
    'utf8',
  )
    .trim()
    .split('\n');
  for (let f = 0; f < 3; f++) {
    const part = lines.slice(f * 20, f * 20 + 20);
    if (f === 1) part.push('not json', '');
    writeFileSync(nodePath.join(source, `part-${f}.json`), part.join('\n') + '\n');
    await fs.utimes(nodePath.join(source, `part-${f}.json`), 1_600_000_000 + f, 1_600_000_000 + f);
  }
  clean = nodePath.join(base, 'clean');
  await runPipeline(clean);
  reference = await contents(clean);
}, 120_000);

afterAll(() => {
  session?.close();
  dirs.cleanup();
});

/** A damage, and the refusal it must meet on a stream (none: the stream rebuilds what was lost). */
type Damage = {
  what: string;
  damage: (checkpoint: string) => Promise<void>;
  refusal?: (stream: StreamName) => RegExp | undefined;
};

const DAMAGES: Damage[] = [
  { what: 'commits/ deleted', damage: (cp) => fs.rm(nodePath.join(cp, 'commits'), { recursive: true }) },
  {
    what: 'sources/ deleted',
    damage: (cp) => fs.rm(nodePath.join(cp, 'sources'), { recursive: true, force: true }),
    // Only the file source keeps a log of its own there.
    refusal: (s) => (s === 'bronze_stream' ? /file source log .*sources\/0 has lost the entries/ : undefined),
  },
  {
    what: 'offsets/ deleted',
    damage: (cp) => fs.rm(nodePath.join(cp, 'offsets'), { recursive: true }),
    refusal: () => /offsets log .*\/offsets is missing/,
  },
  {
    what: 'the whole checkpoint folder deleted',
    damage: (cp) => fs.rm(cp, { recursive: true }),
    refusal: (s) => new RegExp(`checkpoint folder .*${s} of streaming query '${s}' is missing, but table`),
  },
  {
    what: 'the last offsets file truncated',
    damage: async (cp) => {
      const last = Math.max(...readdirSync(nodePath.join(cp, 'offsets')).map(Number));
      const file = nodePath.join(cp, 'offsets', String(last));
      writeFileSync(file, readFileSync(file, 'utf8').slice(0, 9));
    },
    refusal: () => /checkpoint file .*\/offsets\/\d+ is damaged: it is truncated or not JSON/,
  },
];

describe('a damaged checkpoint, stream by stream', () => {
  it('the clean run wrote every table, in several batches per stream', async () => {
    expect(reference.bronze).toHaveLength(60);
    expect(reference.quarantine).toHaveLength(1);
    expect(reference.application!.length).toBeGreaterThan(0);
    for (const s of STREAM_NAMES)
      expect(readdirSync(nodePath.join(clean, '_checkpoints', s, 'offsets')).length).toBe(3);
  });

  for (const stream of STREAM_NAMES) {
    it(`${stream}: each damage either rebuilds the same tables or refuses clearly; never a duplicate`, async () => {
      for (const { what, damage, refusal } of DAMAGES) {
        const root = dirs.make();
        cpSync(clean, root, { recursive: true });
        await damage(nodePath.join(root, '_checkpoints', stream));
        const expected = refusal?.(stream);
        if (expected) {
          const err = await rejection(runPipeline(root));
          expect(err, `${stream}, ${what}`).toBeInstanceOf(CheckpointError);
          expect(err.message, `${stream}, ${what}`).toMatch(expected);
          expect(err.message, `${stream}, ${what}`).toMatch(/`tweetlake run --clear`/);
        } else {
          await runPipeline(root);
        }
        expect(await contents(root), `${stream}, ${what}`).toEqual(reference);
      }
    });
  }
});
