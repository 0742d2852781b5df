// Two gateway instances on one Postgres database, both running a delivery worker: each stream is
// delivered by exactly one of them at a time, positions only advance, and when the instance
// delivering a stream dies, the other takes over after its lease runs out and nothing is skipped.
// (An embedded database has one process, so this is Postgres only.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import type { Gateway } from '../src/gateway.ts';
import { dbKind } from './support/gateway.ts';
import { newTenant, type SharedDatabase, sharedDatabase } from './support/log-stream-gateways.ts';
import { deliveredInOrder, eventually, type Receiver, startReceiver } from './support/log-stream-receiver.ts';

let shared: SharedDatabase;
let first: Gateway;
let second: Gateway;
const receivers: Receiver[] = [];

beforeAll(async () => {
  if (dbKind !== 'postgres') return;
  shared = await sharedDatabase();
  first = await shared.open();
  second = await shared.open({ LOG_STREAM_POLL_MS: '15' });
});

afterAll(async () => {
  await first?.close();
  await second?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await shared?.drop();
});

async function record(g: Gateway, tenant: { id: number; slug: string }, count: number) {
  const results = await g.audit.recordEvents(
    operatorViewer(tenant),
    Array.from({ length: count }, (_, i) => ({ action: `two.instances-${i % 2}` })),
  );
  expect(results.every((r) => r.ok)).toBe(true);
}

describe.runIf(dbKind === 'postgres')('log streams: two instances', () => {
  it('never deliver one stream at the same time, only advance positions, and lose nothing when one dies', async () => {
    const tenants = await Promise.all([1, 2, 3, 4].map(() => newTenant(first)));
    const streams: { tenant: (typeof tenants)[number]; r: Receiver; id: string }[] = [];
    for (const tenant of tenants) {
      const r = await startReceiver();
      receivers.push(r);
      // Slow enough that both instances' polls come by while a batch is in flight.
      r.delayMs = 25;
      const { stream, secret } = await first.streams.create(operatorViewer(tenant), {
        name: 'siem',
        webhook: { url: r.url },
        startFrom: 'beginning',
      });
      r.secret = secret ?? undefined;
      streams.push({ tenant, r, id: stream.id });
    }
    // Both instances ingest, as behind a load balancer.
    for (const { tenant } of streams) {
      await record(first, tenant, 150);
      await record(second, tenant, 150);
    }

    const positions = new Map<string, number[]>();
    const watch = setInterval(async () => {
      for (const { tenant, id } of streams) {
        const [s] = await first.streams.list(operatorViewer(tenant)).catch(() => []);
        if (s) positions.set(id, [...(positions.get(id) ?? []), s.position]);
      }
    }, 20);

    // Once delivery is under way, the first instance dies as in a crash (its lease is not released).
    await eventually(() => streams.every((s) => s.r.batches.length >= 1));
    await first.streamWorker?.kill();
    for (const { tenant } of streams) await record(second, tenant, 50);

    try {
      await eventually(async () => {
        const all = await Promise.all(streams.map((s) => second.streams.list(operatorViewer(s.tenant))));
        return all.every(([s]) => s?.position === 350);
      }, 50);
    } finally {
      clearInterval(watch);
    }

    for (const { r, id } of streams) {
      expect(r.maxInFlight, 'one delivery at a time per stream').toBe(1);
      expect(r.badSignatures).toBe(0);
      expect(deliveredInOrder(r.events(), 350)).toBe(true);
      const seen = positions.get(id) ?? [];
      expect(
        seen.every((p, i) => i === 0 || p >= (seen[i - 1] as number)),
        'positions only advance',
      ).toBe(true);
    }
  });
});
