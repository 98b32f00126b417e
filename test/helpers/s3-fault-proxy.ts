/**
 * A fault injector in front of a real S3 server: a loopback HTTP proxy that forwards every request
 * unchanged (the Host header too, so signatures stay valid) except the next N that match, which it
 * answers with an S3 error (500 InternalError, 503 SlowDown, …), cuts (connection reset) or holds back.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Fault =
  | { kind: 'status'; status: number; code: string }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop-answer' };

export interface FaultProxy {
  endpoint: string;
  /** Every request seen (method and path), faults included. */
  seen: { method: string; url: string; fault: boolean }[];
  /** Answers the next `n` matching requests with `status` and S3 error `code`. */
  failNext(n: number, status: number, code: string, match?: (req: IncomingMessage) => boolean): void;
  /** Resets the connection of the next `n` matching requests before any answer. */
  resetNext(n: number, match?: (req: IncomingMessage) => boolean): void;
  /** Forwards the next `n` matching requests but cuts the connection instead of relaying the answer. */
  dropAnswerNext(n: number, match?: (req: IncomingMessage) => boolean): void;
  /** Holds the next `n` matching requests for `ms` before forwarding them. */
  delayNext(n: number, ms: number, match?: (req: IncomingMessage) => boolean): void;
  close(): Promise<void>;
}

/** Starts the proxy on a free loopback port, forwarding to `target` (http://host:port). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: { fault: Fault; left: number; match: (req: IncomingMessage) => boolean }[] = [];
  const seen: FaultProxy['seen'] = [];
  const take = (req: IncomingMessage): Fault | undefined => {
    const entry = faults.find((f) => f.left > 0 && f.match(req));
    if (!entry) return undefined;
    entry.left--;
    return entry.fault;
  };
  const server: Server = createServer((req, res) => {
    const fault = take(req);
    seen.push({ method: req.method ?? '', url: req.url ?? '', fault: fault !== undefined });
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'delay') {
      setTimeout(() => forward(req, res), fault.ms);
      return;
    }
    if (fault?.kind === 'drop-answer') {
      forward(req, res, true);
      return;
    }
    if (fault) {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected fault</Message></Error>`,
        );
      });
      return;
    }
    forward(req, res);
  });
  const forward = (req: IncomingMessage, res: ServerResponse, drop = false) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        if (drop) {
          up.resume();
          up.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => req.socket.destroy());
    req.pipe(out);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const all = () => true;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    failNext(n, status, code, match = all) {
      faults.push({ fault: { kind: 'status', status, code }, left: n, match });
    },
    resetNext(n, match = all) {
      faults.push({ fault: { kind: 'reset' }, left: n, match });
    },
    dropAnswerNext(n, match = all) {
      faults.push({ fault: { kind: 'drop-answer' }, left: n, match });
    },
    delayNext(n, ms, match = all) {
      faults.push({ fault: { kind: 'delay', ms }, left: n, match });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
