/**
 * Who may read the dashboard, with raw HTTP requests (any Host header, no browser rules): a page
 * that rebinds its DNS name to 127.0.0.1 must get nothing, a dashboard bound beyond loopback needs
 * its token, and lookups of names like `__proto__` are plain 404s.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardServer } from '../../../src/ui/server.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  address = '127.0.0.1',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const dir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-dash-access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a dashboard on loopback', () => {
  let server: DashboardServer;
  let port: number;
  beforeAll(async () => {
    server = new DashboardServer({ root: nodePath.join(dir, 'lakehouse'), refreshMs: 60_000 });
    port = Number(new URL(await server.start()).port);
  });
  afterAll(() => server.stop());

  it('answers requests to its loopback names and port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const a = await get(port, '/api/state', { host });
      expect(a.status, host).toBe(200);
      expect(JSON.parse(a.body).root).toBe(nodePath.join(dir, 'lakehouse'));
    }
  });

  it('refuses a Host header that is not loopback (DNS rebinding) or another port', async () => {
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1.evil.example:${port}`,
      `localhost:${port + 1}`,
    ]) {
      for (const path of ['/', '/api/state', '/api/events', '/static/dashboard.js']) {
        const a = await get(port, path, { host });
        expect(a.status, `${host} ${path}`).toBe(403);
        expect(a.body).not.toMatch(/"tables"/);
      }
    }
  });

  it('answers 404, not 500, for names that are properties of every object', async () => {
    for (const path of [
      '/static/__proto__',
      '/static/constructor',
      '/static/toString',
      '/api/charts/constructor.svg',
      '/api/charts/__proto__.png',
      '/api/charts/hasOwnProperty.svg',
    ]) {
      expect((await get(port, path, { host: `127.0.0.1:${port}` })).status, path).toBe(404);
    }
    expect((await get(port, '/static/vega.min.js', { host: `127.0.0.1:${port}` })).status).toBe(200);
  });

  it('answers only GET and HEAD', async () => {
    expect((await get(port, '/api/state', { host: `127.0.0.1:${port}` }, 'POST')).status).toBe(405);
  });
});

describe('a dashboard bound beyond loopback', () => {
  let server: DashboardServer;
  let port: number;
  let printed: URL;
  beforeAll(async () => {
    server = new DashboardServer({
      root: nodePath.join(dir, 'lakehouse'),
      host: '0.0.0.0',
      refreshMs: 60_000,
    });
    printed = new URL(await server.start());
    port = Number(printed.port);
  });
  afterAll(() => server.stop());

  it('prints an address with a generated token', () => {
    expect(printed.searchParams.get('token')).toMatch(/^[0-9a-f]{48}$/);
    expect(server.token).toBe(printed.searchParams.get('token'));
  });

  it('answers 401 without the token, whatever the Host', async () => {
    for (const path of ['/', '/api/state', '/api/events', '/api/charts/topTweeters.svg']) {
      const a = await get(port, path, { host: `myhost.lan:${port}` });
      expect(a.status, path).toBe(401);
      expect(a.body).not.toMatch(/"tables"/);
    }
    expect((await get(port, '/?token=wrong', { host: `myhost.lan:${port}` })).status).toBe(401);
    const wrong = { host: `myhost.lan:${port}`, authorization: 'Bearer wrong' };
    expect((await get(port, '/api/state', wrong)).status).toBe(401);
  });

  it('takes ?token= once and then a cookie, or an Authorization header', async () => {
    const token = server.token!;
    const first = await get(port, `/?token=${token}`, { host: `myhost.lan:${port}` });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(String(first.headers['set-cookie'])).toMatch(/HttpOnly/);
    expect((await get(port, '/api/state', { host: `myhost.lan:${port}`, cookie })).status).toBe(200);
    const bearer = { host: `myhost.lan:${port}`, authorization: `Bearer ${token}` };
    expect((await get(port, '/api/state', bearer)).status).toBe(200);
  });
});

describe('starting a dashboard', () => {
  it('on a port in use fails with a message, not a raw EADDRINUSE', async () => {
    const a = new DashboardServer({ root: nodePath.join(dir, 'lakehouse'), refreshMs: 60_000 });
    const port = Number(new URL(await a.start()).port);
    try {
      const b = new DashboardServer({ root: nodePath.join(dir, 'lakehouse'), port, refreshMs: 60_000 });
      const err = await b.start().then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string; domain?: string },
      );
      await b.stop();
      expect(err?.code).toBe('DASHBOARD_LISTEN');
      expect(err?.domain).toBe('user');
      expect(err?.message).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use.*--port`));
    } finally {
      await a.stop();
    }
  });
});
