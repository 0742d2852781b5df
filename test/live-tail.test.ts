// The live tail over real HTTP (Server-Sent Events on /graphql): a history page's streamPosition
// continues into the stream with nothing missed or repeated, cursors resume (also after a
// restart), filters and viewer tokens narrow it, and the server's bounds (stream limits, token
// expiry, key revocation, slow consumers, shutdown) end a stream with a code and a cursor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { revokeApiKey } from '../src/auth/admin.ts';
import type { RunningServer } from '../src/http/server.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { openTail, type StreamedEdge, serveGateway, type TailStream } from './support/live-tail-client.ts';

let t: TestGateway;
let server: RunningServer;
const streams: TailStream[] = [];

beforeAll(async () => {
  t = await startTestGateway({
    LIVE_TAIL_POLL_MS: '200',
    LIVE_TAIL_RECHECK_SECONDS: '1',
    LIVE_TAIL_QUEUE_LIMIT: '20',
    LIVE_TAIL_STREAMS_PER_KEY: '3',
    LIVE_TAIL_STREAMS_PER_TENANT: '4',
    LIVE_TAIL_HEARTBEAT_SECONDS: '1',
  });
  server = await serveGateway(t.gateway);
});

afterAll(async () => {
  for (const s of streams) s.close();
  server?.server.closeAllConnections();
  await new Promise((resolve) => server?.server.close(resolve));
  await t?.close();
});

function tail(key: string, variables: Parameters<typeof openTail>[2] = {}, read = true): TailStream {
  const s = openTail(server.url, key, variables, { read });
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
});
