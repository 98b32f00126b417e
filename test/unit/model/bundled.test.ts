import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundledModelDir,
  DEFAULT_MODEL_NAME,
  ensureBundledModelRegistered,
} from '../../../src/model/bundled.js';
import { LocalObjectStore } from '../../../src/storage/local-store.js';
import { FileModelRegistry } from '../../../src/model/file-registry.js';
import { resolveVersion } from '../../../src/model/resolve.js';
import { tempDirs } from '../../helpers/delta.js';
import { bundledModelIfBuilt, writeFakeMlflowModel } from './fixtures.js';

const dirs = tempDirs('tweetlake-bundled-');
afterAll(() => dirs.cleanup());

const BUILD = (
  parse(readFileSync(nodePath.join(bundledModelDir(), 'MLmodel'), 'utf8')) as { model_uuid: string }
).model_uuid;
const DESCRIPTION = 'Bundled tweet sentiment model (MiniLM fine-tuned on TweetEval; see its model card)';

function registry(): FileModelRegistry {
  return new FileModelRegistry(new LocalObjectStore(nodePath.join(dirs.make(), 'mlruns')));
}

async function stages(r: FileModelRegistry): Promise<[string, string, string[]][]> {
  const m = (await r.getModel(DEFAULT_MODEL_NAME))!;
  return m.versions.map((v) => [v.version, v.currentStage, v.aliases]);
}

describe.skipIf(!bundledModelIfBuilt())('registering the bundled model', () => {
  it("registers it once and never undoes the user's transitions", async () => {
    const r = registry();
    expect(await ensureBundledModelRegistered(r)).toMatchObject({ version: '1', currentStage: 'Production' });
    await r.transitionStage(DEFAULT_MODEL_NAME, '1', 'Staging');
    expect(await ensureBundledModelRegistered(r)).toBeUndefined();
    expect(await stages(r)).toEqual([['1', 'Staging', ['production']]]);
    await r.transitionStage(DEFAULT_MODEL_NAME, '1', 'None');
    expect(await ensureBundledModelRegistered(r)).toBeUndefined();
    expect(await stages(r)).toEqual([['1', 'None', ['production']]]);
  });

  it('registered by processes starting together (a group of workers): one version in Production, the others archived', async () => {
    const r = registry();
    // separate registry objects on one store, as separate processes have
    const racers = [r, new FileModelRegistry(r.store), new FileModelRegistry(r.store)];
    const results = await Promise.all(racers.map((x) => ensureBundledModelRegistered(x)));
    const promoted = results.filter((x) => x !== undefined);
    expect(promoted).toHaveLength(1);
    expect(promoted[0]).toMatchObject({ version: '1', currentStage: 'Production' });
    const all = await stages(r);
    expect(all[0]).toEqual(['1', 'Production', ['production']]);
    for (const [, stage, aliases] of all.slice(1)) expect([stage, aliases]).toEqual(['Archived', []]);
    // and the next start changes nothing
    expect(await ensureBundledModelRegistered(r)).toBeUndefined();
  });

  it('each of several starting together finds the Production version right after registering (8 rounds of 4)', async () => {
    for (let round = 0; round < 8; round++) {
      const r = registry();
      const resolved = await Promise.all(
        [0, 1, 2, 3].map(async (i) => {
          const mine = i === 0 ? r : new FileModelRegistry(r.store);
          await ensureBundledModelRegistered(mine);
          return (
            await resolveVersion(mine, { kind: 'stage', name: DEFAULT_MODEL_NAME, stage: 'Production' })
          ).version;
        }),
      );
      expect(resolved).toEqual(['1', '1', '1', '1']);
      const all = await stages(r);
      expect(all.filter(([, stage]) => stage === 'Production')).toEqual([
        ['1', 'Production', ['production']],
      ]);
    }
  });

  it('completes a registration that a killed process left half-done', async () => {
    const r = registry();
    // Killed after creating the version, before the alias and the stage.
    await r.createVersion(DEFAULT_MODEL_NAME, bundledModelDir(), {
      description: `${DESCRIPTION} (tweetlake bundle ${BUILD})`,
    });
    expect(await ensureBundledModelRegistered(r)).toMatchObject({ version: '1', currentStage: 'Production' });
    expect(await stages(r)).toEqual([['1', 'Production', ['production']]]);
  });

  it('recognises a version an older tweetlake registered without the build mark', async () => {
    const r = registry();
    const v = await r.createVersion(DEFAULT_MODEL_NAME, bundledModelDir(), { description: DESCRIPTION });
    await r.setAlias(DEFAULT_MODEL_NAME, 'production', v.version);
    await r.transitionStage(DEFAULT_MODEL_NAME, v.version, 'Production');
    expect(await ensureBundledModelRegistered(r)).toBeUndefined();
    expect(await stages(r)).toEqual([['1', 'Production', ['production']]]);
  });

  it('registers a new build as a new version, taking over Production only from an earlier bundled build', async () => {
    const r = registry();
    const old = await r.createVersion(DEFAULT_MODEL_NAME, writeFakeMlflowModel(dirs.make('old')), {
      description: `${DESCRIPTION} (tweetlake bundle 0123456789abcdef0123456789abcdef)`,
    });
    await r.setAlias(DEFAULT_MODEL_NAME, 'production', old.version);
    await r.transitionStage(DEFAULT_MODEL_NAME, old.version, 'Production');
    expect(await ensureBundledModelRegistered(r)).toMatchObject({ version: '2', currentStage: 'Production' });
    expect(await stages(r)).toEqual([
      ['1', 'Archived', []],
      ['2', 'Production', ['production']],
    ]);
  });

  it("leaves a model someone manages alone (the user's own versions in Production)", async () => {
    const r = registry();
    const mine = await r.createVersion(DEFAULT_MODEL_NAME, writeFakeMlflowModel(dirs.make('mine')));
    await r.transitionStage(DEFAULT_MODEL_NAME, mine.version, 'Production');
    expect(await ensureBundledModelRegistered(r)).toBeUndefined();
    expect(await stages(r)).toEqual([['1', 'Production', []]]);
  });
});
