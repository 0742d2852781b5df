// The frontend of docs/frontend.md in a real Chromium: a page served by its own backend on a second
// origin gets a viewer token from that backend (which alone holds the API key), pages through the
// history with Apollo Client cross-origin, then follows the live tail and shows events recorded
// after it opened. The page is docs/examples/frontend/app.ts, bundled here with esbuild, so the
// documented code is the tested code. No request interception: Chromium does CORS for real.
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { build } from 'esbuild';
import { pino } from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintAuditToken, type SignedInUser } from '../docs/examples/frontend/backend.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { listen, type RunningServer } from '../src/http/server.ts';
import { dbKind, startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { freePort } from './support/ports.ts';

const CHROMIUM = '/usr/bin/chromium';
const ENTRY = path.join(import.meta.dirname, '../docs/examples/frontend/app.ts');
const PAGE_SIZE = 5; // app.ts's

/** The backend's sessions: the cookie value names the signed-in user (and, for one, very short tokens). */
const SESSIONS: Record<string, { user: SignedInUser; ttlSeconds?: number }> = {
  auditor: { user: { id: 'u-auditor', orgId: 'org_42', isAuditor: true } },
  alice: { user: { id: 'u-alice', orgId: 'org_42', isAuditor: false } },
  hurried: { user: { id: 'u-hurried', orgId: 'org_42', isAuditor: true }, ttlSeconds: 2 },
};
/** How many tokens the backend minted for each session. */
const minted: Record<string, number> = {};

type Seeded = { id: string; groupId: string; occurredAt: string };

let g: TestGateway;
let gateway: RunningServer;
let tenant: TestTenant;
let seeded: Seeded[];
let app: Server;
let foreign: Server;
let appOrigin: string;
let foreignOrigin: string;
let browser: Browser;

/** Origin and port of a server listening on the loopback interface. */
const originOf = (server: Server) => {
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
};

/** The test backend: the page, its bundle, and the route that mints a viewer token for the session's user. */
function backend(bundle: string) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, type: string, body: string) =>
      res.writeHead(status, { 'content-type': type }).end(body);
    try {
      if (req.method === 'GET' && req.url === '/')
        return send(
          200,
          'text/html; charset=utf-8',
          '<!doctype html><meta charset="utf-8"><title>Audit log</title><div id="audit-log"></div><script type="module" src="/app.js"></script>',
        );
      if (req.method === 'GET' && req.url === '/app.js') return send(200, 'text/javascript', bundle);
      if (req.method === 'POST' && req.url === '/api/audit-token') {
        const session = /(?:^|;\s*)session=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
        const signedIn = session ? SESSIONS[session] : undefined;
        if (!session || !signedIn) return send(401, 'application/json', '{"error":"not signed in"}');
        const token = await mintAuditToken(gateway.url, tenant.readKey, signedIn.user, signedIn.ttlSeconds);
        minted[session] = (minted[session] ?? 0) + 1;
        return send(200, 'application/json', JSON.stringify(token));
      }
      send(404, 'text/plain', 'not found');
    } catch (error) {
      send(500, 'text/plain', String(error));
    }
  };
}

async function recordEvent(input: Record<string, unknown>): Promise<{ id: string; sequence: number }> {
  const res = await g.gqlRaw(
    {
      query: 'mutation ($input: RecordEventInput!) { recordEvent(input: $input) { id sequence } }',
      variables: { input },
    },
    tenant.key,
  );
  expect(res.errors).toBeUndefined();
  return res.data?.recordEvent as { id: string; sequence: number };
}

/** Twelve events of the last hour, a minute apart, two thirds of them in org_42. */
async function seedHistory(): Promise<Seeded[]> {
  const base = Date.now() - 60 * 60 * 1000;
  const inputs = Array.from({ length: 12 }, (_, i) => ({
    action: ['user.login', 'document.export', 'user.logout'][i % 3] as string,
    occurredAt: new Date(base + i * 60_000).toISOString(),
    actor: { id: `actor-${i % 4}`, email: `user${i % 4}@example.com` },
    groupId: i % 3 === 0 ? 'org_7' : 'org_42',
  }));
  const results = await g.gateway.audit.recordEvents(operatorViewer(tenant), inputs);
  return results.map((r, i) => {
    if (!r.ok) throw r.error;
    return { id: r.event.id, groupId: inputs[i]?.groupId ?? '', occurredAt: inputs[i]?.occurredAt ?? '' };
  });
}

type Opened = {
  context: BrowserContext;
  page: Page;
  /** Every URL the page asked for, and the Authorization header of each request to the gateway. */
  requests: { url: string; authorization: string | undefined }[];
  /** X-Request-Id of each history answer the gateway sent, in order. */
  historyRequestIds: string[];
};

