import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Names a browser on this machine uses for a server bound to the loopback interface. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether `host` (an interface to listen on) is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The cookie that carries the dashboard token after the first `?token=` visit. */
export const TOKEN_COOKIE = 'tweetlake_dashboard_token';

/** A new random token for a dashboard bound beyond loopback (as Jupyter prints one). */
export function newToken(): string {
  return randomBytes(24).toString('hex');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** What a request may do: answer it, refuse it (status and reason), or accept a token and set the cookie. */
export type AccessDecision =
  { kind: 'allow' } | { kind: 'deny'; status: 401 | 403; reason: string } | { kind: 'accept-token' };

/**
 * Who may read the dashboard. Bound to loopback, only requests whose Host header names the loopback
 * interface are answered, so a page on another site that rebinds its DNS name to 127.0.0.1 gets
 * 403. With a token (always, when bound beyond loopback), every request must carry it: as
 * `?token=` (then remembered in an HttpOnly cookie), the cookie, or an `Authorization: Bearer`
 * (or `token`) header.
 */
export class DashboardAccess {
  constructor(
    private readonly bindHost: string,
    readonly token: string | undefined,
  ) {}

  /** The decision for a request to the server listening on `port`. */
  decide(req: IncomingMessage, url: URL, port: number): AccessDecision {
    if (isLoopback(this.bindHost) && !this.hostIsLoopback(req.headers.host, port)) {
      return {
        kind: 'deny',
        status: 403,
        reason: `this dashboard answers requests to localhost only, not to '${req.headers.host ?? ''}'`,
      };
    }
    if (this.token === undefined) return { kind: 'allow' };
    const query = url.searchParams.get('token');
    if (query !== null && sameSecret(query, this.token)) return { kind: 'accept-token' };
    const auth = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = auth ?? cookie(req, TOKEN_COOKIE);
    if (given !== undefined && sameSecret(given, this.token)) return { kind: 'allow' };
    return {
      kind: 'deny',
      status: 401,
      reason: 'this dashboard needs its token: open the URL `tweetlake dashboard` printed (…/?token=…)',
    };
  }

  /** The Set-Cookie header value that remembers the token in this browser. */
  tokenCookie(): string {
    return `${TOKEN_COOKIE}=${encodeURIComponent(this.token ?? '')}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /** A Host header naming the loopback interface and this port (browsers omit port 80). */
  private hostIsLoopback(header: string | undefined, port: number): boolean {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec((header ?? '').trim());
    if (!m || !isLoopback(m[1]!)) return false;
    return Number(m[2] ?? 80) === port;
  }
}
