// Browsers: only the origins in CORS_ORIGINS may read answers cross-origin (none by default, never
// with credentials), and no request a foreign page can send without a preflight runs a mutation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { dbKind, startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { recordBatch } from './support/rest.ts';

const APP = 'https://app.example.com';
const FOREIGN = 'https://evil.example';

let closed: TestGateway;
let open: TestGateway;
let tenant: TestTenant;
beforeAll(async () => {
  [closed, open] = await Promise.all([
    startTestGateway(),
    startTestGateway({ CORS_ORIGINS: `${APP}, http://localhost:5173` }),
  ]);
  tenant = await closed.newTenant('cors');
});
afterAll(() => Promise.all([closed?.close(), open?.close()]));

const query = JSON.stringify({ query: '{ viewer { keyId } }' });
/** What lets a page read an answer: without Allow-Origin the browser hides it (the rest is moot). */
const corsHeaders = (res: Response) =>
  Object.fromEntries(
    [...res.headers.entries()].filter(([k]) =>
      ['access-control-allow-origin', 'access-control-allow-credentials'].includes(k),
    ),
  );

describe('CORS', () => {
  it('by default no origin may read any answer: GraphQL, the GraphiQL page, REST, preflights', async () => {
    const answers = [
      await closed.fetch('/graphql', {
        key: tenant.readKey,
        method: 'POST',
        headers: { origin: FOREIGN, 'content-type': 'application/json' },
        body: query,
      }),
      await closed.fetch('/graphql', { headers: { origin: FOREIGN, accept: 'text/html' } }),
      await closed.fetch('/v1/audit', { key: tenant.readKey, headers: { origin: FOREIGN } }),
      await closed.fetch('/graphql', {
        method: 'OPTIONS',
        headers: {
          origin: FOREIGN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      }),
      await closed.fetch('/audit/v1/event', {
        method: 'OPTIONS',
        headers: { origin: APP, 'access-control-request-method': 'POST' },
      }),
    ];
    for (const res of answers) {
      expect(res.status).toBeLessThan(300);
      expect(corsHeaders(res)).toEqual({});
    }
  });

  it('the demo GraphiQL page, which holds the demo key, is not readable from a foreign origin', async () => {
    if (dbKind !== 'pglite') return; // the demo tenant exists only on the embedded database
    const dir = mkdtempSync(path.join(tmpdir(), 'agw-cors-demo-'));
    const demo = await startTestGateway({ DATA_DIR: dir, DEMO_SEED: 'true', DEMO_EVENTS: '0' });
    try {
      const key = demo.gateway.demoApiKey;
      expect(key).toBeDefined();
      const page = await demo.fetch('/graphql', { headers: { origin: FOREIGN, accept: 'text/html' } });
      expect(await page.text()).toContain(key);
      expect(page.headers.get('access-control-allow-origin')).toBeNull();
      expect(page.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      await demo.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a configured origin may call GraphQL and REST, without credentials, and reads X-Request-Id', async () => {
    const who = await open.newTenant('cors-open');
    for (const res of [
      await open.fetch('/graphql', {
        key: who.readKey,
        method: 'POST',
        headers: { origin: APP, 'content-type': 'application/json' },
        body: query,
      }),
      await open.fetch('/v1/audit', { key: who.readKey, headers: { origin: APP } }),
      await open.fetch('/graphql', {
        method: 'POST',
        headers: { origin: APP, 'content-type': 'application/json' },
        body: query,
      }),
    ]) {
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('access-control-expose-headers')?.split(',')).toContain('X-Request-Id');
      expect(res.headers.get('vary')).toMatch(/origin/i);
    }
    const other = await open.fetch('/graphql', {
      key: who.readKey,
      method: 'POST',
      headers: { origin: FOREIGN, 'content-type': 'application/json' },
      body: query,
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("a configured origin reads an export's chain position and file name", async () => {
    const who = await open.newTenant('cors-export');
    await recordBatch(open, who.key, [{ action: 'cors.export' }]);
    for (const format of ['csv', 'ndjson']) {
      const res = await open.fetch(`/v1/exports/events.${format}`, {
        key: who.readKey,
        headers: { origin: APP },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      const exposed = res.headers.get('access-control-expose-headers')?.toLowerCase().split(',') ?? [];
      expect(exposed).toEqual(expect.arrayContaining(['export-through-sequence', 'content-disposition']));
      expect(Number(res.headers.get('export-through-sequence'))).toBeGreaterThan(0);
      await res.text();
    }
  });

  it('answers a preflight from a configured origin with the methods and headers the API uses', async () => {
    for (const route of ['/graphql', '/audit/v1/event']) {
      const res = await open.fetch(route, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:5173',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain('POST');
      const allowed = res.headers.get('access-control-allow-headers')?.toLowerCase().split(',');
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-api-key']));
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('CORS_ORIGINS takes exact origins only: no wildcard, path, trailing slash or other scheme', () => {
    const env = (CORS_ORIGINS: string) => ({ NODE_ENV: 'test', DATA_DIR: 'memory://', CORS_ORIGINS });
    expect(loadConfig(env(`${APP},http://localhost:5173`)).corsOrigins).toEqual([
      APP,
      'http://localhost:5173',
    ]);
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://' }).corsOrigins).toEqual([]);
    const problems = (value: string) => {
      try {
        loadConfig(env(value));
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    expect(problems('*')).toEqual([expect.stringMatching(/^CORS_ORIGINS\.0: "\*" is a wildcard/)]);
    expect(problems('https://*.example.com')).toEqual([expect.stringMatching(/wildcard/)]);
    expect(problems(`${APP}/`)).toEqual([expect.stringContaining(`write ${APP}`)]);
    expect(problems(`${APP}/app`)).toEqual([expect.stringContaining('no path')]);
    expect(problems('https://App.Example.com')).toEqual([expect.stringContaining(`write ${APP}`)]);
    expect(problems('ftp://files.example.com')).toEqual([expect.stringContaining('https://')]);
    expect(problems(`null,${APP},app.example.com`)).toEqual([
      expect.stringMatching(/^CORS_ORIGINS\.0: "null" is not an origin/),
      expect.stringMatching(/^CORS_ORIGINS\.2: "app\.example\.com" is not an origin/),
    ]);
  });
});

describe('no mutation without a preflight (CSRF)', () => {
  const mutation = 'mutation { recordEvent(input: { action: "csrf.attempt" }) { id } }';
  const simpleBodies: [string, () => RequestInit][] = [
    [
      'application/x-www-form-urlencoded',
      () => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: mutation }).toString(),
      }),
    ],
    [
      'multipart/form-data',
      () => {
        const form = new FormData();
        form.set('operations', JSON.stringify({ query: mutation }));
        form.set('map', '{}');
        return { body: form };
      },
    ],
    [
      'text/plain',
      () => ({ headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: mutation }) }),
    ],
    ['no content type', () => ({ body: new Blob([JSON.stringify({ query: mutation })]) })],
  ];

  it.each(simpleBodies)(
    'POST /graphql with %s is refused with 415 naming the accepted types, and runs nothing',
    async (_type, init) => {
      const writer = await closed.newTenant('csrf');
      const res = await closed.fetch('/graphql', { key: writer.key, method: 'POST', ...init() });
      expect(res.status).toBe(415);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as {
        errors: { message: string; extensions: Record<string, unknown> }[];
      };
      expect(body.errors[0]?.extensions).toEqual({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        accepted: ['application/json', 'application/graphql+json', 'application/graphql'],
      });
      expect(body.errors[0]?.message).toMatch(/^POST \/graphql accepts application\/json, /);
      expect(await closed.gateway.audit.countEvents(operatorViewer(writer), {})).toBe(0);
    },
  );

  it('GET /graphql does not run a mutation', async () => {
    const writer = await closed.newTenant('csrf-get');
    const res = await closed.fetch(`/graphql?query=${encodeURIComponent(mutation)}`, {
      key: writer.key,
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await closed.gateway.audit.countEvents(operatorViewer(writer), {})).toBe(0);
  });

  it('JSON and GraphQL bodies still work', async () => {
    const writer = await closed.newTenant('csrf-ok');
    for (const [type, body] of [
      ['application/json', JSON.stringify({ query: mutation })],
      ['application/json; charset=utf-8', JSON.stringify({ query: mutation })],
      ['application/graphql+json', JSON.stringify({ query: mutation })],
      ['application/graphql', mutation],
    ] as const) {
      const res = await closed.fetch('/graphql', {
        key: writer.key,
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect(res.status, type).toBe(200);
    }
    expect(await closed.gateway.audit.countEvents(operatorViewer(writer), {})).toBe(4);
  });

  it('the Replicated ingest route keeps reading form-encoded JSON from server-side clients, not from web pages', async () => {
    const writer = await closed.newTenant('csrf-legacy');
    const legacy: Record<string, string>[] = [
      { 'content-type': 'application/x-www-form-urlencoded' }, // curl -d
      { 'content-type': 'text/plain;charset=UTF-8', 'sec-fetch-mode': 'cors' }, // Node's fetch with a string body
    ];
    for (const headers of legacy) {
      const res = await closed.fetch('/audit/v1/event', {
        key: writer.key,
        method: 'POST',
        headers,
        body: JSON.stringify({ action: 'legacy.client' }),
      });
      expect(res.status, JSON.stringify(headers)).toBeLessThan(300);
    }
    // The same request from a web page (a browser names its Origin) is a cross-site form post.
    const fromPages: Record<string, string>[] = [
      { origin: FOREIGN, 'content-type': 'application/x-www-form-urlencoded' },
      { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
    ];
    for (const headers of fromPages) {
      const res = await closed.fetch('/audit/v1/event', {
        key: writer.key,
        method: 'POST',
        headers,
        body: JSON.stringify({ action: 'csrf.attempt' }),
      });
      expect(res.status, JSON.stringify(headers)).toBe(415);
    }
    expect(await closed.gateway.audit.countEvents(operatorViewer(writer), {})).toBe(legacy.length);
  });
});
