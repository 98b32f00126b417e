import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { TweetlakeError } from '../errors.js';

/** Texts to token ids, truncated to the model's length: the tokenizer of a Hugging Face layout folder. */
export interface TextTokenizer {
  encode(texts: string[]): number[][];
}

type HfTokenizer = {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
};

/**
 * Loads `tokenizer.json` + `tokenizer_config.json` of `hfDir` with @huggingface/transformers, choosing
 * the class as its AutoTokenizer does (`tokenizer_class`, without a `Fast` suffix), without touching
 * the library's global settings. Over-long texts are truncated as Hugging Face `tokenizers` (Python,
 * Rust) does it: the text's own tokens are cut so that the special tokens (`[CLS] … [SEP]`) still fit.
 * transformers.js's own truncation cuts the joined sequence instead and drops the closing `[SEP]`,
 * which gives a long text other scores in Node than in MLflow's pyfunc.
 */
export async function loadTokenizer(hfDir: string, maxLength: number): Promise<TextTokenizer> {
  const hf = (await import('@huggingface/transformers')) as unknown as Record<string, unknown>;
  const json = JSON.parse(readFileSync(nodePath.join(hfDir, 'tokenizer.json'), 'utf8')) as unknown;
  const config = JSON.parse(readFileSync(nodePath.join(hfDir, 'tokenizer_config.json'), 'utf8')) as {
    tokenizer_class?: string;
  };
  const name = (config.tokenizer_class ?? '').replace(/Fast$/, '');
  const Cls = (
    typeof hf[name] === 'function' && name.endsWith('Tokenizer') ? hf[name] : hf.PreTrainedTokenizer
  ) as new (json: unknown, config: unknown) => HfTokenizer;
  const tokenizer = new Cls(json, config);
  const { prefix, suffix } = specialTokens(tokenizer);
  const room = Math.max(0, maxLength - prefix.length - suffix.length);
  return {
    encode: (texts) =>
      texts.map((t) => {
        const own = tokenizer.encode(t, { add_special_tokens: false });
        return [...prefix, ...(own.length > room ? own.slice(0, room) : own), ...suffix];
      }),
  };
}

/** A tokenizer whose special tokens tweetlake cannot place around a truncated text. */
export class TokenizerUnsupported extends TweetlakeError {
  constructor(message: string) {
    super('TOKENIZER_UNSUPPORTED', message, { domain: 'user' });
  }
}

/** The special tokens the tokenizer puts before and after a single text's own tokens. */
function specialTokens(tokenizer: HfTokenizer): { prefix: number[]; suffix: number[] } {
  const probe = 'hello world';
  const own = tokenizer.encode(probe, { add_special_tokens: false });
  const full = tokenizer.encode(probe, { add_special_tokens: true });
  for (let at = 0; at + own.length <= full.length; at++) {
    if (own.every((id, k) => full[at + k] === id))
      return { prefix: full.slice(0, at), suffix: full.slice(at + own.length) };
  }
  throw new TokenizerUnsupported(
    `the tokenizer's special tokens do not wrap a text's own tokens (${full.join(' ')}): tweetlake cannot truncate ` +
      `texts for this model as Hugging Face tokenizers do; use a BERT-, RoBERTa- or BERTweet-style tokenizer`,
  );
}
