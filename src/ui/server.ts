import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import * as nodePath from 'node:path';
import { DuckSession } from '../duck/session.js';
import { TweetlakeError, errorMessage } from '../errors.js';
import { redactSecrets } from '../redact.js';
import { renderPng, renderSvg } from '../analytics/render.js';
import { dashboardState, type DashboardState } from './dashboard-state.js';
import { DashboardAccess, isLoopback, newToken } from './access.js';
import { DASHBOARD_CSS, dashboardHtml } from './page.js';
import { DASHBOARD_JS } from './page-script.js';
import { logFor } from '../log.js';

const log = logFor('dashboard');

export interface DashboardOptions {
  root: string;
  source?: string;
  port?: number;
  host?: string;
  /** How often the state is recomputed and pushed (ms). */
  refreshMs?: number;
  mlflowUrl?: string;
  /**
   * The token every request must carry; generated when bound beyond loopback and none is given.
   * `false` serves a non-loopback interface without one (only for networks you trust).
   */
  token?: string | false;
}

/** The dashboard could not listen on the interface and port it was asked for. */
export class DashboardListenError extends TweetlakeError {
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const what =
      cause.code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use (another dashboard?): stop it, or pick another port with --port`
        : cause.code === 'EACCES'
          ? `no permission to listen on port ${port} of ${host}: pick a port above 1023 with --port`
          : cause.code === 'EADDRNOTAVAIL' || cause.code === 'ENOTFOUND'
            ? `${host} is not an interface of this machine: give --host 127.0.0.1, 0.0.0.0 or one of its addresses`
            : `cannot listen on ${host}:${port}: ${cause.message}`;
    super('DASHBOARD_LISTEN', what, { domain: 'user', cause });
  }
}

const require = createRequire(import.meta.url);

/** Browser bundles served from node_modules, so the page works without a network. */
const STATIC = new Map<string, { module: string; file: string }>([
  ['vega.min.js', { module: 'vega', file: 'build/vega.min.js' }],
  ['vega-lite.min.js', { module: 'vega-lite', file: 'build/vega-lite.min.js' }],
  ['vega-embed.min.js', { module: 'vega-embed', file: 'build/vega-embed.min.js' }],
]);

function moduleFile(module: string, file: string): string {
  // Walk up from the package's entry point to its folder (some packages do not export package.json).
  let dir = nodePath.dirname(require.resolve(module));
  while (!existsSync(nodePath.join(dir, 'package.json')) || nodePath.basename(dir) === 'build') {
    const up = nodePath.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return nodePath.join(dir, file);
}

/** The live dashboard: an HTTP server whose page follows the lakehouse through server-sent events. */
export class DashboardServer {
  private server?: Server;
  private session?: DuckSession;
  private latest?: DashboardState;
  private latestJson = '';
  private readonly clients = new Set<ServerResponse>();
  private timer?: NodeJS.Timeout;
  private computing?: Promise<DashboardState>;
  private readonly access: DashboardAccess;

  constructor(private readonly options: DashboardOptions) {
    const host = options.host ?? '127.0.0.1';
    const token =
      options.token === false ? undefined : (options.token ?? (isLoopback(host) ? undefined : newToken()));
    this.access = new DashboardAccess(host, token);
  }

  /** The token requests must carry, if any. */
  get token(): string | undefined {
    return this.access.token;
  }

  /** Starts listening; resolves with the URL (with `?token=` when one is needed). */
  async start(): Promise<string> {
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port ?? 0;
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new DashboardListenError(host, port, err)));
      try {
        server.listen(port, host, resolve);
      } catch (err) {
        reject(new DashboardListenError(host, port, err as NodeJS.ErrnoException));
      }
    });
    this.server = server;
    this.session = await DuckSession.create({ memoryLimit: '1GB', threads: 1 });
    await this.refresh();
    this.timer = setInterval(
      // The page keeps the last state; the next tick tries again.
      () => void this.refresh().catch((err: unknown) => log.warn({ err }, 'could not refresh the dashboard')),
      this.options.refreshMs ?? 1000,
    );
    if (!this.token) return this.url;
    // Bound to every interface: name the machine, as people on other machines reach it.
    const base =
      host === '0.0.0.0' || host === '::' ? this.url.replace(/\/\/[^/]+:/, `//${hostname()}:`) : this.url;
    return `${base}/?token=${this.token}`;
  }

  /** The address of the server (without the token). */
  get url(): string {
    const a = this.server!.address() as AddressInfo;
    const host = this.options.host ?? '127.0.0.1';
    return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${a.port}`;
  }

  /** Recomputes the state (one computation at a time) and pushes it to clients if it changed. */
  async refresh(): Promise<DashboardState> {
    this.computing ??= dashboardState(this.session!, this.options.root, {
      ...(this.options.source ? { source: this.options.source } : {}),
      ...(this.options.mlflowUrl ? { mlflowUrl: this.options.mlflowUrl } : {}),
    }).finally(() => {
      this.computing = undefined;
    });
    const state = await this.computing;
    const json = JSON.stringify({ ...state, generatedAt: '' });
    this.latest = state;
    if (json !== this.latestJson) {
      this.latestJson = json;
      const message = `data: ${JSON.stringify(state)}\n\n`;
      for (const c of this.clients) c.write(message);
    }
    return state;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const decision = this.access.decide(req, url, (this.server!.address() as AddressInfo).port);
    if (decision.kind === 'deny') return send(res, decision.status, 'text/plain', `${decision.reason}\n`);
    if (decision.kind === 'accept-token') {
      // Remember the token in a cookie, and take it out of the address bar (and of the history).
      url.searchParams.delete('token');
      res.writeHead(303, {
        'set-cookie': this.access.tokenCookie(),
        location: `${url.pathname}${url.search}`,
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain', 'the dashboard only answers GET\n');
    }
    try {
      if (url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', dashboardHtml());
      if (url.pathname === '/static/dashboard.css') return send(res, 200, 'text/css', DASHBOARD_CSS);
      if (url.pathname === '/static/dashboard.js') return send(res, 200, 'text/javascript', DASHBOARD_JS);
      const asset = url.pathname.startsWith('/static/') ? STATIC.get(url.pathname.slice(8)) : undefined;
      if (asset)
        return send(res, 200, 'text/javascript', await readFile(moduleFile(asset.module, asset.file)));
      if (url.pathname === '/api/state')
        return send(res, 200, 'application/json', JSON.stringify(this.latest ?? (await this.refresh())));
      if (url.pathname === '/api/events') {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        res.write(`data: ${JSON.stringify(this.latest)}\n\n`);
        this.clients.add(res);
        req.on('close', () => this.clients.delete(res));
        return;
      }
      const chart = /^\/api\/charts\/([A-Za-z]+)\.(svg|png)$/.exec(url.pathname);
      if (chart) {
        const charts = this.latest?.charts ?? {};
        const spec = Object.hasOwn(charts, chart[1]!) ? charts[chart[1]!] : undefined;
        if (!spec) return send(res, 404, 'text/plain', `no chart '${chart[1]}'`);
        if (chart[2] === 'svg') return send(res, 200, 'image/svg+xml', await renderSvg(spec));
        return send(res, 200, 'image/png', await renderPng(spec));
      }
      send(res, 404, 'text/plain', 'not found');
    } catch (err) {
      // The page gets no internals; the terminal running the dashboard gets the reason.
      process.stderr.write(
        `dashboard: ${req.method} ${url.pathname} failed: ${redactSecrets(errorMessage(err))}\n`,
      );
      send(res, 500, 'text/plain', 'internal error while answering this request\n');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    // Wait for a refresh in flight before closing its session; its failure was logged by its caller.
    await this.computing?.catch(() => undefined);
    this.session?.close();
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  });
  res.end(body);
}
