import { describe, expect, it } from 'vitest';
import { bundledModelDir } from '../../../src/model/bundled.js';
import { readMlflowModel } from '../../../src/model/mlmodel.js';
import { loadTokenizer } from '../../../src/model/tokenizer.js';

const model = readMlflowModel(bundledModelDir());
const CLS = 101;
const SEP = 102;

describe('the bundled tokenizer (main thread)', () => {
  it('wraps a text in [CLS] … [SEP]', async () => {
    const t = await loadTokenizer(model.hfDir, model.maxLength);
    const [short, empty] = t.encode(['delayed again', '']);
    expect(short![0]).toBe(CLS);
    expect(short!.at(-1)).toBe(SEP);
    expect(short!.length).toBeGreaterThan(2);
    expect(empty).toEqual([CLS, SEP]);
  });

  it('truncates an over-long text as Hugging Face tokenizers does: its own tokens cut, the closing [SEP] kept', async () => {
    const t = await loadTokenizer(model.hfDir, model.maxLength);
    const words = Array.from({ length: 200 }, (_, i) => `delayed${i % 7 === 0 ? '!!' : ''} flight ${i}`);
    const long = words.join(' ');
    const [ids] = t.encode([long]);
    expect(ids).toHaveLength(model.maxLength);
    expect(ids![0]).toBe(CLS);
    expect(ids!.at(-1)).toBe(SEP);
    expect(ids!.filter((id) => id === SEP)).toHaveLength(1);
    // the kept tokens are the text's first ones: those of a prefix of it that fits
    const [prefix] = t.encode([words.slice(0, 20).join(' ')]);
    expect(prefix!.length).toBeLessThan(model.maxLength);
    expect(ids!.slice(0, prefix!.length - 1)).toEqual(prefix!.slice(0, -1));
  });
});