async function openAs(user: string, origin = appOrigin): Promise<Opened> {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'session', value: user, url: origin }]);
  const page = await context.newPage();
  const requests: Opened['requests'] = [];
  const historyRequestIds: string[] = [];
  page.on('request', (request) =>
    requests.push({ url: request.url(), authorization: request.headers().authorization }),
  );
  page.on('response', async (response) => {
    if (
      response.url() === `${gateway.url}/graphql` &&
      (response.request().postData() ?? '').includes('AuditHistory')
    )
      historyRequestIds.push((await response.allHeaders())['x-request-id'] ?? '');
  });
  await page.goto(`${origin}/`);
  return { context, page, requests, historyRequestIds };
}

const ids = (page: Page, list: 'history' | 'live') =>
  page.$$eval(`#${list} li`, (items) => items.map((li) => (li as HTMLElement).dataset.id ?? ''));
const state = (page: Page) => page.locator('#status').getAttribute('data-state');
/** How many events the stream delivered to the page (the page shows each id once whatever it is sent). */
const delivered = async (page: Page) =>
  Number((await page.locator('#live').getAttribute('data-delivered')) ?? 0);

/** Presses "Older events" until the history has no more pages; returns how many pages it showed. */
async function pageThroughHistory(page: Page): Promise<number> {
  await expect.poll(() => page.locator('#history li').count(), { timeout: 20_000 }).toBeGreaterThan(0);
  let pages = 1;
  const older = page.locator('#older');
  while (await older.isVisible()) {
    await older.click(); // disabled until the page is merged in
    await expect.poll(() => older.isDisabled(), { timeout: 20_000 }).toBe(false);
    pages++;
  }
  return pages;
}

/** Newest first, as the history lists them. */
const newestFirst = (events: Seeded[]) =>
  [...events].sort((a, b) => b.occurredAt.localeCompare(a.occurredAt)).map((e) => e.id);

