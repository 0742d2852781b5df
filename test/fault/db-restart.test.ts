// Nothing acknowledged is lost when the database crashes. A real gateway process serves a
// throwaway Postgres cluster while clients ingest over GraphQL (recordEvent with idempotencyKey),
// the Replicated REST route (Idempotency-Key) and the batch route (Idempotency-Key), retrying
// every failure with the same key. The cluster is killed (`pg_ctl stop -m immediate`) and
// restarted twice under that load. Afterwards every acknowledged event is stored exactly once and
// nothing else is stored; no request takes more than 5 s (down, restarting or up), ingest answers
// 503 with Retry-After while the database is down, /readyz fails, /healthz stays up, and service
// resumes without a gateway restart. FAULT_DEBUG=1 prints the slowest requests against the timeline.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../../src/audit/viewer.ts';
import { loadConfig } from '../../src/config.ts';
import { openGateway } from '../../src/gateway.ts';
import { testSecrets } from '../support/gateway.ts';
import {
  type Cluster,
  type GatewayProcess,
  killGateway,
  prepareDatabase,
  spawnGateway,
  startCluster,
} from './support.ts';

const KINDS = ['graphql', 'rest', 'batch'] as const;
type Kind = (typeof KINDS)[number];
const CLIENTS_PER_KIND = 4;
const BATCH_SIZE = 3;
/** No request may take longer than this, outage or not (they take about 1 s at worst). */
const MAX_REQUEST_MS = 5000;
const OUTAGE_MS = 4000;
const RETRY_PAUSE_MS = 200;

type Tenant = { id: number; slug: string; key: string };

type Attempt = {
  kind: Kind;
  key: string;
  started: number;
  ended: number;
  /** HTTP status, or the client-side failure. */
  status: number | 'network-error' | 'timeout';
  retryAfter: string | null;
  acked: boolean;
  /** Batch events the gateway had already stored under their key (a retry of a commit in doubt). */
  replayed?: number;
  detail?: string;
};

type Outage = { killAt: number; downAt: number; restartAt: number; upAt: number; recoveredAt: number };

let cluster: Cluster | undefined;
let gateway: GatewayProcess | undefined;
let dbUrl: string;
let tenants: Tenant[];
const secrets = testSecrets();

beforeAll(async () => {
  cluster = await startCluster();
  const prepared = await prepareDatabase(cluster, 'audit', [
    `fault-a-${randomBytes(3).toString('hex')}`,
    `fault-b-${randomBytes(3).toString('hex')}`,
  ]);
  dbUrl = prepared.url;
  tenants = prepared.tenants;
  gateway = await spawnGateway({ DATABASE_URL: dbUrl, ...secrets });
});

afterAll(async () => {
  killGateway(gateway);
  await cluster?.destroy();
});

