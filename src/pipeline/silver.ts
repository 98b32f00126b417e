/**
 * Silver transforms: parse Twitter's date text to UTC, find @mentions, strip them from the text.
 * Rules (docs/pipeline.md): a mention is '@' + 1–15 of [A-Za-z0-9_] that is not preceded by a
 * letter, digit, '_', '@' or '.' (so e-mail addresses are not mentions) and ends at a word
 * boundary; handles are lower-cased; a handle mentioned twice in a tweet counts once; a tweet with
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

/** Mention pattern (RE2): group 1 is the handle. */
export const MENTION_REGEX = String.raw`(?:^|[^A-Za-z0-9_@.])@([A-Za-z0-9_]{1,15})\b`;
const MENTION_STRIP = String.raw`(^|[^A-Za-z0-9_@.])@[A-Za-z0-9_]{1,15}\b`;

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

/** SQL list of the distinct lower-cased handles a text mentions. */
export function mentionsSql(col: string): string {
  return `list_distinct(list_transform(regexp_extract_all(${col}, '${MENTION_REGEX}', 1), m -> lower(m)))`;
}

/** SQL of the text with mentions removed and white space collapsed. */
export function cleanedTextSql(col: string): string {
  return `trim(regexp_replace(regexp_replace(${col}, '${MENTION_STRIP}', '\\1', 'g'), '\\s+', ' ', 'g'))`;
}

/** Silver rows of a batch of bronze rows. */
export function silverRowsSql(bronze: string, options: { dropWithoutMentions?: boolean } = {}): string {
  const mentions = mentionsSql('text');
  const exploded = options.dropWithoutMentions
    ? `unnest(${mentions})`
    : `unnest(CASE WHEN coalesce(len(${mentions}), 0) = 0 THEN [CAST(NULL AS VARCHAR)] ELSE ${mentions} END)`; // NULL text too
  return `SELECT ${parseTwitterDateSql('date')} AS "timestamp", ${exploded} AS mention,
      ${cleanedTextSql('text')} AS cleaned_text, sentiment
    FROM (${bronze})`;
}
