import { field, type StructType } from '../delta/schema.js';

/** The source record's fields (SPEC.md "Source data"); all strings. */
export const SOURCE_FIELDS = ['date', 'user', 'text', 'sentiment'] as const;

/** bronze: the source fields as read, plus provenance and rescued data. */
export const BRONZE_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('date', 'string'),
    field('user', 'string'),
    field('text', 'string'),
    field('sentiment', 'string'),
    field('_rescued_data', 'string'),
    field('source_file', 'string'),
    field('processing_time', 'timestamp'),
  ],
};

/**
 * quarantine: records that are not JSON objects, and files or parts of files that cannot be read.
 * `byte_offset` (where the record starts in its file) and `raw_bytes` (base64 of a record that is
 * not UTF-8 text) came later: older tables gain them on their next write (mergeSchema).
 */
export const QUARANTINE_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('source_file', 'string'),
    field('line_number', 'long'),
    field('raw_text', 'string'),
    field('error', 'string'),
    field('stream', 'string'),
    field('quarantined_at', 'timestamp'),
    field('byte_offset', 'long'),
    field('raw_bytes', 'string'),
  ],
};

/** silver: one row per (tweet, mention). */
export const SILVER_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('timestamp', 'timestamp'),
    field('mention', 'string'),
    field('cleaned_text', 'string'),
    field('sentiment', 'string'),
  ],
};

/** gold: silver plus the model's prediction. */
export const GOLD_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    ...SILVER_SCHEMA.fields,
    field('predicted_score', 'double'),
    field('predicted_sentiment', 'string'),
    field('sentiment_id', 'integer'),
    field('predicted_sentiment_id', 'integer'),
  ],
};

/** application: one row per mention. */
export const APPLICATION_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('mention', 'string'),
    field('min_timestamp', 'timestamp'),
    field('max_timestamp', 'timestamp'),
    field('negative', 'long'),
    field('neutral', 'long'),
    field('positive', 'long'),
    field('total', 'long'),
  ],
};