const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One ingest request; never throws. `acked` lists the idempotency keys (and ids) it stored. */
async function ingest(
  kind: Kind,
  key: string,
  tenant: Tenant,
): Promise<{ attempt: Attempt; acked: { key: string; id?: string }[] }> {
  const base = gateway?.url as string;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${tenant.key}` };
  const started = now();
  const attempt: Attempt = { kind, key, started, ended: 0, status: 0, retryAfter: null, acked: false };
  let acked: { key: string; id?: string }[] = [];
  try {
    const signal = AbortSignal.timeout(MAX_REQUEST_MS + 5000);
    let res: Response;
    if (kind === 'graphql') {
      res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers,
        signal,
        body: JSON.stringify({
          query: 'mutation Fault($input: RecordEventInput!) { recordEvent(input: $input) { id } }',
          variables: { input: { action: 'fault.graphql', idempotencyKey: key, metadata: { key } } },
        }),
      });
      const body = (await res.json()) as { data?: { recordEvent?: { id: string } } | null; errors?: unknown };
      const id = body.data?.recordEvent?.id;
      if (res.status === 200 && id && !body.errors) acked = [{ key, id }];
      else if (res.status !== 503) attempt.detail = JSON.stringify(body);
    } else if (kind === 'rest') {
      res = await fetch(`${base}/audit/v1/event`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': key },
        signal,
        body: JSON.stringify({ action: 'fault.rest', name: key }),
      });
      const text = await res.text();
      if (res.status === 201) acked = [{ key }];
      else if (res.status !== 503) attempt.detail = text;
    } else {
      res = await fetch(`${base}/audit/v1/events`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': key },
        signal,
        body: JSON.stringify({
          events: Array.from({ length: BATCH_SIZE }, (_, i) => ({ action: 'fault.batch', metadata: { i } })),
        }),
      });
      const body = (await res.json()) as { results?: { index: number; status: string; id?: string }[] };
      const results = body.results ?? [];
      if (
        res.status === 200 &&
        results.length === BATCH_SIZE &&
        results.every((r) => r.status === 'stored' || r.status === 'replayed')
      ) {
        acked = results.map((r) => ({ key: `${key}:${r.index}`, id: r.id as string }));
        attempt.replayed = results.filter((r) => r.status === 'replayed').length;
      } else if (res.status !== 503) attempt.detail = JSON.stringify(body);
    }
    attempt.status = res.status;
    attempt.retryAfter = res.headers.get('retry-after');
  } catch (error) {
    const name = (error as Error).name;
    attempt.status = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network-error';
    attempt.detail = String((error as Error).cause ?? error);
  }
  attempt.ended = now();
  attempt.acked = acked.length > 0;
  return { attempt, acked };
}

describe('ingest while the database is killed and restarted twice', () => {
  it('loses nothing acknowledged, stores nothing twice, answers 503 quickly and recovers alone', async () => {
    const g = gateway as GatewayProcess;
    const db = cluster as Cluster;
    const pid = g.child.pid;
    const attempts: Attempt[] = [];
    /** idempotency key → what the client was told. */
    const acknowledged = new Map<string, { tenant: number; id?: string }>();
    const unfinished = new Set<string>();
    const ackedTwice: string[] = [];
    let stopping = false;

    const client = async (kind: Kind, n: number) => {
      const tenant = tenants[n % tenants.length] as Tenant;
      for (let i = 0; !stopping; i++) {
        const key = `${kind}-${n}-${i}`;
        unfinished.add(key);
        // Retry with the same key until acknowledged, as a client that must not lose the event.
        for (let tries = 0; ; tries++) {
          const { attempt, acked } = await ingest(kind, key, tenant);
          attempts.push(attempt);
          if (acked.length > 0) {
            for (const a of acked) {
              if (acknowledged.has(a.key)) ackedTwice.push(a.key);
              acknowledged.set(a.key, { tenant: tenant.id, ...(a.id ? { id: a.id } : {}) });
            }
            unfinished.delete(key);
            break;
          }
          if (tries > 300) return; // reported below as unfinished
          await sleep(RETRY_PAUSE_MS);
        }
      }
    };

    const probes: { path: string; started: number; ended: number; status: number | 'error' }[] = [];
    const probe = async (probePath: string) => {
      const started = now();
      let status: number | 'error';
      try {
        status = (await fetch(`${g.url}${probePath}`, { signal: AbortSignal.timeout(MAX_REQUEST_MS) }))
          .status;
      } catch {
        status = 'error';
      }
      probes.push({ path: probePath, started, ended: now(), status });
      return status;
    };

    const ackedSince = (kind: Kind, t: number) =>
      attempts.some((a) => a.kind === kind && a.acked && a.started >= t);
    const waitFor = async (what: string, condition: () => boolean, ms: number) => {
      const deadline = now() + ms;
      while (!condition()) {
        if (now() > deadline) {
          const recent = attempts.slice(-12).map((a) => `${a.kind} ${a.status} ${a.detail ?? ''}`);
          throw new Error(
            `timed out waiting for ${what}; last answers:\n${recent.join('\n')}\n${g.output()}`,
          );
        }
        await sleep(50);
      }
    };

    const began = now();
    const clients = KINDS.flatMap((kind) =>
      Array.from({ length: CLIENTS_PER_KIND }, (_, n) => client(kind, n)),
    );
    await waitFor('the first acknowledgements', () => KINDS.every((k) => ackedSince(k, began)), 30_000);
    await sleep(1000);

    const outages: Outage[] = [];
    for (let round = 0; round < 2; round++) {
      const killAt = now();
      await db.crash();
      const downAt = now();
      while (now() - downAt < OUTAGE_MS) {
        await Promise.all([probe('/readyz'), probe('/healthz')]);
        await sleep(250);
      }
      const restartAt = now();
      await db.start();
      const upAt = now();
      await waitFor(
        `ingest to resume after restart ${round + 1}`,
        () => KINDS.every((k) => ackedSince(k, upAt)),
        30_000,
      );
      const recoveredAt = now();
      outages.push({ killAt, downAt, restartAt, upAt, recoveredAt });
      // Let load run on the recovered database before the next crash (or the end).
      await sleep(1500);
    }
    const readyBy = now() + 15_000;
    let ready = await probe('/readyz');
    while (ready !== 200 && now() < readyBy) {
      await sleep(200);
      ready = await probe('/readyz');
    }

    stopping = true;
    await Promise.all(clients);
    const elapsed = now() - began;

    // ---- The gateway process never restarted.
    expect(g.child.pid).toBe(pid);
    expect(g.child.exitCode, g.output()).toBeNull();
    expect(ready).toBe(200);

    // ---- Every answer was an acknowledgement or a quick 503 with Retry-After; nothing hung.
    const anomalies = attempts.filter((a) => !a.acked && a.status !== 503);
    expect(anomalies, JSON.stringify(anomalies.slice(0, 5), null, 1)).toEqual([]);
    const unavailable = attempts.filter((a) => a.status === 503);
    expect(unavailable.filter((a) => !/^[1-9]\d*$/.test(a.retryAfter ?? ''))).toEqual([]);
    const slowest = Math.max(...attempts.map((a) => a.ended - a.started));
    expect(slowest).toBeLessThan(MAX_REQUEST_MS);

    for (const [i, o] of outages.entries()) {
      // The crash hit requests in flight (their outcome is the interesting one: acknowledged or not).
      const hit = attempts.filter((a) => a.started < o.killAt && a.ended > o.killAt);
      expect(hit.length, `requests in flight at crash ${i + 1}`).toBeGreaterThan(0);
      // Requests made entirely while the server was down: each one a 503 with Retry-After.
      const during = attempts.filter((a) => a.started >= o.downAt && a.ended <= o.restartAt);
      expect(during.length, `requests during outage ${i + 1}`).toBeGreaterThanOrEqual(KINDS.length * 3);
      for (const kind of KINDS)
        expect(
          during.some((a) => a.kind === kind),
          kind,
        ).toBe(true);
      expect(during.filter((a) => a.status !== 503)).toEqual([]);
      const inOutage = probes.filter((p) => p.started >= o.downAt && p.ended <= o.restartAt);
      expect(inOutage.filter((p) => p.path === '/readyz').length).toBeGreaterThanOrEqual(2);
      expect(inOutage.filter((p) => p.path === '/readyz' && p.status !== 503)).toEqual([]);
      expect(inOutage.filter((p) => p.path === '/healthz').length).toBeGreaterThanOrEqual(2);
      expect(inOutage.filter((p) => p.path === '/healthz' && p.status !== 200)).toEqual([]);
      expect(o.recoveredAt - o.upAt).toBeLessThan(15_000);
    }
    expect(probes.filter((p) => p.path === '/healthz' && p.status !== 200)).toEqual([]);

    // ---- Every acknowledged event is stored exactly once, and nothing else is stored.
    expect([...unfinished]).toEqual([]);
    expect(ackedTwice).toEqual([]);
    const su = postgres(dbUrl, { max: 1, onnotice: () => {} });
    let stored: { tenant_id: number; idempotency_key: string | null; id: string }[];
    try {
      stored = await su`select tenant_id, idempotency_key, id::text as id from audit_events`;
    } finally {
      await su.end();
    }
    const byKey = new Map<string, typeof stored>();
    for (const row of stored) {
      const k = `${row.tenant_id}/${row.idempotency_key}`;
      byKey.set(k, [...(byKey.get(k) ?? []), row]);
    }
    expect(stored.filter((r) => r.idempotency_key === null)).toEqual([]);
    expect([...byKey.entries()].filter(([, rows]) => rows.length !== 1)).toEqual([]);
    const missing = [...acknowledged.entries()].filter(([key, ack]) => {
      const rows = byKey.get(`${ack.tenant}/${key}`);
      return !rows || (ack.id !== undefined && rows[0]?.id !== ack.id);
    });
    expect(missing).toEqual([]);
    expect(stored.length).toBe(acknowledged.size);

    // ---- Each tenant's hash chain is intact across the crashes (no gap, no torn append).
    const verifier = await openGateway({
      config: loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: dbUrl,
        MIGRATE_ON_START: 'false',
        ...secrets,
      }),
      logger: pino({ level: 'silent' }),
    });
    try {
      for (const tenant of tenants) {
        const report = await verifier.chain.verify(operatorViewer(tenant));
        expect(report.intact, JSON.stringify(report.break)).toBe(true);
        expect(report.eventsChecked).toBe(stored.filter((r) => r.tenant_id === tenant.id).length);
      }
    } finally {
      await verifier.close();
    }

    const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    if (process.env.FAULT_DEBUG) {
      const rel = (t: number) =>
        outages
          .map((o, i) => `o${i + 1}:${fmt(t - o.killAt)}/${fmt(t - o.restartAt)}/${fmt(t - o.upAt)}`)
          .join(' ');
      const slow = [...attempts].sort((a, b) => b.ended - b.started - (a.ended - a.started)).slice(0, 8);
      for (const a of slow) console.info(a.kind, a.status, fmt(a.ended - a.started), 'start', rel(a.started));
    }
    console.info(
      [
        `${attempts.length} requests in ${fmt(elapsed)}, ${acknowledged.size} events acknowledged and stored once`,
        `${unavailable.length} answered 503 + Retry-After; slowest request ${fmt(slowest)}`,
        `${attempts.reduce((n, a) => n + (a.replayed ?? 0), 0)} batch events were found already stored on retry`,
        ...outages.map(
          (o, i) =>
            `outage ${i + 1}: ${attempts.filter((a) => a.started < o.killAt && a.ended > o.killAt).length} requests in flight at the crash, down ${fmt(o.restartAt - o.downAt)}, restart took ${fmt(o.upAt - o.restartAt)}, ` +
            `every kind acknowledged again ${fmt(o.recoveredAt - o.upAt)} after the server was up`,
        ),
      ].join('\n'),
    );
  });

  it('answers 503 at once, not after the recovery, while the restarted server is still recovering', async () => {
    // Connections with a query in flight at the crash are the ones that once waited the recovery out.
    const g = gateway as GatewayProcess;
    const db = cluster as Cluster;
    const tenant = tenants[0] as Tenant;
    const attempts: Attempt[] = [];
    const acknowledged: string[] = [];
    let stopping = false;
    const load = KINDS.flatMap((kind) =>
      Array.from({ length: CLIENTS_PER_KIND }, async (_, n) => {
        for (let i = 0; !stopping; i++) {
          const { attempt, acked } = await ingest(kind, `recovering-${kind}-${n}-${i}`, tenant);
          attempts.push(attempt);
          acknowledged.push(...acked.map((a) => a.key));
          if (!attempt.acked) await sleep(RETRY_PAUSE_MS);
        }
      }),
    );
    await sleep(1000);
    await db.crash();
    await db.startInRecovery();
    const recoveringAt = now();
    const readiness: (number | 'error')[] = [];
    while (now() - recoveringAt < 3000) {
      readiness.push(
        await fetch(`${g.url}/readyz`, { signal: AbortSignal.timeout(MAX_REQUEST_MS) }).then(
          (r) => r.status,
          () => 'error' as const,
        ),
      );
      await sleep(250);
    }
    stopping = true;
    await Promise.all(load);

    // Every request, those the crash interrupted included, was answered quickly: stored or 503.
    const late = attempts.filter(
      (a) => !(a.acked || a.status === 503) || a.ended - a.started > MAX_REQUEST_MS,
    );
    expect(late, JSON.stringify(late.slice(0, 5), null, 1)).toEqual([]);
    const during = attempts.filter((a) => a.started >= recoveringAt);
    expect(during.length).toBeGreaterThanOrEqual(KINDS.length * 3);
    expect(during.filter((a) => a.status !== 503)).toEqual([]);
    expect(during.filter((a) => !/^[1-9]\d*$/.test(a.retryAfter ?? ''))).toEqual([]);
    expect(readiness.length).toBeGreaterThanOrEqual(2);
    expect(readiness.filter((s) => s !== 503)).toEqual([]);

    // Out of recovery, ingest works again, and what was acknowledged meanwhile is stored once.
    await db.stop();
    await db.start();
    const deadline = now() + 15_000;
    let resumed = await ingest('rest', 'recovering-after', tenant);
    while (!resumed.attempt.acked && now() < deadline) {
      await sleep(RETRY_PAUSE_MS);
      resumed = await ingest('rest', 'recovering-after', tenant);
    }
    expect(resumed.attempt.status).toBe(201);
    acknowledged.push('recovering-after');
    const su = postgres(dbUrl, { max: 1, onnotice: () => {} });
    try {
      const stored = await su<{ k: string; n: number }[]>`
        select idempotency_key as k, count(*)::int as n from audit_events
         where tenant_id = ${tenant.id} and idempotency_key like 'recovering-%' group by 1`;
      const counts = new Map(stored.map((r) => [r.k, r.n]));
      expect(acknowledged.filter((k) => counts.get(k) !== 1)).toEqual([]);
    } finally {
      await su.end();
    }
  });
});
