/**
 * Builds the `tokenizer.json` that transformers.js needs from the vocabulary files of a Hugging Face
 * repo that has none: WordPiece (`vocab.txt`: BERT, DistilBERT), byte-level BPE (`vocab.json` +
 * `merges.txt`: RoBERTa) and BERTweet's fastBPE (`vocab.txt` + `bpe.codes`). The result is the
 * `tokenizers` library's JSON format, and tokenizes as the Python slow tokenizer of the same files.
 */
import { TweetlakeError } from '../errors.js';

/** The tokenizer files could not be turned into a tokenizer.json. */
export class TokenizerConversionError extends TweetlakeError {
  constructor(message: string) {
    super('TOKENIZER_CONVERSION_FAILED', message, { domain: 'user' });
  }
}

/** Which kind of tokenizer the files make. */
export type TokenizerKind = 'wordpiece' | 'byte-level-bpe' | 'fastbpe';

/** The files each kind is built from, in the order `tokenizerKindOf` tries them. */
export const TOKENIZER_SOURCES: Record<TokenizerKind, string[]> = {
  fastbpe: ['vocab.txt', 'bpe.codes'],
  'byte-level-bpe': ['vocab.json', 'merges.txt'],
  wordpiece: ['vocab.txt'],
};

/** The kind of tokenizer a repo's files make, or undefined when they make none. */
export function tokenizerKindOf(files: ReadonlySet<string>): TokenizerKind | undefined {
  return (Object.keys(TOKENIZER_SOURCES) as TokenizerKind[]).find((k) =>
    TOKENIZER_SOURCES[k].every((f) => files.has(f)),
  );
}

type Json = Record<string, unknown>;

/** A special token's text from tokenizer_config.json / special_tokens_map.json (a string or an AddedToken object). */
export function specialTokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string')
    return (value as Json).content as string;
  return undefined;
}

/** The special tokens, from the tokenizer config first, then the special-tokens map, then defaults. */
function specials(config: Json, map: Json, defaults: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, d] of Object.entries(defaults))
    out[k] = specialTokenText(config[k]) ?? specialTokenText(map[k]) ?? d;
  return out;
}

function addedTokens(vocab: Map<string, number>, tokens: string[], lstrip: ReadonlySet<string> = new Set()) {
  return [...new Set(tokens)]
    .filter((t) => vocab.has(t))
    .map((content) => ({
      id: vocab.get(content)!,
      content,
      single_word: false,
      lstrip: lstrip.has(content),
      rstrip: false,
      normalized: false,
      special: true,
    }))
    .sort((a, b) => a.id - b.id);
}

/** `[CLS] $A [SEP]` (and `$A [SEP] $B [SEP]` for pairs) around the given special tokens. */
function template(cls: string, sep: string, vocab: Map<string, number>, pairSep: string[]): Json {
  const special = (id: string, type_id = 0) => ({ SpecialToken: { id, type_id } });
  const seq = (id: 'A' | 'B', type_id = 0) => ({ Sequence: { id, type_id } });
  const ids = (t: string) => {
    const id = vocab.get(t);
    if (id === undefined)
      throw new TokenizerConversionError(`the special token ${t} is not in the vocabulary`);
    return { id: t, ids: [id], tokens: [t] };
  };
  return {
    type: 'TemplateProcessing',
    single: [special(cls), seq('A'), special(sep)],
    pair: [special(cls), seq('A'), ...pairSep.map((s) => special(s)), seq('B', 1), special(sep, 1)],
    special_tokens: { [cls]: ids(cls), [sep]: ids(sep) },
  };
}

function lines(text: string): string[] {
  const out = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (out.at(-1) === '') out.pop();
  return out;
}

const WORDPIECE_SPECIALS = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};

