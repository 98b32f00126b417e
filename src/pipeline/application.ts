/** SQL: per-mention counts of a batch of gold rows (rows without a mention don't count). */
export function mentionAggregatesSql(gold: string): string {
  return `SELECT mention, min("timestamp") AS min_timestamp, max("timestamp") AS max_timestamp,
      count(*) FILTER (WHERE predicted_sentiment = 'NEG') AS negative,
      count(*) FILTER (WHERE predicted_sentiment = 'NEU') AS neutral,
      count(*) FILTER (WHERE predicted_sentiment = 'POS') AS positive,
      count(*) AS total
    FROM (${gold}) WHERE mention IS NOT NULL GROUP BY mention`;
}

/** SQL: the application table after a batch: current rows merged with the batch's aggregates. */
export function mergeAggregatesSql(current: string, batch: string): string {
  return `SELECT mention, min(min_timestamp) AS min_timestamp, max(max_timestamp) AS max_timestamp,
      CAST(sum(negative) AS BIGINT) AS negative, CAST(sum(neutral) AS BIGINT) AS neutral,
      CAST(sum(positive) AS BIGINT) AS positive, CAST(sum(total) AS BIGINT) AS total
    FROM (SELECT * FROM (${current}) UNION ALL BY NAME SELECT * FROM (${batch}))
    GROUP BY mention ORDER BY total DESC, mention`;
}
