// GET /metrics as Prometheus scrapes it: the text format (parsed by a Prometheus text parser),
// requests by surface and route pattern with latencies, GraphQL operations by root field, ingest,
// chain appends and checkpoints, the pool, and no tenant or event data in any label.
import { Readable } from 'node:stream';
import { getMetricsFromStream, type PromMetrics } from 'prom2javascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

type Scrape = { text: string; families: PromMetrics };

describe('GET /metrics', () => {
  let g: TestGateway;
  let tenant: TestTenant;

  beforeAll(async () => {
    g = await startTestGateway({ CHECKPOINT_EVERY_EVENTS: '2' });
    tenant = await g.newTenant('metrics-secret-slug');
  });
  afterAll(() => g.close());

  async function scrape(): Promise<Scrape> {
    const res = await g.fetch('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    // prom2javascript cannot read NaN samples (legal in the format, and Prometheus reads them);
    // the only ones are the process' event-loop statistics before their first sample.
    const nan = text.split('\n').filter((line) => line.endsWith(' NaN'));
    for (const line of nan) expect(line).toMatch(/^nodejs_eventloop_lag_\w+ NaN$/);
    const parsable = text
      .split('\n')
      .filter((line) => !line.endsWith(' NaN'))
      .join('\n');
    return { text, families: await getMetricsFromStream(Readable.from([parsable])) };
  }

  /** A counter's or gauge's value, or a histogram's observation count, for samples with these labels. */
  function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const m of s.families[name]?.data ?? []) {
      if (!Object.entries(labels).every(([k, v]) => m.labels[k] === v)) continue;
      total += 'buckets' in m ? m.count : 'value' in m ? m.value : 0;
    }
    return total;
  }

  const delta = (before: Scrape, after: Scrape, name: string, labels?: Record<string, string>) =>
    value(after, name, labels) - value(before, name, labels);

  it('counts requests by surface and route pattern (never the raw path), with latency histograms', async () => {
    const before = await scrape();
    await g.fetch('/enterprise/v1/audit-log?maxResults=5', { key: tenant.readKey });
    await g.fetch(`/no/such/${tenant.slug}`);
    await g.gqlRaw({ query: '{ viewer { scopes } }' }, tenant.readKey);
    const after = await scrape();

    const requests = 'agw_http_request_duration_seconds';
    expect(after.families[requests]?.type).toBe('histogram');
    expect(
      delta(before, after, requests, {
        surface: 'rest',
        route: '/enterprise/v1/audit-log',
        method: 'GET',
        status: '200',
      }),
    ).toBe(1);
    expect(delta(before, after, requests, { route: 'unmatched', status: '404' })).toBe(1);
    expect(
      delta(before, after, requests, {
        surface: 'graphql',
        route: '/graphql',
        method: 'POST',
        status: '200',
      }),
    ).toBe(1);
    const routes = new Set((after.families[requests]?.data ?? []).map((m) => m.labels.route));
    for (const route of routes) expect(route).not.toMatch(/\?|no\/such/);
  });

  it('records GraphQL operations by type and root field, not by the name the client chose', async () => {
    const before = await scrape();
    await g.gqlRaw({ query: 'query MyVeryOwnName { auditEvents(first: 1) { totalCount } }' }, tenant.readKey);
    await g.gqlRaw({ query: '{ viewer { scopes } auditEvents(first: 1) { totalCount } }' }, tenant.readKey);
    await g.gqlRaw({ query: '{ auditEvents(first: 0, last: 1) { totalCount } }' }, tenant.readKey);
    const after = await scrape();
    const ops = 'agw_graphql_operation_duration_seconds';
    expect(delta(before, after, ops, { type: 'query', field: 'auditEvents', outcome: 'ok' })).toBe(1);
    expect(delta(before, after, ops, { type: 'query', field: 'multiple', outcome: 'ok' })).toBe(1);
    expect(delta(before, after, ops, { type: 'query', field: 'auditEvents', outcome: 'error' })).toBe(1);
    expect(after.text).not.toContain('MyVeryOwnName');
  });

  it('counts ingested events, batch sizes, chain appends and signed checkpoints', async () => {
    const before = await scrape();
    const events = [1, 2, 3].map((i) => ({ action: 'metrics.probe-action', metadata: { i } }));
    const res = await g.gqlRaw(
      {
        query: 'mutation ($inputs: [RecordEventInput!]!) { recordEvents(inputs: $inputs) { __typename } }',
        variables: { inputs: events },
      },
      tenant.key,
    );
    expect(res.errors).toBeUndefined();
    const after = await scrape();

    expect(delta(before, after, 'agw_events_ingested_total', { outcome: 'stored' })).toBe(3);
    expect(delta(before, after, 'agw_ingest_batch_size')).toBe(1);
    const sum = (s: Scrape) =>
      (s.families.agw_ingest_batch_size?.data[0] as { sum?: number } | undefined)?.sum ?? 0;
    expect(after.families.agw_ingest_batch_size?.type).toBe('histogram');
    expect(sum(after) - sum(before)).toBe(3);
    expect(delta(before, after, 'agw_chain_appends_total')).toBe(1);
    expect(delta(before, after, 'agw_chain_append_size')).toBe(1);
    // CHECKPOINT_EVERY_EVENTS=2: three new events make the head due for a checkpoint.
    expect(delta(before, after, 'agw_chain_checkpoints_signed_total')).toBeGreaterThanOrEqual(1);
  });

  it('shows the pool, database errors and the process, and no tenant, key or event data', async () => {
    await g.fetch('/enterprise/v1/audit-log?maxResults=1', { key: tenant.readKey });
    const s = await scrape();
    expect(value(s, 'agw_db_pool_max_connections')).toBe(g.kind === 'postgres' ? g.config.poolSize : 1);
    expect(s.families.agw_db_transactions_in_flight?.type).toBe('gauge');
    expect(s.families.agw_db_errors_total?.type).toBe('counter');
    expect('process_cpu_user_seconds_total' in s.families).toBe(true);
    expect('nodejs_eventloop_lag_seconds' in s.families).toBe(true);
    for (const secret of [tenant.slug, 'metrics-secret-slug', tenant.key, tenant.readKey, 'probe-action'])
      expect(s.text).not.toContain(secret);
  });
});