// The page, the browser and CORS do not depend on the store; the live tail on Postgres (NOTIFY
// across instances) is test/live-tail*.test.ts. Once, like the GraphiQL browser test.
describe.skipIf(dbKind !== 'pglite')('a frontend on another origin, in Chromium', () => {
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    const appPort = await freePort();
    appOrigin = `http://127.0.0.1:${appPort}`;
    // The slow parts at once: the gateway and its events, the page's bundle, the browser.
    const [, bundle, launched] = await Promise.all([
      (async () => {
        g = await startTestGateway({ CORS_ORIGINS: appOrigin });
        gateway = await listen(
          g.gateway,
          { ...g.config, host: '127.0.0.1', port: 0 },
          pino({ level: 'silent' }),
        );
        tenant = await g.newTenant('frontend');
        seeded = await seedHistory();
      })(),
      build({
        entryPoints: [ENTRY],
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        target: 'chrome120',
        logLevel: 'silent',
      }).then((built) => built.outputFiles[0]?.text ?? ''),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] }),
    ]);
    browser = launched;
    app = createServer(backend(bundle));
    app.listen(appPort, '127.0.0.1');
    // The same page and backend on an origin CORS_ORIGINS does not list.
    foreign = createServer(backend(bundle));
    foreign.listen(0, '127.0.0.1');
    await Promise.all([once(app, 'listening'), once(foreign, 'listening')]);
    foreignOrigin = originOf(foreign);
  });

  afterAll(async () => {
    await browser?.close();
    app?.closeAllConnections();
    foreign?.closeAllConnections();
    await Promise.all([
      app && new Promise((r) => app.close(r)),
      foreign && new Promise((r) => foreign.close(r)),
    ]);
    // Stopping the server closes the gateway; g.close() would close it again, so drop the database alone.
    gateway?.server.closeAllConnections();
    await new Promise((r) => gateway?.server.close(r));
    await g?.close();
  });

  it('pages through the whole history with a viewer token, and reads X-Request-Id cross-origin', async () => {
    const { context, page, requests, historyRequestIds } = await openAs('auditor');
    try {
      const pages = await pageThroughHistory(page);
      expect(pages).toBe(Math.ceil(seeded.length / PAGE_SIZE));
      expect(await ids(page, 'history')).toEqual(newestFirst(seeded));

      // The id the page read from the last answer's header is the one the gateway sent.
      expect(historyRequestIds).toHaveLength(pages);
      expect(historyRequestIds.at(-1)).toMatch(/\S/);
      await expect.poll(() => page.locator('#request-id').textContent()).toBe(historyRequestIds.at(-1));

      // The page talked to its backend and the gateway only, and the gateway saw tokens, never the key.
      const origins = new Set(requests.map((r) => new URL(r.url).origin));
      expect([...origins].sort()).toEqual([appOrigin, gateway.url].sort());
      const toGateway = requests.filter((r) => r.url.startsWith(gateway.url));
      expect(toGateway.length).toBeGreaterThanOrEqual(pages);
      for (const r of toGateway) expect(r.authorization).toMatch(/^Bearer agwv_/);
      expect(await page.content()).not.toContain(tenant.readKey);
    } finally {
      await context.close();
    }
  });

  it('a restricted token sees only its slice of the history', async () => {
    const { context, page } = await openAs('alice');
    try {
      await pageThroughHistory(page);
      expect(await ids(page, 'history')).toEqual(newestFirst(seeded.filter((e) => e.groupId === 'org_42')));
    } finally {
      await context.close();
    }
  });

  it('a page on an origin CORS_ORIGINS does not list cannot read the gateway', async () => {
    const { context, page, requests } = await openAs('auditor', foreignOrigin);
    try {
      await expect.poll(() => state(page), { timeout: 20_000 }).toBe('failed');
      expect(await page.locator('#history li').count()).toBe(0);
      // The browser did send it (and the backend minted a token): CORS is what stopped the page.
      expect(requests.some((r) => r.url === `${gateway.url}/graphql`)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('the live tail continues the first page: events recorded after it show once, only those of the slice', async () => {
    const { context, page } = await openAs('alice');
    try {
      await expect.poll(() => state(page), { timeout: 20_000 }).toBe('live');
      expect(await ids(page, 'live')).toEqual([]);
      // In commit order: the org_7 event comes first, so once the org_42 one is shown the other was passed over.
      const elsewhere = await recordEvent({
        action: 'user.login',
        groupId: 'org_7',
        actor: { id: 'actor-9' },
      });
      const mine = await recordEvent({ action: 'user.login', groupId: 'org_42', actor: { id: 'actor-9' } });
      // Committed now but occurred a day ago: it belongs to the oldest history page too.
      const late = await recordEvent({
        action: 'document.export',
        groupId: 'org_42',
        occurredAt: new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString(),
      });
      await expect.poll(() => ids(page, 'live'), { timeout: 20_000 }).toEqual([late.id, mine.id]);
      expect(await ids(page, 'live')).not.toContain(elsewhere.id);
      expect(await delivered(page)).toBe(2);

      // Paging to the end finds the late event in the oldest page, and the page shows it once.
      await pageThroughHistory(page);
      const onScreen = [...(await ids(page, 'live')), ...(await ids(page, 'history'))];
      expect(new Set(onScreen).size).toBe(onScreen.length);
      expect(onScreen.sort()).toEqual(
        [...seeded.filter((e) => e.groupId === 'org_42').map((e) => e.id), mine.id, late.id].sort(),
      );
      expect(await state(page)).toBe('live');
    } finally {
      await context.close();
    }
  });

  it('the tail resumes from its last cursor when its token expires and when the connection drops', async () => {
    const { context, page } = await openAs('hurried'); // 2-second tokens: each ends its stream
    try {
      await expect.poll(() => state(page), { timeout: 20_000 }).toBe('live');
      const shown: string[] = [];
      const record = async () => {
        shown.unshift((await recordEvent({ action: 'user.login', groupId: 'org_42' })).id);
        await expect.poll(() => ids(page, 'live'), { timeout: 20_000 }).toEqual(shown);
      };
      await record();
      // The stream ended with UNAUTHENTICATED when the token expired; the page got a new one and resumed.
      const before = minted.hurried ?? 0;
      await expect.poll(() => minted.hurried, { timeout: 20_000 }).toBeGreaterThan(before);
      await record();
      gateway.server.closeAllConnections(); // the network drops
      await record();
      await expect.poll(() => state(page), { timeout: 20_000 }).toBe('live');
      expect(await delivered(page)).toBe(shown.length); // resumed after the last cursor, not before it
    } finally {
      await context.close();
    }
  });
});

/** Whether `block` is a run of consecutive lines of `source`, all indented alike (an excerpt may be dedented). */
function quotes(source: string, block: string): boolean {
  const lines = source.split('\n');
  const wanted = block.split('\n');
  return lines.some((line, start) => {
    const first = wanted[0] ?? '';
    if (!line.endsWith(first) || line.slice(0, line.length - first.length).trim() !== '') return false;
    const indent = line.slice(0, line.length - first.length);
    return wanted.every((w, i) =>
      w === '' ? lines[start + i]?.trim() === '' : lines[start + i] === indent + w,
    );
  });
}

describe.skipIf(dbKind !== 'pglite')('docs/frontend.md', () => {
  it('quotes the example files as they are, and holds no other TypeScript', () => {
    const doc = readFileSync(path.join(import.meta.dirname, '../docs/frontend.md'), 'utf8');
    const excerpts = [...doc.matchAll(/<!-- excerpt: (\S+) -->\n\n```ts\n([\s\S]*?)\n```/g)];
    expect(excerpts.length).toBeGreaterThanOrEqual(8);
    expect(doc.match(/```ts\n/g)).toHaveLength(excerpts.length);
    for (const [, file = '', block = ''] of excerpts) {
      const source = readFileSync(path.join(import.meta.dirname, '../docs', file), 'utf8');
      expect(
        quotes(source, block),
        `${file} no longer holds the excerpt starting "${block.split('\n')[0]}"`,
      ).toBe(true);
    }
  });
});
