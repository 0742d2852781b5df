// Two gateway instances on one Postgres database: an event recorded through A reaches a live tail
// on B (woken by NOTIFY, not by its poll), and a stream dropped on A resumes on B from its last
// cursor with nothing missed or repeated. (An embedded database has one process: Postgres only.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import type { Gateway } from '../src/gateway.ts';
import type { RunningServer } from '../src/http/server.ts';
import { dbKind } from './support/gateway.ts';
import { openTail, serveGateway, type TailStream } from './support/live-tail-client.ts';
import { newTenant, type SharedDatabase, sharedDatabase } from './support/log-stream-gateways.ts';

let shared: SharedDatabase;
let a: Gateway;
let b: Gateway;
let serverA: RunningServer;
let serverB: RunningServer;
const streams: TailStream[] = [];

beforeAll(async () => {
  if (dbKind !== 'postgres') return;
  shared = await sharedDatabase();
  // A poll of a minute: whatever B delivers within seconds, NOTIFY woke it for.
  const slowPoll = { LOG_STREAMS: 'false', LIVE_TAIL_POLL_MS: '60000' };
  a = await shared.open(slowPoll);
  b = await shared.open(slowPoll);
  serverA = await serveGateway(a);
  serverB = await serveGateway(b);
});

afterAll(async () => {
  for (const s of streams) s.close();
  await serverA?.stop('test over');
  await serverB?.stop('test over');
  await shared?.drop();
});

function tail(server: RunningServer, key: string, variables: Parameters<typeof openTail>[2] = {}) {
  const s = openTail(server.url, key, variables);
  streams.push(s);
  return s;
}

async function record(g: Gateway, tenant: { id: number; slug: string }, prefix: string, count: number) {
  const results = await g.audit.recordEvents(
    operatorViewer(tenant),
    Array.from({ length: count }, (_, i) => ({ action: `${prefix}.${i}` })),
  );
  expect(results.every((r) => r.ok)).toBe(true);
}

describe.runIf(dbKind === 'postgres')('live tail: two instances', () => {
  it('delivers an event recorded through A to a subscriber on B, woken by NOTIFY', async () => {
    const tenant = await newTenant(a, 'tail2');
    const onB = tail(serverB, tenant.readKey);
    await onB.opened();
    await record(a, tenant, 'from-a', 3);
    // Within 5 s, with B polling once a minute.
    const got = await onB.edges(3, 5000);
    expect(got.map((e) => e.node.action)).toEqual(['from-a.0', 'from-a.1', 'from-a.2']);
  });

  it('resumes on B from the last cursor a stream on A delivered, while both ingest', async () => {
    const tenant = await newTenant(a, 'switch');
    const onA = tail(serverA, tenant.readKey);
    await onA.opened();
    await record(a, tenant, 'a', 4);
    const seen = await onA.edges(4);
    onA.close();
    await record(b, tenant, 'b', 3);
    await record(a, tenant, 'a2', 3);
    const onB = tail(serverB, tenant.readKey, { after: seen[3]?.cursor as string });
    await onB.opened();
    await record(b, tenant, 'b2', 2);
    expect((await onB.edges(8)).map((e) => e.node.sequence)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('keeps subscribers on both instances gapless while both ingest for several tenants', async () => {
    const tenants = await Promise.all([1, 2, 3].map(() => newTenant(a, 'both')));
    const subs = tenants.flatMap((tenant) => [tail(serverA, tenant.readKey), tail(serverB, tenant.key)]);
    await Promise.all(subs.map((s) => s.opened()));
    await Promise.all(
      tenants.flatMap((tenant) =>
        [a, b].map(async (g, w) => {
          for (let i = 0; i < 6; i++) await record(g, tenant, `w${w}`, 5);
        }),
      ),
    );
    for (const s of subs) {
      expect((await s.edges(60)).map((e) => e.node.sequence)).toEqual(
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
    }
  });
});
