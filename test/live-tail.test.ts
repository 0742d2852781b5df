// The live tail over real HTTP (Server-Sent Events on /graphql): a history page's streamPosition
// continues into the stream with nothing missed or repeated, cursors resume (also after a
// restart), filters and viewer tokens narrow it, and the server's bounds (stream limits, token
// expiry, key revocation, slow consumers, shutdown) end a stream with a code and a cursor.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { createApiKey, revokeApiKey } from '../src/auth/admin.ts';
import { parseApiKey } from '../src/auth/keys.ts';
import type { Gateway } from '../src/gateway.ts';
import type { RunningServer } from '../src/http/server.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { openTail, type StreamedEdge, serveGateway, type TailStream } from './support/live-tail-client.ts';
import { newTenant, type SharedDatabase, sharedDatabase } from './support/log-stream-gateways.ts';

let t: TestGateway;
let server: RunningServer;
const streams: TailStream[] = [];

beforeAll(async () => {
  t = await startTestGateway({
    LIVE_TAIL_POLL_MS: '200',
    LIVE_TAIL_RECHECK_SECONDS: '1',
    LIVE_TAIL_QUEUE_LIMIT: '1000',
    LIVE_TAIL_STREAMS_PER_KEY: '3',
    LIVE_TAIL_STREAMS_PER_TENANT: '4',
    LIVE_TAIL_HEARTBEAT_SECONDS: '1',
  });
  server = await serveGateway(t.gateway);
});

afterEach(() => {
  for (const s of streams.splice(0)) s.close();
});

afterAll(async () => {
  server?.server.closeAllConnections();
  await new Promise((resolve) => server?.server.close(resolve));
  await t?.close();
});

function tail(
  key: string,
  variables: Parameters<typeof openTail>[2] = {},
  options: Parameters<typeof openTail>[3] = {},
): TailStream {
  const s = openTail(server.url, key, variables, options);
  streams.push(s);
  return s;
}

type Input = {
  action: string;
  occurredAt?: string;
  actor?: { id: string };
  metadata?: Record<string, unknown>;
};

async function record(tenant: TestTenant, inputs: Input[]): Promise<number[]> {
  const results = await t.gateway.audit.recordEvents(operatorViewer(tenant), inputs);
  return results.map((r) => {
    if (!r.ok) throw r.error;
    return r.event.sequence;
  });
}

const actions = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ action: `${prefix}.${i}` }));

async function historyPage(tenant: TestTenant, key = tenant.readKey) {
  const res = await t.gqlRaw(
    { query: '{ auditEvents(first: 500) { streamPosition edges { node { sequence } } } }' },
    key,
  );
  expect(res.errors).toBeUndefined();
  const page = res.data?.auditEvents as { streamPosition: string; edges: { node: { sequence: number } }[] };
  return { position: page.streamPosition, sequences: page.edges.map((e) => e.node.sequence) };
}

const seqs = (edges: StreamedEdge[]) => edges.map((e) => e.node.sequence);

