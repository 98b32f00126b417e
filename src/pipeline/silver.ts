/**
 * Silver transforms: parse Twitter's date text to UTC, find @mentions, strip them from the text.
 * Rules (docs/pipeline.md): a mention is '@' + 1–15 of [A-Za-z0-9_] that is not preceded by a
 * letter, digit, '_', '@' or '.' (so e-mail addresses are not mentions) and ends at a word
 * boundary; a mention is stored as '@' + the lower-cased handle (`@united`, as the original shows
 * them); a handle mentioned twice in a tweet counts once; a tweet with
 * no mention keeps one row with a NULL mention (explode_outer) unless told to drop it.
 */

/** Zone abbreviations Twitter and the data sets use, with their offsets from UTC in hours. */
export const ZONE_OFFSETS: Record<string, number> = {
  UTC: 0,
  GMT: 0,
  Z: 0,
  WET: 0,
  BST: 1,
  IST: 1,
  CET: 1,
  CEST: 2,
  EET: 2,
  EEST: 3,
  MSK: 3,
  EST: -5,
  EDT: -4,
  CST: -6,
  CDT: -5,
  MST: -7,
  MDT: -6,
  PST: -8,
  PDT: -7,
  AKST: -9,
  AKDT: -8,
  HST: -10,
  AST: -4,
  ADT: -3,
  NST: -3.5,
  NDT: -2.5,
  JST: 9,
  KST: 9,
  AEST: 10,
  AEDT: 11,
};

/**
 * Mention candidates (RE2): group 1 is the whole word after '@' (any letters, so `@wörld` is one
 * word); a candidate is a mention only if that word is 1–15 ASCII handle characters and is not
 * followed by another '@' (`@a@b` mentions nobody).
 */
export const MENTION_REGEX = String.raw`(?:^|[^A-Za-z0-9_@.])@([\p{L}\p{N}_]+)(@?)`;
const HANDLE = String.raw`[A-Za-z0-9_]{1,15}`;
/** A mention with the characters around it; stripping keeps them (groups 1 and 2). */
export const MENTION_STRIP = String.raw`(^|[^A-Za-z0-9_@.])@[A-Za-z0-9_]{1,15}([^\p{L}\p{N}_@]|$)`;

/**
 * SQL turning `EEE MMM dd HH:mm:ss zzz yyyy` (zzz an abbreviation above, or ±hhmm) into a UTC
 * TIMESTAMPTZ; NULL when the text does not parse or the zone is unknown.
 */
export function parseTwitterDateSql(col: string): string {
  const zone = `regexp_extract(${col}, '^\\S+ \\S+ \\d+ \\d+:\\d+:\\d+ (\\S+) \\d+$', 1)`;
  const cases = Object.entries(ZONE_OFFSETS)
    .map(([z, h]) => `WHEN '${z}' THEN ${h * 60}`)
    .join(' ');
  const minutes = `CASE WHEN regexp_matches(${zone}, '^[+-]\\d{4}$')
      THEN (CASE WHEN starts_with(${zone}, '-') THEN -1 ELSE 1 END) *
           (CAST(substr(${zone}, 2, 2) AS INTEGER) * 60 + CAST(substr(${zone}, 4, 2) AS INTEGER))
      ELSE CASE upper(${zone}) ${cases} END END`;
  const local = `try_strptime(regexp_replace(${col}, ' \\S+ (\\d+)$', ' \\1'), '%a %b %d %H:%M:%S %Y')`;
  return `CAST(${local} - to_minutes(CAST(${minutes} AS BIGINT)) AS TIMESTAMP) AT TIME ZONE 'UTC'`;
}

/** SQL list of the distinct mentions of a text, each '@' + the lower-cased handle (`@united`). */
export function mentionsSql(col: string): string {
  // Whole matches, so that a word followed by '@' (`@a@b`) can be told apart and dropped. The word
  // follows a match's first '@' (the character before a mention is never '@'): cut, not matched
  // again (half the time of the expression, measured in docs/BENCHMARKS.md).
  return `list_distinct(list_transform(list_filter(list_transform(regexp_extract_all(${col}, '${MENTION_REGEX}', 0),
      m -> CASE WHEN ends_with(m, '@') THEN NULL ELSE m[strpos(m, '@') + 1:] END),
      m -> m IS NOT NULL AND regexp_full_match(m, '${HANDLE}')), m -> '@' || lower(m)))`;
}

/** SQL of the text with mentions removed and white space collapsed. */
export function cleanedTextSql(col: string): string {
  // Two passes: a match consumes the character after a mention, which may be the one before the next.
  const strip = (x: string) => `regexp_replace(${x}, '${MENTION_STRIP}', '\\1\\2', 'g')`;
  // Only runs of white space and single non-space characters change (RE2's \s is [\t\n\f\r ]).
  return `trim(regexp_replace(${strip(strip(col))}, '[\\t\\n\\f\\r ]{2,}|[\\t\\n\\f\\r]', ' ', 'g'))`;
}

/** Silver rows of a batch of bronze rows. */
export function silverRowsSql(bronze: string, options: { dropWithoutMentions?: boolean } = {}): string {
  // Mentions are computed once per tweet (inner query), then exploded.
  const exploded = options.dropWithoutMentions
    ? `unnest(ms)`
    : `unnest(CASE WHEN coalesce(len(ms), 0) = 0 THEN [CAST(NULL AS VARCHAR)] ELSE ms END)`; // NULL text too
  return `SELECT "timestamp", ${exploded} AS mention, cleaned_text, sentiment FROM (
      SELECT ${parseTwitterDateSql('date')} AS "timestamp", ${mentionsSql('text')} AS ms,
        ${cleanedTextSql('text')} AS cleaned_text, sentiment
      FROM (${bronze}))`;
}
