// Who read the trail: every surface leaves a record of who read what, from where and how much;
// restricted tokens record their slice; the tenant's switch stops recording; only keys with
// `read_log` read the log, and only their own tenant's; a burst is recorded completely once
// flushed, and a full queue drops records without failing a read.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadLog } from '../src/audit/read-log.ts';
import { TokenSigner } from '../src/audit/tokens.ts';
import { operatorViewer, type Viewer } from '../src/audit/viewer.ts';
import { createApiKey, revokeApiKey, setReadLog } from '../src/auth/admin.ts';
import { parseApiKey } from '../src/auth/keys.ts';
import { scrape } from '../src/metrics.ts';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { openTail, serveGateway } from './support/live-tail-client.ts';

const AuditReads = graphql(`
  query AuditReads($filter: AuditReadFilter, $first: Int, $after: String) {
    auditReads(filter: $filter, first: $first, after: $after) {
      edges {
        node {
          id
          at
          keyId
          viewerTokenId
          restriction { actorIds targetIds groupIds actions }
          surface
          operation
          kind
          filter
          clientAddress
          requestId
          events
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

type Read = {
  keyId: string;
  viewerTokenId: string | null;
  restriction: { actorIds: string[] | null } | null;
  surface: string;
  operation: string;
  kind: string;
  filter: Record<string, unknown>;
  clientAddress: string;
  requestId: string | null;
  events: number;
};

let t: TestGateway;
let tenant: TestTenant;
let logKey: string;
const idOf = (key: string) => parseApiKey(key)?.id;

/** Every record of the tenant (flushed first), newest first, read with `key`. */
async function reads(key = logKey, filter: Record<string, unknown> = {}): Promise<Read[]> {
  await t.gateway.readLog.flush();
  const all: Read[] = [];
  let after: string | null | undefined;
  do {
    const res = await t.gql(AuditReads, { filter, first: 500, after }, key);
    expect(res.errors).toBeUndefined();
    const page = res.data?.auditReads;
    all.push(...((page?.edges.map((e) => e.node) ?? []) as Read[]));
    after = page?.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  return all.filter((r) => r.kind !== 'READS');
}

/** The records a request with this id left. */
const byRequest = (all: Read[], res: Response) =>
  all.filter((r) => r.requestId === res.headers.get('x-request-id'));

/** The tenant's newest event, read as the operator (who leaves no record). */
async function newestEvent() {
  const page = await t.gateway.audit.listEvents(
    operatorViewer(tenant),
    {},
    { field: 'occurredAt', direction: 'desc' },
    { first: 1 },
  );
  return page.edges[0];
}

async function graphqlRead(query: string, key: string, remoteAddress = '203.0.113.7') {
  const res = await t.fetch('/graphql', {
    method: 'POST',
    key,
    remoteAddress,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  return { res, body };
}

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('readlog');
  logKey = (await createApiKey(t.gateway.database, tenant.slug, ['read_log'])).key;
  const inputs = Array.from({ length: 12 }, (_, i) => ({
    action: i % 2 === 0 ? 'login' : 'logout',
    actor: { id: `actor-${i % 3}`, email: `user${i % 3}@example.com` },
    occurredAt: new Date(Date.UTC(2026, 10, 1, i)).toISOString(),
  }));
  const results = await t.gateway.audit.recordEvents(operatorViewer(tenant), inputs);
  expect(results.every((r) => r.ok)).toBe(true);
});
afterAll(() => t?.close());

describe('each surface leaves a record', () => {
  it('GraphQL: the key, the operation name, the filter, the address and the events that came back', async () => {
    const { res, body } = await graphqlRead(
      'query WhoLoggedIn { auditEvents(first: 4, filter: { actions: ["login"] }) { totalCount edges { node { id } } } }',
      tenant.readKey,
    );
    expect(body.errors).toBeUndefined();
    const mine = byRequest(await reads(), res);
    const page = mine.find((r) => r.kind === 'EVENTS');
    expect(page).toMatchObject({
      keyId: idOf(tenant.readKey),
      viewerTokenId: null,
      restriction: null,
      surface: 'GRAPHQL',
      operation: 'WhoLoggedIn',
      clientAddress: '203.0.113.7',
      events: 4,
    });
    expect(page?.filter).toMatchObject({
      actions: ['login'],
      order: { field: 'occurredAt', direction: 'desc' },
    });
    // totalCount is a read of its own: it tells how many match, and hands back no event.
    expect(mine.find((r) => r.kind === 'COUNT')).toMatchObject({ operation: 'WhoLoggedIn', events: 0 });
  });

  it('GraphQL: an anonymous operation, lookups by id, the catalog and a verification', async () => {
    const first = await newestEvent();
    const { res } = await graphqlRead(
      `{ event(id: "${first?.node.id}") { id } availableFilters { actions } verifyChain { intact } }`,
      tenant.readKey,
    );
    const mine = byRequest(await reads(), res);
    expect(mine.map((r) => r.operation)).toEqual(['anonymous', 'anonymous', 'anonymous']);
    expect(mine.find((r) => r.kind === 'LOOKUP')).toMatchObject({
      events: 1,
      filter: { ids: [first?.node.id] },
    });
    expect(mine.find((r) => r.kind === 'CATALOG')).toMatchObject({ events: 0 });
    expect(mine.find((r) => r.kind === 'VERIFY')).toMatchObject({ events: 12 });
  });

  it.each([
    ['MADKUDU', '/v1/audit?event=login&from=2026-10-01', 'GET /v1/audit', 6],
    [
      'MURAL',
      '/enterprise/v1/audit-log?maxResults=3&filter[date][since]=2026-11-01T00:00:00Z',
      'GET /enterprise/v1/audit-log',
      4,
    ],
    ['WASABI', '/api/data/audit?count=5', 'GET /api/data/audit', 5],
  ])('REST %s: the route pattern and the events read', async (surface, path, operation, events) => {
    const res = await t.fetch(path, { key: tenant.readKey, remoteAddress: '198.51.100.9' });
    expect(res.status).toBe(200);
    await res.text();
    const [record] = byRequest(await reads(), res);
    expect(record).toMatchObject({
      surface,
      operation,
      kind: 'EVENTS',
      keyId: idOf(tenant.readKey),
      clientAddress: '198.51.100.9',
      events,
    });
  });

  it('REST lookup by id records the route pattern, not the path', async () => {
    const first = await newestEvent();
    const res = await t.fetch(`/api/data/audit/${first?.node.id}`, { key: tenant.readKey });
    expect(res.status).toBe(200);
    const [record] = byRequest(await reads(), res);
    expect(record).toMatchObject({
      surface: 'WASABI',
      operation: 'GET /api/data/audit/:id',
      kind: 'LOOKUP',
      events: 1,
    });
  });

  it('an export through its route is recorded once, when it ends, with every event it handed out', async () => {
    for (const format of ['ndjson', 'csv'] as const) {
      const res = await t.fetch(`/v1/exports/events.${format}?actions=logout`, { key: tenant.readKey });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('logout');
      const [record] = byRequest(await reads(), res);
      expect(record).toMatchObject({
        surface: 'EXPORT',
        operation: `GET /v1/exports/events.${format}`,
        kind: 'EVENTS',
        events: 6,
      });
    }
  });

  it('a live tail is recorded when it opens (its filter) and when it ends (the events it delivered)', async () => {
    const x = await t.newTenant('readlog-tail');
    const xLog = (await createApiKey(t.gateway.database, x.slug, ['read_log'])).key;
    const server = await serveGateway(t.gateway);
    try {
      const tailKinds = { kinds: ['TAIL'] };
      const stream = openTail(server.url, x.readKey, { filter: { actions: ['login'] } });
      expect(await stream.opened()).toBe(200);
      // Open and not yet ended: the record of its opening is there already.
      await expect.poll(async () => (await reads(xLog, tailKinds)).length, { timeout: 5000 }).toBe(1);
      const inputs = ['login', 'logout', 'login', 'login', 'logout'].map((action) => ({ action }));
      expect((await t.gateway.audit.recordEvents(operatorViewer(x), inputs)).every((r) => r.ok)).toBe(true);
      expect(await stream.edges(3)).toHaveLength(3);
      stream.close();
      await expect.poll(async () => (await reads(xLog, tailKinds)).length, { timeout: 5000 }).toBe(2);
      const [ended, opened] = await reads(xLog, tailKinds);
      expect(opened).toMatchObject({
        keyId: idOf(x.readKey),
        surface: 'GRAPHQL',
        operation: 'Tail',
        clientAddress: '127.0.0.1',
        events: 0,
        filter: { actions: ['login'] },
      });
      expect(ended).toMatchObject({
        keyId: idOf(x.readKey),
        operation: 'Tail',
        events: 3,
        filter: { actions: ['login'], endedBy: 'client', openedAt: expect.any(String) },
      });
      expect(ended?.requestId).toBe(opened?.requestId);
    } finally {
      server.server.closeAllConnections();
      await new Promise((resolve) => server.server.close(resolve));
    }
  });

  it('a live tail the server ends records its reason', async () => {
    const x = await t.newTenant('readlog-tail-revoked');
    const xLog = (await createApiKey(t.gateway.database, x.slug, ['read_log'])).key;
    const reader = await createApiKey(t.gateway.database, x.slug, ['read']);
    const server = await serveGateway(t.gateway);
    try {
      const stream = openTail(server.url, reader.key, {});
      expect(await stream.opened()).toBe(200);
      await expect.poll(async () => (await reads(xLog, { kinds: ['TAIL'] })).length).toBe(1);
      await t.gateway.audit.recordEvents(operatorViewer(x), [{ action: 'seen' }]);
      expect(await stream.edges(1)).toHaveLength(1);
      // Revoking the key ends its stream at the next recheck (LIVE_TAIL_RECHECK_SECONDS, 5 s here).
      await revokeApiKey(t.gateway.database, reader.id);
      await expect
        .poll(async () => (await reads(xLog, { kinds: ['TAIL'] }))[0]?.filter.endedBy, { timeout: 15_000 })
        .toBe('UNAUTHENTICATED');
      expect((await reads(xLog, { kinds: ['TAIL'] }))[0]?.events).toBe(1);
    } finally {
      server.server.closeAllConnections();
      await new Promise((resolve) => server.server.close(resolve));
    }
  });

  it('the operator at the command line leaves no record', async () => {
    const before = (await reads()).length;
    await t.gateway.audit.countEvents(operatorViewer(tenant), {});
    expect((await reads()).length).toBe(before);
  });
});

describe('viewer tokens', () => {
  it("a restricted token's read records the token and its slice", async () => {
    const minted = await t.gqlRaw(
      {
        query: 'mutation ($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }',
        variables: { input: { restriction: { actorIds: ['actor-1'] } } },
      },
      tenant.readKey,
    );
    const token = (minted.data?.createViewerToken as { token: string } | undefined)?.token ?? '';
    const { res, body } = await graphqlRead(
      'query Mine { auditEvents(first: 50) { edges { node { id } } } }',
      token,
    );
    expect(body.errors).toBeUndefined();
    const [record] = byRequest(await reads(), res);
    expect(record).toMatchObject({
      keyId: idOf(tenant.readKey),
      restriction: { actorIds: ['actor-1'] },
      events: 4,
    });
    expect(record?.viewerTokenId).toEqual(expect.any(String));
  });

  it('a token is never minted with read_log, even by a key that has it', async () => {
    const key = (await createApiKey(t.gateway.database, tenant.slug, ['read', 'read_log'])).key;
    const minted = await t.gqlRaw(
      {
        query: 'mutation ($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }',
        variables: { input: { scopes: ['read', 'read_log'] } },
      },
      key,
    );
    expect(minted.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(minted.errors?.[0]?.message).toMatch(/read_log/);
  });
});

describe('who may read the log', () => {
  it('needs read_log: a read key is refused, and a read_log key alone cannot read events', async () => {
    const refused = await t.gql(AuditReads, {}, tenant.key);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const { body } = await graphqlRead('{ auditEvents(first: 1) { edges { node { id } } } }', logKey);
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('a tenant sees only its own reads, and reading the log is recorded too', async () => {
    const other = await t.newTenant('readlog-other');
    const otherLog = (await createApiKey(t.gateway.database, other.slug, ['read_log'])).key;
    await graphqlRead('{ availableFilters { actions } }', other.readKey);
    const theirs = await reads(otherLog);
    expect(theirs.map((r) => r.keyId)).toEqual([idOf(other.readKey)]);
    const ours = await reads();
    expect(ours.some((r) => r.keyId === idOf(other.readKey))).toBe(false);
    await t.gateway.readLog.flush();
    const res = await t.gql(AuditReads, { filter: { kinds: ['READS'] }, first: 500 }, otherLog);
    expect(res.data?.auditReads.edges.length).toBeGreaterThan(0);
    expect(res.data?.auditReads.edges.every((e) => e.node.keyId === idOf(otherLog))).toBe(true);
  });

  it('filters by key, surface and kind, and pages with cursors', async () => {
    const rest = await reads(logKey, { surfaces: ['WASABI'], keyIds: [idOf(tenant.readKey)] });
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((r) => r.surface === 'WASABI')).toBe(true);
    await t.gateway.readLog.flush();
    const first = await t.gql(AuditReads, { first: 2, filter: { kinds: ['EVENTS'] } }, logKey);
    const second = await t.gql(
      AuditReads,
      { first: 2, after: first.data?.auditReads.pageInfo.endCursor, filter: { kinds: ['EVENTS'] } },
      logKey,
    );
    const ids = [...(first.data?.auditReads.edges ?? []), ...(second.data?.auditReads.edges ?? [])].map(
      (e) => e.node.id,
    );
    expect(new Set(ids).size).toBe(4);
    const bad = await t.gql(AuditReads, { after: 'nonsense' }, logKey);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a key id that cannot be stored text, naming the filter (found by test/fuzz.test.ts)', async () => {
    for (const value of ['\u0000', '', 'x'.repeat(1000)]) {
      const res = await t.gql(AuditReads, { filter: { keyIds: [value] } }, logKey);
      expect(res.errors?.[0]?.extensions, JSON.stringify(value)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'filter.keyIds',
      });
      const csv = await t.fetch(`/v1/exports/reads.csv?keyIds=${encodeURIComponent(value)}`, { key: logKey });
      expect(csv.status, JSON.stringify(value)).toBe(400);
    }
  });
});

describe('exporting the read log', () => {
  it('as NDJSON and CSV, the same records auditReads lists, resumable from any cursor, and recorded', async () => {
    const x = await t.newTenant('readlog-export');
    const xLog = (await createApiKey(t.gateway.database, x.slug, ['read_log'])).key;
    await graphqlRead('query Seen { availableFilters { actions } }', x.readKey);
    await t.fetch('/api/data/audit?count=2', { key: x.readKey }).then((r) => r.text());
    await t.fetch('/v1/audit', { key: x.readKey }).then((r) => r.text());
    const listed = await reads(xLog);
    expect(listed).toHaveLength(3);

    const ndjson = await t.fetch('/v1/exports/reads.ndjson', { key: xLog });
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson');
    type Line = Read & { id: string; at: string; cursor: string };
    const lines = (await ndjson.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    // Newest first, like auditReads; the listing's own READS records are there too.
    const exported = lines.filter((l) => l.kind !== 'READS');
    const withoutCursor = ({ cursor: _, ...r }: Line) => r;
    expect(exported.map(withoutCursor)).toEqual(listed);
    expect(exported.map((l) => l.surface)).toEqual(['MADKUDU', 'WASABI', 'GRAPHQL']);

    // Resumed after the first line: everything after it, nothing twice.
    const resumed = await t.fetch(
      `/v1/exports/reads.ndjson?after=${encodeURIComponent(lines[0]?.cursor ?? '')}`,
      { key: xLog },
    );
    const rest = (await resumed.text()).trim().split('\n');
    expect(rest.map((l) => (JSON.parse(l) as Line).id)).toEqual(lines.slice(1).map((l) => l.id));

    const csv = await t.fetch('/v1/exports/reads.csv?surfaces=MADKUDU&surfaces=WASABI&bom=true', {
      key: xLog,
    });
    expect(csv.status).toBe(200);
    const bytes = new Uint8Array(await csv.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    // (TextDecoder drops the byte order mark, as a spreadsheet does.)
    const text = new TextDecoder().decode(bytes);
    expect(text.split('\r\n')[0]).toBe(
      'at,id,keyId,viewerTokenId,restriction,surface,operation,kind,filter,clientAddress,requestId,events,cursor',
    );
    const rows = text.trim().split('\r\n');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toContain(',MADKUDU,GET /v1/audit,EVENTS,"{""order"":');
    expect(rows[2]).toContain('WASABI');

    // Refusals: the scope, a kind that is not one, a cursor that is not one.
    expect((await t.fetch('/v1/exports/reads.csv', { key: x.readKey })).status).toBe(403);
    const bad = await t.fetch('/v1/exports/reads.csv?kinds=NOPE', { key: xLog });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/kinds/);
    expect((await t.fetch('/v1/exports/reads.csv?after=nonsense', { key: xLog })).status).toBe(400);

    // Each export is itself a read of the log.
    await t.gateway.readLog.flush();
    const own = await t.gql(AuditReads, { filter: { kinds: ['READS'], surfaces: ['EXPORT'] } }, xLog);
    expect(own.data?.auditReads.edges.map((e) => e.node.operation).sort()).toEqual([
      'GET /v1/exports/reads.csv',
      'GET /v1/exports/reads.ndjson',
      'GET /v1/exports/reads.ndjson',
    ]);
  });
});

describe('the switch', () => {
  it('off stops recording at the next request; on starts it again', async () => {
    const quiet = await t.newTenant('readlog-quiet');
    const quietLog = (await createApiKey(t.gateway.database, quiet.slug, ['read_log'])).key;
    await setReadLog(t.gateway.database, quiet.slug, false);
    await graphqlRead('query Unseen { availableFilters { actions } }', quiet.readKey);
    await t.fetch('/api/data/audit', { key: quiet.readKey }).then((r) => r.text());
    expect(await reads(quietLog)).toEqual([]);
    await setReadLog(t.gateway.database, quiet.slug, true);
    await graphqlRead('query Seen { availableFilters { actions } }', quiet.readKey);
    expect((await reads(quietLog)).map((r) => r.operation)).toEqual(['Seen']);
  });
});

describe('batching', () => {
  it('a burst of concurrent reads is recorded completely once flushed', async () => {
    const burst = await t.newTenant('readlog-burst');
    const burstLog = (await createApiKey(t.gateway.database, burst.slug, ['read_log'])).key;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        graphqlRead(`query Burst${i} { availableFilters { actions } }`, burst.readKey),
      ),
    );
    expect(answers.every((a) => a.res.status === 200)).toBe(true);
    const recorded = await reads(burstLog);
    expect(new Set(recorded.map((r) => r.operation)).size).toBe(50);
  });

  it('a full queue drops records (counted) and never fails or holds up a read', async () => {
    // A read log of its own on the same database: no timer flush, room for five records.
    const small = new ReadLog({
      db: t.gateway.database.db,
      tokens: new TokenSigner([randomBytes(32).toString('base64url')]),
      logger: pino({ level: 'silent' }),
      flushMs: 60_000,
      batchSize: 1000,
      queueLimit: 5,
    });
    try {
      const x = await t.newTenant('readlog-full');
      const reader: Viewer = {
        tenantId: x.id,
        tenantSlug: x.slug,
        keyId: 'full-queue',
        scopes: new Set(['read', 'read_log']),
        recordReads: true,
        origin: { surface: 'graphql', operation: 'Full', clientAddress: '192.0.2.2', requestId: 'full' },
      };
      const dropped = async () =>
        Number(
          /agw_read_log_records_total\{outcome="dropped_queue_full"\} (\d+)/.exec(
            await scrape().then((m) => m.body),
          )?.[1] ?? 0,
        );
      const before = await dropped();
      for (let i = 0; i < 20; i++) expect(small.record(reader, 'count', { i }, 0)).toBeUndefined();
      await small.flush();
      const page = await small.list(reader, {}, { first: 500 });
      expect(page.edges.map((e) => e.node.filter)).toEqual([4, 3, 2, 1, 0].map((i) => ({ i })));
      expect((await dropped()) - before).toBe(15);
    } finally {
      await small.close();
    }
  });
});