describe('GET /metrics when the database fails', () => {
  it('counts the failed database calls, and still answers', async () => {
    const g = await startTestGateway();
    const tenant = await g.newTenant('db-down');
    const errors = async () => {
      const text = await (await g.fetch('/metrics')).text();
      const lines = text.split('\n').filter((l) => l.startsWith('agw_db_errors_total'));
      return lines.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    };
    try {
      const before = await errors();
      await g.gateway.database.close();
      const res = await g.fetch('/enterprise/v1/audit-log?maxResults=1', { key: tenant.readKey });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(await errors()).toBeGreaterThan(before);
    } finally {
      // The database is closed already; this drops the test's Postgres database.
      await g.close().catch(() => {});
    }
  });
});

describe('GET /metrics configuration', () => {
  it('with METRICS_TOKEN, answers only that token', async () => {
    const token = 'scrape-token-0123456789';
    const g = await startTestGateway({ METRICS_TOKEN: token });
    try {
      expect((await g.fetch('/metrics')).status).toBe(401);
      expect((await g.fetch('/metrics', { key: 'scrape-token-wrong-value' })).status).toBe(401);
      expect((await g.fetch('/metrics', { key: token })).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('with METRICS_ENABLED=false, is not served', async () => {
    const g = await startTestGateway({ METRICS_ENABLED: 'false' });
    try {
      expect((await g.fetch('/metrics')).status).toBe(404);
    } finally {
      await g.close();
    }
  });
});
