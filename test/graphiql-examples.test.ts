// GraphiQL without a CDN, short of a browser: the page references only this origin, carries a
// Content-Security-Policy, its assets are served with the right types, and every example tab is a
// valid operation that answers with data (on both stores).
import { parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/admin.ts';
import { demoEvents } from '../src/demo/events.ts';
import { EXAMPLE_TABS, graphiqlOptions } from '../src/graphql/graphiql.ts';
import { schema } from '../src/graphql/schema.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

describe('GraphiQL page', () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ GRAPHIQL: 'true' });
  });
  afterAll(() => g.close());

  const openPage = () => g.fetch('/graphql', { headers: { accept: 'text/html' } });

  it('loads nothing from another host and forbids it by Content-Security-Policy', async () => {
    const page = await openPage();
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'/);
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    // No inline script: each <script> either has a src or is JSON data.
    for (const tag of html.match(/<script[^>]*>/g) ?? [])
      expect(tag).toMatch(/ src=|type="application\/json"/);
  });

  it('serves every asset the page references, with its content type and long caching', async () => {
    const html = await (await openPage()).text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(urls.length).toBeGreaterThanOrEqual(4);
    const types: Record<string, RegExp> = {
      js: /^text\/javascript/,
      css: /^text\/css/,
      ico: /^image\/x-icon/,
    };
    for (const url of urls) {
      const res = await g.fetch(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toMatch(types[url.split('.').pop() as string] as RegExp);
      expect(res.headers.get('cache-control'), url).toContain('immutable');
      expect((await res.arrayBuffer()).byteLength, url).toBeGreaterThan(0);
    }
    // The workers Monaco starts are served beside the bundle.
    const base = urls[0]?.replace(/[^/]*$/, '');
    for (const worker of ['editor.worker.js', 'json.worker.js', 'graphql.worker.js'])
      expect((await g.fetch(`${base}${worker}`)).status).toBe(200);
    expect((await g.fetch(`${base}nothing.js`)).status).toBe(404);
    expect((await g.fetch('/graphiql/assets/0000000000000000/graphiql.js')).status).toBe(404);
  });

  it('is not served, nor its assets, when GraphiQL is off', async () => {
    const html = await (await openPage()).text();
    const asset = /src="([^"]+graphiql\.js)"/.exec(html)?.[1] as string;
    const off = await startTestGateway({ GRAPHIQL: 'false' });
    try {
      expect((await off.fetch(asset)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('GraphiQL example tabs', () => {
  let g: TestGateway;
  let tenant: TestTenant;
  let analystKey: string;
  const now = new Date();

  beforeAll(async () => {
    g = await startTestGateway();
    tenant = await g.newTenant('examples');
    analystKey = (await createApiKey(g.gateway.database, tenant.slug, ['read', 'read_log'])).key;
    const inputs = [...demoEvents({ count: 300, seed: 11, now, spanDays: 20 })];
    const seeded = await g.gqlRaw(
      {
        query: 'mutation ($inputs: [RecordEventInput!]!) { recordEvents(inputs: $inputs) { __typename } }',
        variables: { inputs },
      },
      tenant.key,
    );
    expect(seeded.errors).toBeUndefined();
  });
  afterAll(() => g.close());

  it('are valid operations against the schema', () => {
    for (const tab of EXAMPLE_TABS) {
      const errors = validate(schema, parse(tab.query));
      expect(
        errors.map((e) => e.message),
        tab.name,
      ).toEqual([]);
      expect(tab.query, tab.name).toContain(`query ${tab.name}`);
    }
  });

  it('each answer with data, using the variables GraphiQL opens them with', async () => {
    const tabs = graphiqlOptions(tenant.key, now).defaultTabs ?? [];
    expect(tabs).toHaveLength(EXAMPLE_TABS.length);
    for (const [i, tab] of tabs.entries()) {
      const name = EXAMPLE_TABS[i]?.name;
      const variables = tab.variables ? JSON.parse(tab.variables) : {};
      expect(JSON.parse(tab.headers ?? '{}')).toEqual({ Authorization: `Bearer ${tenant.key}` });
      await g.gateway.readLog.flush(); // WhoRead lists the reads of the tabs before it
      const res = await g.gqlRaw(
        { query: tab.query, variables },
        name === 'WhoRead' ? analystKey : tenant.readKey,
      );
      expect(res.errors, name).toBeUndefined();
      const key = name === 'WhoRead' ? 'auditReads' : 'auditEvents';
      const events = res.data?.[key] as { edges: { node: Record<string, unknown> }[] } | undefined;
      const counts = res.data?.auditEventCounts as { total: number; buckets: unknown[] } | undefined;
      if (name === 'Histogram') {
        expect(counts?.total, name).toBeGreaterThan(0);
        expect(counts?.buckets.length, name).toBeGreaterThanOrEqual(30);
      } else if (name !== 'VerifyChain') expect(events?.edges.length, name).toBeGreaterThan(0);
    }
  });

  it('the Search tab finds only events that mention its word', async () => {
    const tab = EXAMPLE_TABS.find((x) => x.name === 'Search');
    const variables = tab?.variables?.(now) as { search: string };
    const res = await g.gqlRaw({ query: tab?.query, variables }, tenant.readKey);
    expect(res.errors).toBeUndefined();
    const edges = (res.data?.auditEvents as { edges: { node: unknown }[] } | undefined)?.edges ?? [];
    expect(edges.length).toBeGreaterThan(0);
    for (const { node } of edges) expect(JSON.stringify(node).toLowerCase()).toContain(variables.search);
  });
});