/** WordPiece (BERT, DistilBERT) from vocab.txt: one token per line, its id the line number. */
export function wordPieceTokenizer(vocabTxt: string, config: Json, map: Json): Json {
  const vocab = new Map<string, number>();
  lines(vocabTxt).forEach((t, i) => {
    if (!vocab.has(t)) vocab.set(t, i);
  });
  const s = specials(config, map, WORDPIECE_SPECIALS);
  if (!vocab.has(s.unk_token!))
    throw new TokenizerConversionError(
      `vocab.txt has no ${s.unk_token} token: it is not a WordPiece vocabulary`,
    );
  const lowercase = config.do_lower_case !== false;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(vocab, Object.values(s)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars !== false,
      strip_accents: typeof config.strip_accents === 'boolean' ? config.strip_accents : null,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: template(s.cls_token!, s.sep_token!, vocab, [s.sep_token!]),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: s.unk_token,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}

/** Merge rules of a merges.txt (GPT-2 style, `#version` header) or bpe.codes (`a b count`). */
function mergeRules(text: string): [string, string][] {
  return lines(text)
    .filter((l) => l.trim() !== '' && !l.startsWith('#version'))
    .map((l) => l.trim().split(/\s+/))
    .filter((parts) => parts.length >= 2)
    .map((parts) => [parts[0]!, parts[1]!]);
}

const ROBERTA_SPECIALS = {
  bos_token: '<s>',
  eos_token: '</s>',
  sep_token: '</s>',
  cls_token: '<s>',
  unk_token: '<unk>',
  pad_token: '<pad>',
  mask_token: '<mask>',
};

/** Byte-level BPE (RoBERTa) from vocab.json (token -> id) and merges.txt. */
export function byteLevelBpeTokenizer(vocabJson: string, mergesTxt: string, config: Json, map: Json): Json {
  let parsed: Record<string, number>;
  try {
    parsed = JSON.parse(vocabJson) as Record<string, number>;
  } catch (err) {
    throw new TokenizerConversionError(`vocab.json is not JSON: ${(err as Error).message}`);
  }
  const vocab = new Map(Object.entries(parsed));
  const s = specials(config, map, ROBERTA_SPECIALS);
  const addPrefixSpace = config.add_prefix_space === true;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(vocab, Object.values(s), new Set([s.mask_token!])),
    normalizer: null,
    pre_tokenizer: {
      type: 'ByteLevel',
      add_prefix_space: addPrefixSpace,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: template(s.cls_token!, s.sep_token!, vocab, [s.sep_token!, s.sep_token!]),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: vocab.has(s.unk_token!) ? s.unk_token : null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: parsed,
      merges: mergeRules(mergesTxt),
    },
  };
}

/**
 * BERTweet's fastBPE from vocab.txt (fairseq dictionary: `token count` lines, ids from 4 after
 * <s> <pad> </s> <unk>; `@@` marks a piece that continues the word) and bpe.codes. fastBPE marks the
 * word's last piece with `</w>` while merging and drops it after; the vocabulary here names each
 * piece as the merging sees it (`hel@@` -> `hel`, `lo` -> `lo</w>`) with the dictionary's ids.
 */
export function fastBpeTokenizer(
  vocabTxt: string,
  codes: string,
  config: Json,
  map: Json,
  added: Json,
): Json {
  const dict = new Map<string, number>([
    ['<s>', 0],
    ['<pad>', 1],
    ['</s>', 2],
    ['<unk>', 3],
  ]);
  for (const line of lines(vocabTxt)) {
    const cut = line.trim().lastIndexOf(' ');
    if (cut < 0) throw new TokenizerConversionError(`vocab.txt line '${line}' is not '<token> <count>'`);
    dict.set(line.trim().slice(0, cut), dict.size);
  }
  for (const [t, id] of Object.entries(added)) if (typeof id === 'number') dict.set(t, id);
  const s = specials(config, map, ROBERTA_SPECIALS);
  if (!dict.has(s.mask_token!)) dict.set(s.mask_token!, dict.size);
  const special = new Set(Object.values(s));
  const vocab = new Map<string, number>();
  for (const [t, id] of dict) {
    const key = special.has(t) ? t : t.endsWith('@@') ? t.slice(0, -2) : `${t}</w>`;
    if (!vocab.has(key)) vocab.set(key, id);
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(vocab, [...special], new Set([s.mask_token!])),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: template(s.cls_token!, s.sep_token!, vocab, [s.sep_token!, s.sep_token!]),
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: s.unk_token,
      continuing_subword_prefix: null,
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(vocab),
      merges: mergeRules(codes),
    },
  };
}

/**
 * The special tokens a converted tokenizer uses (from tokenizer_config.json, else
 * special_tokens_map.json, else the kind's defaults), for the tokenizer_config.json beside it:
 * transformers.js takes the padding token and the others from there.
 */
export function specialTokensOf(kind: TokenizerKind, config: Json, map: Json): Record<string, string> {
  return specials(config, map, kind === 'wordpiece' ? WORDPIECE_SPECIALS : ROBERTA_SPECIALS);
}

/** The transformers.js tokenizer class for a converted tokenizer (the generic one for BERTweet). */
export function tokenizerClassFor(kind: TokenizerKind, modelType: string | undefined): string {
  if (kind === 'wordpiece') return modelType === 'distilbert' ? 'DistilBertTokenizer' : 'BertTokenizer';
  return 'RobertaTokenizer';
}
