import { TweetlakeError } from '../errors.js';

/** Where an `s3://bucket/prefix` URL points: the bucket and the key prefix ('' or ending in '/'). */
export interface S3Location {
  bucket: string;
  /** Key prefix of the store root: '' for the bucket's top, otherwise ending in '/'. */
  prefix: string;
}

/** Thrown for a path that is not a valid `s3://bucket/prefix` URL. */
export class InvalidS3Url extends TweetlakeError {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super('S3_INVALID_URL', `not a valid S3 location: ${url} (${reason}); write it as s3://bucket/prefix`, {
      domain: 'user',
    });
  }
}

/** Whether a path names an S3 location (`s3://…`; `s3a://` as Spark writes it is accepted too). */
export function isS3Url(path: string): boolean {
  return /^s3a?:\/\//i.test(path);
}

// Bucket names as S3 allows them (3-63 characters, lower case, digits, dots and hyphens).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://bucket/prefix` (trailing slash optional, repeated slashes collapsed). */
export function parseS3Url(url: string): S3Location {
  const match = /^s3a?:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  if (!match) throw new InvalidS3Url(url, 'expected s3://bucket/prefix without query or fragment');
  const bucket = match[1]!;
  if (!BUCKET.test(bucket)) throw new InvalidS3Url(url, `"${bucket}" is not a bucket name`);
  const parts = (match[2] ?? '').split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) throw new InvalidS3Url(url, '"." and ".." are not allowed');
  return { bucket, prefix: parts.length === 0 ? '' : `${parts.join('/')}/` };
}

/** The canonical URL of a location: `s3://bucket` or `s3://bucket/prefix` (no trailing slash). */
export function formatS3Url(location: S3Location): string {
  const prefix = location.prefix.replace(/\/$/, '');
  return prefix === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${prefix}`;
}