describe('live tail', () => {
  it('continues a history page from its streamPosition: every later event once, late occurredAt included', async () => {
    const tenant = await t.newTenant('tail');
    await record(tenant, actions(5, 'before'));
    const page = await historyPage(tenant);
    expect(page.sequences.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    // Committed after the page was read but before the stream opened: still delivered.
    await record(tenant, actions(2, 'between'));
    const s = tail(tenant.readKey, { after: page.position });
    await s.opened();
    // An event that happened long ago but commits now comes in commit order, not time order.
    await record(tenant, [{ action: 'late', occurredAt: '2001-01-01T00:00:00Z' }, ...actions(2, 'after')]);
    const got = await s.edges(5);
    expect(seqs(got)).toEqual([6, 7, 8, 9, 10]);
    expect(got[2]?.node).toMatchObject({ action: 'late', occurredAt: '2001-01-01T00:00:00.000Z' });
    await s.expectQuiet(400);
  });

  it('resumes from a delivered cursor with the next event, and from the head when `after` is omitted', async () => {
    const tenant = await t.newTenant('resume');
    const live = tail(tenant.readKey);
    expect(await live.opened()).toBe(200);
    await record(tenant, actions(4, 'a'));
    const first = await live.edges(4);
    expect(seqs(first)).toEqual([1, 2, 3, 4]);
    live.close();
    await record(tenant, actions(3, 'b'));
    const resumed = tail(tenant.readKey, { after: first[1]?.cursor as string });
    expect(seqs(await resumed.edges(5))).toEqual([3, 4, 5, 6, 7]);
    await resumed.expectQuiet(300);
  });

  it('delivers to a filter and to a restricted viewer token exactly what a listing of the same slice returns', async () => {
    const tenant = await t.newTenant('slice');
    const token = await mint(tenant.readKey, { restriction: { actorIds: ['alice', 'bob'] } });
    const everything = tail(tenant.key);
    const byAction = tail(tenant.readKey, { filter: { actions: ['login', 'logout'] } });
    const restricted = tail(token);
    // The token's slice ANDed with its own filter: only bob's logins.
    const narrowed = tail(token, { filter: { actions: ['login'], actorIds: ['bob', 'carol'] } });
    await Promise.all([everything, byAction, restricted, narrowed].map((s) => s.opened()));
    const inputs: Input[] = [];
    for (let i = 0; i < 40; i++) {
      const actor = ['alice', 'bob', 'carol', ''][i % 4] as string;
      inputs.push({
        action: ['login', 'logout', 'export'][i % 3] as string,
        ...(actor ? { actor: { id: actor } } : {}),
      });
    }
    await record(tenant, inputs);
    const listed = async (key: string, filter: Record<string, unknown> = {}) => {
      const res = await t.gqlRaw(
        {
          query:
            'query($f: AuditEventFilter) { auditEvents(first: 500, filter: $f) { edges { node { sequence } } } }',
          variables: { f: filter },
        },
        key,
      );
      expect(res.errors).toBeUndefined();
      const page = res.data?.auditEvents as { edges: { node: { sequence: number } }[] } | undefined;
      const edges = page?.edges ?? [];
      return edges.map((e) => e.node.sequence).sort((a, b) => a - b);
    };
    const expected = {
      everything: await listed(tenant.key),
      byAction: await listed(tenant.readKey, { actions: ['login', 'logout'] }),
      restricted: await listed(token),
      narrowed: await listed(token, { actions: ['login'], actorIds: ['bob', 'carol'] }),
    };
    expect(expected.everything).toHaveLength(40);
    expect(expected.narrowed.length).toBeGreaterThan(0);
    expect(expected.restricted.length).toBeLessThan(40);
    expect(seqs(await everything.edges(expected.everything.length))).toEqual(expected.everything);
    expect(seqs(await byAction.edges(expected.byAction.length))).toEqual(expected.byAction);
    expect(seqs(await restricted.edges(expected.restricted.length))).toEqual(expected.restricted);
    expect(seqs(await narrowed.edges(expected.narrowed.length))).toEqual(expected.narrowed);
    await restricted.expectQuiet(300);
  });

  it('refuses a stream over the per-key or per-tenant limit with STREAM_LIMIT, and a bad `after` naming the field', async () => {
    const tenant = await t.newTenant('limits');
    const open = [tail(tenant.readKey), tail(tenant.readKey), tail(tenant.readKey)];
    await Promise.all(open.map((s) => s.opened()));
    const overKey = tail(tenant.readKey);
    expect((await overKey.endError()).error.extensions?.code).toBe('STREAM_LIMIT');
    // Another key of the tenant still gets one: the tenant's limit is 4.
    const fourth = tail(tenant.key);
    await fourth.opened();
    const overTenant = tail(tenant.key);
    const refused = await overTenant.endError();
    expect(refused.error.extensions?.code).toBe('STREAM_LIMIT');
    expect(refused.error.message).toMatch(/tenant/);
    // Closing one frees its place.
    open[0]?.close();
    await eventually(async () => {
      const again = tail(tenant.readKey);
      await again.opened();
      await record(tenant, actions(1, 'x'));
      expect((await again.edges(1))[0]?.node.action).toBe('x.0');
    });
    const other = await t.newTenant('limits-other');
    const foreign = tail(other.readKey, { after: (await historyPage(tenant)).position });
    const bad = (await foreign.endError()).error;
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    // A write-only key may not read.
    expect((await tail(tenant.writeOnlyKey).endError()).error.extensions?.code).toBe('FORBIDDEN');
    // Free text is not matched on the tail: refused, never silently ignored.
    const search = (await tail(other.readKey, { filter: { search: 'invoice' } }).endError()).error;
    expect(search.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.search' });
  });

  it('ends a stream when its viewer token expires or its key is revoked, with UNAUTHENTICATED and lastCursor', async () => {
    const tenant = await t.newTenant('expiry');
    const shortLived = await mint(tenant.readKey, { ttlSeconds: 2 });
    const expiring = tail(shortLived);
    const extra = await createApiKey(t.gateway.database, tenant.slug, ['read']);
    const revoked = tail(extra.key);
    await Promise.all([expiring.opened(), revoked.opened()]);
    await record(tenant, actions(2, 'seen'));
    const seenByRevoked = await revoked.edges(2);
    await revokeApiKey(t.gateway.database, parseApiKey(extra.key)?.id as string);
    const byRevocation = await revoked.endError(5000);
    expect(byRevocation.error.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      lastCursor: seenByRevoked[1]?.cursor,
    });
    expect(byRevocation.error.message).toMatch(/revoked/);
    const byExpiry = await expiring.endError(5000);
    expect(byExpiry.before.map((e) => e.node.action)).toEqual(['seen.0', 'seen.1']);
    expect(byExpiry.error.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      lastCursor: byExpiry.before[1]?.cursor,
    });
    expect(byExpiry.error.message).toMatch(/expired/);
    expect((await expiring.next()).event).toBe('complete');
  });

  it('keeps every subscriber gapless while several tenants write concurrently', async () => {
    const tenants = await Promise.all([1, 2, 3].map(() => t.newTenant('busy')));
    const subs = tenants.map((tenant) => [tail(tenant.readKey), tail(tenant.key)] as const);
    await Promise.all(subs.flat().map((s) => s.opened()));
    const perTenant = 120;
    await Promise.all(
      tenants.flatMap((tenant) =>
        [0, 1, 2, 3].map(async (w) => {
          for (let i = 0; i < perTenant / 4 / 5; i++) await record(tenant, actions(5, `w${w}`));
        }),
      ),
    );
    for (const pair of subs) {
      for (const s of pair) {
        expect(seqs(await s.edges(perTenant))).toEqual(Array.from({ length: perTenant }, (_, i) => i + 1));
      }
    }
  });
});

