import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../src/auth/admin.ts';
import { parseApiKey } from '../src/auth/keys.ts';
import { graphql } from './gql/index.ts';
import { mistypedKey, startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const Mine = graphql(`
  query MyEvents { viewer { tenant { slug } scopes } auditEvents(first: 100) { totalCount edges { node { id action } } } }
`);
const RecordForAuth = graphql(`
  mutation RecordForAuth($input: RecordEventInput!) { recordEvent(input: $input) { id } }
`);

let t: TestGateway;
let a: TestTenant;

beforeAll(async () => {
  t = await startTestGateway();
  a = await t.newTenant('auth');
});
afterAll(() => t?.close());

const query = JSON.stringify({ query: '{ auditEvents { totalCount } }' });
const post = (headers: Record<string, string>, remoteAddress = '127.0.0.1') =>
  t.fetch('/graphql', {
    method: 'POST',
    body: query,
    headers: { 'content-type': 'application/json', ...headers },
    remoteAddress,
  });

describe('API keys', () => {
  it('accepts every documented header style', async () => {
    const styles: Record<string, string>[] = [
      { authorization: `Bearer ${a.key}` },
      { authorization: `apikey ${a.key}` },
      { authorization: `Basic ${Buffer.from(`${a.key}:`).toString('base64')}` },
      { 'x-api-key': a.key },
    ];
    for (const headers of styles) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(((await res.json()) as { data: unknown }).data).toEqual({ auditEvents: { totalCount: 0 } });
      const rest = await t.fetch('/api/data/audit', { headers });
      expect(rest.status).toBe(200);
    }
  });

  it('answers 401 with a JSON error for a missing, malformed, unknown or wrong key', async () => {
    const parsed = parseApiKey(a.key);
    if (!parsed) throw new Error('test key does not parse');
    const wrongSecret = a.key.replace(parsed.secret, parsed.secret.split('').reverse().join(''));
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Bearer ' },
      { authorization: 'Bearer not-a-key' },
      { authorization: `Bearer ${mistypedKey(a.key)}` }, // checksum no longer matches
      { authorization: `Bearer agw_AAAAAAAAAAAA_${'B'.repeat(32)}AAAAAA` },
      { authorization: `Bearer ${wrongSecret}` },
      { authorization: `Token ${a.key}` },
    ];
    for (const headers of cases) {
      const gql = await post(headers);
      expect(gql.status, JSON.stringify(headers)).toBe(401);
      const body = (await gql.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
      const rest = await t.fetch('/enterprise/v1/audit-log', { headers });
      expect(rest.status).toBe(401);
      expect(((await rest.json()) as { error: string }).error).toBe('unauthenticated');
    }
  });

  it('enforces scopes: 403 for a read key on a mutation or POST, and for a write-only key on reads', async () => {
    const mutation = await t.gql(RecordForAuth, { input: { action: 'x' } }, a.readKey);
    expect(mutation.status).toBe(403);
    expect(mutation.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const restPost = await t.fetch('/audit/v1/event', {
      key: a.readKey,
      method: 'POST',
      body: '{"action":"x"}',
    });
    expect(restPost.status).toBe(403);
    const read = await t.gql(Mine, {}, a.writeOnlyKey);
    expect(read.status).toBe(403);
    expect(read.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const restRead = await t.fetch('/v1/audit', { key: a.writeOnlyKey });
    expect(restRead.status).toBe(403);
  });

  it('authenticates before it validates: no key and bad input is a 401', async () => {
    const bad = [
      ['/v1/audit?from=yesterday', 'GET'],
      ['/enterprise/v1/audit-log?maxResults=0', 'GET'],
      ['/api/data/audit?order=sideways', 'GET'],
      ['/api/data/audit/filters', 'GET'],
      ['/audit/v1/event', 'POST', '{not json'],
      ['/audit/v1/events', 'POST', '{"events": 5}'],
    ] as const;
    for (const [path, method, body] of bad) {
      const none = await t.fetch(path, { method, body });
      expect(none.status, `${method} ${path} without a key`).toBe(401);
      expect(((await none.json()) as { error: string }).error).toBe('unauthenticated');
      // A valid key of the wrong scope is refused by the service, so never with any data; bad
      // input it sent is named first (a 400), which tells a key of the tenant nothing secret.
      const wrongScope = await t.fetch(path, {
        method,
        body,
        key: method === 'GET' ? a.writeOnlyKey : a.readKey,
      });
      const expected = path === '/api/data/audit/filters' ? 403 : 400;
      expect(wrongScope.status, `${method} ${path} with the wrong scope`).toBe(expected);
    }
  });

  it('revocation takes effect on the next request, and a rotation can hold two live keys', async () => {
    const tenant = await t.newTenant('rotate');
    const next = await createApiKey(t.gateway.database, tenant.slug, ['read']);
    expect((await post({ authorization: `Bearer ${tenant.readKey}` })).status).toBe(200);
    expect((await post({ authorization: `Bearer ${next.key}` })).status).toBe(200);
    await revokeApiKey(t.gateway.database, parseApiKey(tenant.readKey)?.id as string);
    const revoked = await post({ authorization: `Bearer ${tenant.readKey}` });
    expect(revoked.status).toBe(401);
    expect(JSON.stringify(await revoked.json())).toMatch(/revoked/);
    expect((await post({ authorization: `Bearer ${next.key}` })).status).toBe(200);
  });

  it('stores keys only as a hash, with a recognizable prefix and checksum', async () => {
    const created = await createApiKey(t.gateway.database, a.slug, ['read']);
    expect(created.key).toMatch(/^agw_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    const rows = await t.gateway.database.admin((tx) => tx.execute(sql`select * from api_keys`));
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(parseApiKey(created.key)?.secret);
    expect(dump).toContain(created.id);
  });
});

describe('tenant isolation', () => {
  it("two tenants never see each other's events through GraphQL or REST", async () => {
    const x = await t.newTenant('iso-x');
    const y = await t.newTenant('iso-y');
    const ids = { x: [] as string[], y: [] as string[] };
    for (let i = 0; i < 5; i++) {
      ids.x.push(
        (await t.gql(RecordForAuth, { input: { action: `x-${i}` } }, x.key)).data?.recordEvent.id as string,
      );
      ids.y.push(
        (await t.gql(RecordForAuth, { input: { action: `y-${i}` } }, y.key)).data?.recordEvent.id as string,
      );
    }
    const seenByX = await t.gql(Mine, {}, x.readKey);
    expect(seenByX.data?.viewer.tenant.slug).toBe(x.slug);
    expect(new Set(seenByX.data?.auditEvents.edges.map((e) => e.node.id))).toEqual(new Set(ids.x));
    const wasabiY = (await (await t.fetch('/api/data/audit?count=100', { key: y.readKey })).json()) as {
      audit_events: { id: string }[];
    };
    expect(new Set(wasabiY.audit_events.map((e) => e.id))).toEqual(new Set(ids.y));
    for (const id of ids.x) {
      expect((await t.fetch(`/api/data/audit/${id}`, { key: y.readKey })).status).toBe(404);
      expect((await t.fetch(`/v1/audit/${id}`, { key: y.readKey })).status).toBe(404);
    }
  });
});

describe('failed authentication is rate-limited per client address', () => {
  it('answers 429 with Retry-After after too many failures, for that address only', async () => {
    const limited = await startTestGateway({ AUTH_FAILURES_PER_MINUTE: '5' });
    try {
      const tenant = await limited.newTenant('ratelimit');
      const attempt = (key: string, remoteAddress: string) =>
        limited.fetch('/api/data/audit', { headers: { authorization: `Bearer ${key}` }, remoteAddress });
      for (let i = 0; i < 5; i++) expect((await attempt('bad', '198.51.100.7')).status).toBe(401);
      const blocked = await attempt('bad', '198.51.100.7');
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await attempt(tenant.readKey, '198.51.100.8')).status).toBe(200);
      const gqlBlocked = await limited.fetch('/graphql', {
        method: 'POST',
        body: query,
        headers: { 'content-type': 'application/json', authorization: 'Bearer bad' },
        remoteAddress: '198.51.100.7',
      });
      expect(gqlBlocked.status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('still serves a valid key from an address over the limit (one load balancer, many clients)', async () => {
    // Without TRUSTED_PROXIES every client behind a load balancer shares its address: bad
    // requests from one of them must not lock the others out.
    const limited = await startTestGateway({ AUTH_FAILURES_PER_MINUTE: '5' });
    try {
      const tenant = await limited.newTenant('shared-address');
      const balancer = '203.0.113.9';
      for (let i = 0; i < 6; i++)
        await limited.fetch('/api/data/audit', { key: 'bad', remoteAddress: balancer });
      expect((await limited.fetch('/api/data/audit', { key: 'bad', remoteAddress: balancer })).status).toBe(
        429,
      );
      const rest = await limited.fetch('/api/data/audit', { key: tenant.readKey, remoteAddress: balancer });
      expect(rest.status).toBe(200);
      const gql = await limited.fetch('/graphql', {
        method: 'POST',
        body: query,
        headers: { 'content-type': 'application/json' },
        key: tenant.readKey,
        remoteAddress: balancer,
      });
      expect(gql.status).toBe(200);
      expect(((await gql.json()) as { data: unknown }).data).toEqual({ auditEvents: { totalCount: 0 } });
      // A well-formed key that does not verify, or a revoked one, is still refused.
      const parsed = parseApiKey(tenant.key);
      if (!parsed) throw new Error('test key does not parse');
      const wrongSecret = tenant.key.replace(parsed.secret, parsed.secret.split('').reverse().join(''));
      expect(
        (await limited.fetch('/api/data/audit', { key: wrongSecret, remoteAddress: balancer })).status,
      ).toBe(429);
      const revoked = await createApiKey(limited.gateway.database, tenant.slug, ['read']);
      await revokeApiKey(limited.gateway.database, parseApiKey(revoked.key)?.id as string);
      expect(
        (await limited.fetch('/api/data/audit', { key: revoked.key, remoteAddress: balancer })).status,
      ).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('refuses a missing or malformed key from an address over the limit without a database lookup', async () => {
    const limited = await startTestGateway({ AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      const address = '192.0.2.44';
      for (let i = 0; i < 4; i++)
        await limited.fetch('/api/data/audit', { key: 'bad', remoteAddress: address });
      const tenant = await limited.newTenant('flood');
      limited.queries.length = 0;
      const typo = mistypedKey(tenant.readKey);
      for (const key of ['bad', typo, undefined]) {
        const res = await limited.fetch('/api/data/audit', {
          remoteAddress: address,
          ...(key === undefined ? {} : { key }),
        });
        expect(res.status, String(key)).toBe(429);
      }
      expect(limited.queries).toEqual([]);
    } finally {
      await limited.close();
    }
  });
});
