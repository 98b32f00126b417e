import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as nodePath from 'node:path';
import { DuckSession } from '../duck/session.js';
import { renderPng, renderSvg } from '../analytics/render.js';
import { dashboardState, type DashboardState } from './dashboard-state.js';
import { DASHBOARD_CSS, dashboardHtml } from './page.js';
import { DASHBOARD_JS } from './page-script.js';

export interface DashboardOptions {
  root: string;
  source?: string;
  port?: number;
  host?: string;
  /** How often the state is recomputed and pushed (ms). */
  refreshMs?: number;
  mlflowUrl?: string;
}

const require = createRequire(import.meta.url);

/** Browser bundles served from node_modules, so the page works without a network. */
const STATIC: Record<string, { module: string; file: string }> = {
  'vega.min.js': { module: 'vega', file: 'build/vega.min.js' },
  'vega-lite.min.js': { module: 'vega-lite', file: 'build/vega-lite.min.js' },
  'vega-embed.min.js': { module: 'vega-embed', file: 'build/vega-embed.min.js' },
};

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

  constructor(private readonly options: DashboardOptions) {}

  /** Starts listening; resolves with the URL. */
  async start(): Promise<string> {
    this.session = await DuckSession.create({ memoryLimit: '1GB', threads: 1 });
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) =>
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve),
    );
    await this.refresh();
    this.timer = setInterval(
      () => void this.refresh().catch(() => undefined),
      this.options.refreshMs ?? 1000,
    );
    return this.url;
  }

  get url(): string {
    const a = this.server!.address() as AddressInfo;
    return `http://${this.options.host ?? '127.0.0.1'}:${a.port}`;
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
    try {
      if (url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', dashboardHtml());
      if (url.pathname === '/static/dashboard.css') return send(res, 200, 'text/css', DASHBOARD_CSS);
      if (url.pathname === '/static/dashboard.js') return send(res, 200, 'text/javascript', DASHBOARD_JS);
      const asset = STATIC[url.pathname.replace('/static/', '')];
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
        const spec = this.latest?.charts[chart[1]!];
        if (!spec) return send(res, 404, 'text/plain', `no chart '${chart[1]}'`);
        if (chart[2] === 'svg') return send(res, 200, 'image/svg+xml', await renderSvg(spec));
        return send(res, 200, 'image/png', await renderPng(spec));
      }
      send(res, 404, 'text/plain', 'not found');
    } catch (err) {
      send(res, 500, 'text/plain', (err as Error).message);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.computing?.catch(() => undefined);
    this.session?.close();
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