// A gateway on a database that outlives it (a data directory, or a Postgres database of its
// own), to stop and start again; with a small queue so a stalled client overflows it soon.
describe('live tail across a restart', () => {
  let shared: SharedDatabase;
  let g: Gateway;
  let srv: RunningServer;
  const opened: TailStream[] = [];

  beforeAll(async () => {
    shared = await sharedDatabase();
  });

  afterAll(async () => {
    for (const s of opened) s.close();
    await srv?.stop('test over');
    await shared?.drop();
  });

  const start = async () => {
    g = await shared.open({ LOG_STREAMS: 'false', LIVE_TAIL_QUEUE_LIMIT: '100' });
    srv = await serveGateway(g);
  };

  it('ends open streams on shutdown with SHUTTING_DOWN and lastCursor, which resumes on the restarted gateway', async () => {
    await start();
    const tenant = await newTenant(g, 'restart');
    const s = openTail(srv.url, tenant.readKey);
    opened.push(s);
    await s.opened();
    await recordOn(g, tenant, actions(3, 'before'));
    const seen = await s.edges(3);
    await srv.stop('restart');
    const ended = await s.endError();
    expect(ended.error.extensions).toMatchObject({ code: 'SHUTTING_DOWN', lastCursor: seen[2]?.cursor });
    await start();
    // Committed while no stream was open.
    await recordOn(g, tenant, actions(2, 'while-away'));
    const resumed = openTail(srv.url, tenant.readKey, {
      after: ended.error.extensions?.lastCursor as string,
    });
    opened.push(resumed);
    await resumed.opened();
    await recordOn(g, tenant, actions(1, 'after'));
    expect((await resumed.edges(3)).map((e) => [e.node.sequence, e.node.action])).toEqual([
      [4, 'while-away.0'],
      [5, 'while-away.1'],
      [6, 'after.0'],
    ]);
  });

  it('closes a subscriber that stopped reading with SLOW_CONSUMER; its lastCursor resumes with nothing lost', async () => {
    const tenant = await newTenant(g, 'slow');
    const query = `subscription($after: String) { auditEventStream(after: $after) { cursor node { sequence metadata } } }`;
    const slow = openTail(srv.url, tenant.readKey, {}, { read: false, query });
    opened.push(slow);
    await slow.opened();
    // Large events fill the socket buffers first; then the queue (100 events) overflows.
    const padding = 'x'.repeat(15_000);
    let recorded = 0;
    while (recorded < 3000 && g.audit.liveTail.openStreamsOf(tenant.id) > 0) {
      await recordOn(
        g,
        tenant,
        Array.from({ length: 50 }, () => ({ action: 'bulk', metadata: { padding } })),
      );
      recorded += 50;
    }
    expect(g.audit.liveTail.openStreamsOf(tenant.id)).toBe(0);
    void slow.pump();
    const { before, error } = await slow.endError();
    expect(error.extensions?.code).toBe('SLOW_CONSUMER');
    expect(before.length).toBeGreaterThan(0);
    expect(error.extensions?.lastCursor).toBe(before.at(-1)?.cursor);
    const lastSeen = before.at(-1)?.node.sequence as number;
    const resumed = openTail(srv.url, tenant.readKey, { after: error.extensions?.lastCursor as string });
    opened.push(resumed);
    const rest = await resumed.edges(recorded - lastSeen, 20_000);
    expect(seqs(rest)).toEqual(Array.from({ length: recorded - lastSeen }, (_, i) => lastSeen + 1 + i));
  });
});

async function recordOn(g: Gateway, tenant: { id: number; slug: string }, inputs: Input[]) {
  const results = await g.audit.recordEvents(operatorViewer(tenant), inputs);
  expect(results.every((r) => r.ok)).toBe(true);
}

async function mint(key: string, input: Record<string, unknown> = {}): Promise<string> {
  const res = await t.gqlRaw(
    {
      query: 'mutation($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }',
      variables: { input },
    },
    key,
  );
  expect(res.errors).toBeUndefined();
  const minted = res.data?.createViewerToken as { token: string } | undefined;
  return minted?.token ?? '';
}

async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
