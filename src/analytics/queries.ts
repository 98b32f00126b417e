import type { DuckSession, JsonRow } from '../duck/session.js';
import { mentionsSql } from '../pipeline/silver.js';

/** The answers of SPEC.md's exploration and application views, from the tables as SQL views. */
export interface Insights {
  counters: { tweets: number; withMentions: number; withoutMentions: number; quarantined: number };
  nullCounts: { column: string; nulls: number; empty: number }[];
  topTweeters: { user: string; tweets: number }[];
  distinctUsers: number;
  mentions: { distinct: number; rows: number };
  perMention: { mention: string; negative: number; neutral: number; positive: number; total: number }[];
  topPositive: { mention: string; positive: number }[];
  topNegative: { mention: string; negative: number }[];
  /** Predicted label counts in gold, and given-label counts. */
  labels: { predicted_sentiment: string; rows: number }[];
}

/** SQL for each question; views named bronze, gold, application, quarantine must exist. */
export const INSIGHT_SQL = {
  tweets: `SELECT count(*) AS n FROM bronze`,
  withMentions: `SELECT count(*) FILTER (WHERE len(${mentionsSql('text')}) > 0) AS with_m, count(*) FILTER (WHERE len(${mentionsSql('text')}) = 0 OR text IS NULL) AS without_m FROM bronze`,
  nullCounts: `SELECT column_name, nulls, empty FROM (
      SELECT 'date' AS column_name, count(*) - count(date) AS nulls, count(*) FILTER (WHERE trim(date) = '') AS empty FROM bronze
      UNION ALL SELECT 'user', count(*) - count("user"), count(*) FILTER (WHERE trim("user") = '') FROM bronze
      UNION ALL SELECT 'text', count(*) - count(text), count(*) FILTER (WHERE trim(text) = '') FROM bronze
      UNION ALL SELECT 'sentiment', count(*) - count(sentiment), count(*) FILTER (WHERE trim(sentiment) = '') FROM bronze)`,
  tweetsPerUser: `SELECT "user", count(*) AS tweets FROM bronze GROUP BY "user" ORDER BY tweets DESC, "user"`,
  mentions: `SELECT count(DISTINCT mention) AS distinct_mentions, count(mention) AS mention_rows FROM gold`,
  perMention: `SELECT mention, negative, neutral, positive, total FROM application ORDER BY total DESC, mention`,
  topPositive: `SELECT mention, positive FROM application ORDER BY positive DESC, mention LIMIT 20`,
  topNegative: `SELECT mention, negative FROM application ORDER BY negative DESC, mention LIMIT 20`,
  labels: `SELECT predicted_sentiment, count(*) AS rows FROM gold GROUP BY 1 ORDER BY 1`,
  quarantined: `SELECT count(*) AS n FROM quarantine`,
} as const;

const num = (v: unknown) => Number(v ?? 0);

async function safe(session: DuckSession, sql: string, available: boolean): Promise<JsonRow[]> {
  return available ? session.all(sql) : [];
}

/**
 * Runs every insight query. `present` says which views exist (a table not written yet answers
 * empty). `limit` bounds the per-mention list.
 */
export async function computeInsights(
  session: DuckSession,
  present: Set<string>,
  limit = 200,
): Promise<Insights> {
  const b = present.has('bronze');
  const g = present.has('gold');
  const a = present.has('application');
  const [tweets] = await safe(session, INSIGHT_SQL.tweets, b);
  const [wm] = await safe(session, INSIGHT_SQL.withMentions, b);
  const [mentions] = await safe(session, INSIGHT_SQL.mentions, g);
  const [quarantined] = await safe(session, INSIGHT_SQL.quarantined, present.has('quarantine'));
  const [users] = await safe(session, `SELECT count(DISTINCT "user") AS n FROM bronze`, b);
  return {
    counters: {
      tweets: num(tweets?.n),
      withMentions: num(wm?.with_m),
      withoutMentions: num(wm?.without_m),
      quarantined: num(quarantined?.n),
    },
    nullCounts: (await safe(session, INSIGHT_SQL.nullCounts, b)).map((r) => ({
      column: String(r.column_name),
      nulls: num(r.nulls),
      empty: num(r.empty),
    })),
    topTweeters: (await safe(session, `${INSIGHT_SQL.tweetsPerUser} LIMIT 20`, b)).map((r) => ({
      user: String(r.user),
      tweets: num(r.tweets),
    })),
    distinctUsers: num(users?.n),
    mentions: { distinct: num(mentions?.distinct_mentions), rows: num(mentions?.mention_rows) },
    perMention: (await safe(session, `${INSIGHT_SQL.perMention} LIMIT ${limit}`, a)).map((r) => ({
      mention: String(r.mention),
      negative: num(r.negative),
      neutral: num(r.neutral),
      positive: num(r.positive),
      total: num(r.total),
    })),
    topPositive: (await safe(session, INSIGHT_SQL.topPositive, a)).map((r) => ({
      mention: String(r.mention),
      positive: num(r.positive),
    })),
    topNegative: (await safe(session, INSIGHT_SQL.topNegative, a)).map((r) => ({
      mention: String(r.mention),
      negative: num(r.negative),
    })),
    labels: (await safe(session, INSIGHT_SQL.labels, g)).map((r) => ({
      predicted_sentiment: String(r.predicted_sentiment),
      rows: num(r.rows),
    })),
  };
}
