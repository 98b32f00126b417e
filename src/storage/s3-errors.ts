import { TweetlakeError } from '../errors.js';
import { isRetryable, type GaveUp } from './s3-retry.js';

/**
 * Typed errors of the S3 store. Messages name the bucket, the endpoint and the variables to check,
 * never a credential's value.
 */

/** The credentials were refused (403 AccessDenied, unknown key id, bad signature, expired token). */
export class S3AccessDenied extends TweetlakeError {
  constructor(
    readonly location: string,
    readonly s3Code: string,
    credentialSource: string,
  ) {
    super(
      'S3_ACCESS_DENIED',
      `access to ${location} was refused (${s3Code}). Credentials came from ${credentialSource}; check ` +
        'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if temporary), AWS_PROFILE, ' +
        "and that the key's policy allows s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on it",
      { domain: 'user' },
    );
  }
}

/** No credentials anywhere in the AWS chain. */
export class S3CredentialsMissing extends TweetlakeError {
  constructor(
    readonly location: string,
    cause: unknown,
  ) {
    super(
      'S3_NO_CREDENTIALS',
      `no AWS credentials found for ${location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ` +
        'AWS_PROFILE naming a profile in ~/.aws/credentials or ~/.aws/config (SSO: run aws sso login first)',
      { domain: 'user', cause },
    );
  }
}

/** The bucket does not exist at the endpoint. */
export class S3BucketNotFound extends TweetlakeError {
  constructor(
    readonly bucket: string,
    endpoint: string,
  ) {
    super(
      'S3_NO_SUCH_BUCKET',
      `bucket "${bucket}" does not exist at ${endpoint}: create it, or fix the bucket in the s3:// URL ` +
        '(and AWS_ENDPOINT_URL / AWS_REGION if it lives elsewhere)',
      { domain: 'user' },
    );
  }
}

/** The endpoint could not be reached (refused, unknown host, timeouts) after every retry. */
export class S3EndpointUnreachable extends TweetlakeError {
  constructor(endpoint: string, reason: string, attempts: number, cause: unknown) {
    super(
      'S3_UNREACHABLE',
      `cannot reach the S3 endpoint ${endpoint} (${reason}, ${attempts} attempts): check the endpoint's scheme, ` +
        'host and port (AWS_ENDPOINT_URL, or storage.s3.endpoint in the config), AWS_REGION and the network, then run again',
      { domain: 'external', retryable: true, cause },
    );
  }
}

/** The endpoint given is not usable as it is written (bad URL, or plain HTTP to a remote host). */
export class S3BadEndpoint extends TweetlakeError {
  constructor(endpoint: string, reason: string) {
    super('S3_BAD_ENDPOINT', `S3 endpoint "${endpoint}" cannot be used: ${reason}`, { domain: 'user' });
  }
}

/** No region is configured and none can be guessed (AWS itself needs one). */
export class S3RegionMissing extends TweetlakeError {
  constructor(cause?: unknown) {
    super(
      'S3_REGION_MISSING',
      'no AWS region is configured: set AWS_REGION (or region in the profile AWS_PROFILE names)',
      { domain: 'user', cause },
    );
  }
}

/** Any other failed S3 request: names the operation, the key and what S3 answered. */
export class S3RequestFailed extends TweetlakeError {
  constructor(
    readonly operation: string,
    readonly location: string,
    readonly status: number | undefined,
    readonly s3Code: string,
    detail: string,
    retryable: boolean,
    attempts: number,
    cause: unknown,
  ) {
    super(
      'S3_REQUEST_FAILED',
      `S3 ${operation} of ${location} failed: ${status ?? 'no answer'} ${s3Code}: ${detail}` +
        (retryable ? ` (gave up after ${attempts} attempts; the store may be overloaded: run again)` : ''),
      { domain: 'external', retryable, cause },
    );
  }
}

/** A local file changed size while it was being uploaded (staged files must not change). */
export class StagedFileChanged extends TweetlakeError {
  constructor(readonly file: string) {
    super(
      'STAGED_FILE_CHANGED',
      `${file} changed while it was uploaded: staged files must not be written to meanwhile`,
      {
        domain: 'internal',
      },
    );
  }
}

/** A remote object changed (its ETag) while it was read: immutable files never do. */
export class RemoteObjectChanged extends TweetlakeError {
  constructor(readonly location: string) {
    super(
      'REMOTE_OBJECT_CHANGED',
      `${location} changed while it was read (its ETag differs): something rewrites a file tables treat as immutable`,
      { domain: 'external', retryable: true },
    );
  }
}

const ACCESS_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'Forbidden',
]);

/** Where a failed request went, for its message. */
export interface S3ErrorContext {
  operation: string;
  where: string;
  bucket: string;
  endpoint: string;
  credentialSource: string;
}

/** The typed error for a request that failed for good. */
export function typedS3Error(g: GaveUp, ctx: S3ErrorContext): TweetlakeError {
  const { failure: f, attempts } = g;
  if (f.code === 'NoSuchBucket') return new S3BucketNotFound(ctx.bucket, ctx.endpoint);
  // the SDK's credential chain found nothing (its error class is not exported by the S3 client)
  if (f.code === 'CredentialsProviderError') return new S3CredentialsMissing(ctx.where, g.error);
  if (f.status === 403 || ACCESS_CODES.has(f.code))
    return new S3AccessDenied(ctx.where, f.code, ctx.credentialSource);
  if (f.network) return new S3EndpointUnreachable(ctx.endpoint, f.code, attempts, g.error);
  const retryable = isRetryable(f, false);
  return new S3RequestFailed(
    ctx.operation,
    ctx.where,
    f.status,
    f.code,
    f.message,
    retryable,
    attempts,
    g.error,
  );
}
