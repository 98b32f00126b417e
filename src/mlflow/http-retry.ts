/** When to retry an HTTP call and how long to wait: shared by the MLflow REST client and the model-server clients. */

/** Whether an HTTP status is worth retrying (rate limited, or the server failed). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * Wait before retry number `attempt` (0 for the first retry): exponential from `baseMs`, capped at
 * `capMs`, with jitter so that many clients do not retry in step. `random` is for tests.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The wait a `Retry-After` header asks for, in ms (seconds or an HTTP date), capped; undefined when absent. */
export function retryAfterMs(header: string | null, capMs: number, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, capMs);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), capMs);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
