import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledModelDir } from '../../../src/model/bundled.js';
import { InferencePool } from '../../../src/model/inference-pool.js';
import { readMlflowModel } from '../../../src/model/mlmodel.js';

const model = readMlflowModel(bundledModelDir());

function newPool(workers = 2): Promise<InferencePool> {
  return InferencePool.create({
    modelDir: model.hfDir,
    info: { name: 'HF_TWEET_SENTIMENT', uri: bundledModelDir() },
    workers,
    batchSize: 8,
    maxLength: model.maxLength,
  });
}

describe('the bundled model through the inference pool', () => {
  let pool: InferencePool;
  beforeAll(async () => {
    pool = await newPool();
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
  });

  it('ships int8 ONNX weights with the labels NEG, NEU, POS', () => {
    expect(existsSync(`${model.hfDir}/onnx/model_quantized.onnx`)).toBe(true);
    expect(model.dtype).toBe('q8');
    expect(pool.labels).toEqual(['NEG', 'NEU', 'POS']);
  });

  it('labels clearly positive, negative and neutral tweets as expected', async () => {
    const cases: [string, string][] = [
      ['I love this airline, the crew was amazing and the flight was perfect! Thank you!', 'POS'],
      ['Best customer service ever, thanks so much for the upgrade :)', 'POS'],
      ['Worst airline ever. Lost my bag, rude staff and a three hour delay.', 'NEG'],
      ['Cancelled Flightled again and nobody answers the phone. Terrible, awful experience.', 'NEG'],
      ['Flight 123 from Boston to Denver departs at 5pm from gate B12.', 'NEU'],
      ['What is the baggage allowance for international flights?', 'NEU'],
    ];
    const out = await pool.classify(
      cases.map(([t]) => t),
      { probabilities: true },
    );
    expect(out.map((p) => p.label)).toEqual(cases.map(([, l]) => l));
    for (const p of out) {
      expect(p.score).toBeGreaterThan(33.3);
      expect(p.score).toBeLessThanOrEqual(100);
      expect(p.probabilities!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.score).toBeCloseTo(Math.max(...p.probabilities!) * 100, 4);
    }
  });

  it('handles empty, blank, very long, emoji and non-Latin texts', async () => {
    const texts = [
      '',
      '   \t\n',
      'great '.repeat(2000),
      '😡😡😡',
      '今日のフライトは最高でした',
      'Отличный полёт',
      '@@@ ### !!!',
    ];
    const out = await pool.classify(texts);
    expect(out).toHaveLength(texts.length);
    for (const p of out) {
      expect(['NEG', 'NEU', 'POS']).toContain(p.label);
      expect(Number.isFinite(p.score)).toBe(true);
    }
  });

  it('returns results in input order whatever the batching', async () => {
    const texts = Array.from({ length: 40 }, (_, i) =>
      i % 3 === 0
        ? 'I love it, thank you!'
        : i % 3 === 1
          ? 'awful delay, worst service'
          : `gate ${i} opens at noon`,
    );
    const together = await pool.classify(texts);
    const alone = await Promise.all(texts.slice(0, 6).map(async (t) => (await pool.classify([t]))[0]!));
    expect(together.slice(0, 6).map((p) => p.label)).toEqual(alone.map((p) => p.label));
    for (let i = 0; i < 6; i++) expect(Math.abs(together[i]!.score - alone[i]!.score)).toBeLessThan(0.5);
  });

  it('gives a text the same label and score alone and inside batches of any size, composition and order', async () => {
    const probe = [
      'I love this airline, the crew was amazing and the flight was perfect! Thank you!',
      'been on hold for over an hour, where is my bag??',
      'Flight 123 from Boston to Denver departs at 5pm from gate B12.',
      'ok',
      '',
      '😡😡😡 #fail',
      // longer than max_length (128 tokens): truncated, then padded like every other text
      `${'so late again and nobody tells us anything, '.repeat(14)}but the crew was lovely`,
    ];
    // texts of very different lengths, so that the probes are padded to very different widths
    const others = Array.from({ length: 45 }, (_, i) =>
      i % 3 === 0 ? 'meh' : i % 3 === 1 ? `delayed again ${'and again '.repeat(i % 17)}` : `thanks ${i}!`,
    );
    const alone = await Promise.all(
      probe.map(async (t) => (await pool.classify([t], { probabilities: true }))[0]!),
    );
    const mixes: string[][] = [
      probe,
      [...probe].reverse(),
      [...others.slice(0, 20), ...probe, ...others.slice(20)],
      probe.flatMap((t, i) => [others[i * 7]!, t, others[i * 7 + 1]!]),
      [...others.filter((o) => o.length > 60), ...probe],
    ];
    const sizes = [1, 4, 64];
    let checked = 0;
    for (const batchSize of sizes) {
      const p = await InferencePool.create({
        modelDir: model.hfDir,
        info: { name: 'x', uri: 'x' },
        workers: batchSize === 4 ? 2 : 1,
        batchSize,
        maxLength: model.maxLength,
      });
      try {
        for (const mix of mixes) {
          const out = await p.classify(mix, { probabilities: true });
          probe.forEach((t, k) => {
            const got = out[mix.indexOf(t)]!;
            expect(got.label, `${t} in a mix, batch size ${batchSize}`).toBe(alone[k]!.label);
            expect(Math.abs(got.score - alone[k]!.score)).toBeLessThanOrEqual(1e-4);
            got.probabilities!.forEach((q, c) =>
              expect(Math.abs(q - alone[k]!.probabilities![c]!) * 100).toBeLessThanOrEqual(1e-4),
            );
            checked++;
          });
        }
      } finally {
        await p.close();
      }
    }
    expect(checked).toBe(sizes.length * mixes.length * probe.length);
  }, 120_000);

  it('replaces a worker that dies and retries its batch', async () => {
    const texts = Array.from(
      { length: 200 },
      (_, i) => `flight ${i} was ${i % 2 ? 'great, thanks' : 'delayed again, terrible'}`,
    );
    const expected = await pool.classify(texts);
    const restartsBefore = pool.stats.workerRestarts;
    pool.injectCrash(0);
    const got = await pool.classify(texts);
    expect(pool.stats.workerRestarts).toBe(restartsBefore + 1);
    expect(got.map((p) => p.label)).toEqual(expected.map((p) => p.label));
    expect(await pool.classify(['thank you so much!'])).toHaveLength(1); // the pool keeps working
  });

  it('refuses texts that are not strings', async () => {
    await expect(pool.classify(['ok', null as unknown as string])).rejects.toThrow(
      /text 1 is null, not a string/,
    );
  });

  it('retries a failing batch, and fails the call with a clear error when it keeps failing', async () => {
    const single = await InferencePool.create({
      modelDir: model.hfDir,
      info: { name: 'x', uri: 'x' },
      workers: 1,
      maxLength: model.maxLength,
    });
    try {
      single.injectFailures(0, 2); // two failures, then success on the third attempt
      expect((await single.classify(['thanks, great flight']))[0]!.label).toBe('POS');
      single.injectFailures(0, 3); // fails all three attempts
      await expect(single.classify(['thanks, great flight'])).rejects.toThrow(
        /failed 3 times: injected failure/,
      );
      expect((await single.classify(['the pool still works']))[0]!.label).toMatch(/NEG|NEU|POS/);
    } finally {
      await single.close();
    }
  }, 60_000);
});
