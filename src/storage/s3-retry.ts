/** Which S3 failures are worth another attempt, and how long to wait before it. */

/** How often and how patiently a request is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay cap before the second attempt; doubles with each further one. */
  baseDelayMs: number;
  /** Largest delay between two attempts. */
  maxDelayMs: number;
}

/** About 10 s of retries in all: enough to ride out a server restart or a burst of 503 SlowDown. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 4000 };

/** What an S3 client error tells us: the HTTP status, S3's error code and a socket error code. */
export interface S3Failure {
  status: number | undefined;
  /** S3's error code (`NoSuchKey`, `SlowDown`, …) or the Node error code (`ECONNREFUSED`, …). */
  code: string;
  message: string;
  /** No HTTP answer at all: the connection failed or was cut. */
  network: boolean;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);
const RETRYABLE_CODES = new Set([
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'Throttling',
  'ThrottlingException',
  'RequestTimeTooSkewed',
  'OperationAborted',
  'TimeoutError',
]);

/** Reads status and codes off whatever the SDK (or the socket below it) threw. */
export function describeFailure(err: unknown): S3Failure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    $metadata?: { httpStatusCode?: number };
    name?: string;
    code?: string;
    Code?: string;
    message?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  const nodeCode = typeof e.code === 'string' ? e.code : undefined;
  const network =
    status === undefined &&
    (nodeCode !== undefined ? NETWORK_CODES.has(nodeCode) : e.name === 'TimeoutError');
  return {
    status,
    code: e.Code ?? (status === undefined ? (nodeCode ?? e.name) : e.name) ?? 'Unknown',
    message: e.message ?? String(err),
    network,
  };
}

/**
 * Whether another attempt may succeed: 5xx, throttling, timeouts and dropped connections (an unknown
 * host is not retried: it is a wrong endpoint). 409 is retried only for conditional writes, where it
 * means another conditional write of the key was in flight.
 */
export function isRetryable(f: S3Failure, conditional: boolean): boolean {
  if (f.network) return f.code !== 'ENOTFOUND';
  if (f.status === 409) return conditional && f.code !== 'BucketAlreadyExists';
  if (f.status !== undefined && f.status >= 500) return true;
  return f.status === 429 || RETRYABLE_CODES.has(f.code);
}

/** Delay before attempt `attempt + 1` (attempt counts from 1): exponential, half fixed, half random. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return cap / 2 + random() * (cap / 2);
}

/** A request that failed for good, with the number of attempts made: handled by the store. */
export class GaveUp {
  constructor(
    readonly error: unknown,
    readonly failure: S3Failure,
    readonly attempts: number,
  ) {}
}

/** Runs `op` until it succeeds, fails in a way not worth retrying, or the attempts run out (then throws `GaveUp`). */
export async function withRetry<T>(
  policy: RetryPolicy,
  op: (attempt: number) => Promise<T>,
  options: { conditional?: boolean; onRetry?: (f: S3Failure) => void } = {},
): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await op(attempt), attempts: attempt };
    } catch (err) {
      const failure = describeFailure(err);
      if (attempt >= policy.maxAttempts || !isRetryable(failure, options.conditional ?? false))
        throw new GaveUp(err, failure, attempt);
      options.onRetry?.(failure);
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(policy, attempt)));
    }
  }
}
