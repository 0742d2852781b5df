// Reads served by a real streaming replica (DATABASE_REPLICA_URLS). A throwaway primary and a
// `pg_basebackup -R` hot standby of it run on ports of their own; a gateway in this process reads
// from the standby and writes to the primary. Checked: reads (GraphQL, REST GETs, counts) run on
// the replica (its pg_stat_activity and the gateway's metrics say so); a client that has just
// recorded an event sees it at once (routing by the primary's WAL position after the write);
// with replay paused the tenant that wrote reads from the primary, and once the replica lags past
// DATABASE_REPLICA_MAX_LAG_MS every read does and /readyz says so; the replica killed and
// restarted under read and write load costs no request, and reads return to it.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type Gateway, openGateway } from '../../src/gateway.ts';
import { testSecrets } from '../support/gateway.ts';
import { type Cluster, prepareDatabase, startCluster, startReplica } from './support.ts';

const MAX_LAG_MS = 1000;
type Tenant = { id: number; slug: string; key: string };

let primary: Cluster | undefined;
let replica: Cluster | undefined;
let gateway: Gateway | undefined;
let tenants: Tenant[];
let onReplica: postgres.Sql;

beforeAll(async () => {
  primary = await startCluster();
  const prepared = await prepareDatabase(primary, 'audit', [
    `rep-a-${randomBytes(3).toString('hex')}`,
    `rep-b-${randomBytes(3).toString('hex')}`,
  ]);
  tenants = prepared.tenants;
  replica = await startReplica(primary);
  onReplica = postgres(replica.url('audit'), { max: 1, onnotice: () => {} });
  gateway = await openGateway({
    config: loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: prepared.url,
      DATABASE_REPLICA_URLS: replica.url('audit'),
      DATABASE_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
      DATABASE_REPLICA_POLL_MS: '100',
      LOG_STREAMS: 'false',
      ...testSecrets(),
    }),
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await gateway?.close();
  await onReplica?.end({ timeout: 1 });
  await replica?.destroy();
  await primary?.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function call(path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const { key, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  return (gateway as Gateway).app.fetch(new Request(`http://gateway.test${path}`, { ...rest, headers }), {
    remoteAddress: '127.0.0.1',
  });
}

async function graphql<T>(key: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await call('/graphql', {
    method: 'POST',
    key,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (res.status !== 200 || body.errors || !body.data) {
    throw new Error(`GraphQL answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.data;
}

async function record(tenant: Tenant, action: string): Promise<string> {
  const data = await graphql<{ recordEvent: { id: string } }>(
    tenant.key,
    'mutation R($input: RecordEventInput!) { recordEvent(input: $input) { id } }',
    { input: { action } },
  );
  return data.recordEvent.id;
}

/** Ids and count of the tenant's events with this action, through GraphQL. */
async function listByAction(tenant: Tenant, action: string): Promise<{ ids: string[]; total: number }> {
  const data = await graphql<{ auditEvents: { totalCount: number; edges: { node: { id: string } }[] } }>(
    tenant.key,
    'query L($a: [String!]) { auditEvents(filter: { actions: $a }, first: 10) { totalCount edges { node { id } } } }',
    { a: [action] },
  );
  return { ids: data.auditEvents.edges.map((e) => e.node.id), total: data.auditEvents.totalCount };
}

/** Read counters of /metrics: served_by/reason → count. */
async function reads(): Promise<Record<string, number>> {
  const text = await (await call('/metrics')).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^agw_db_reads_total\{served_by="(\w+)",reason="(\w*)"\} (\d+)/gm)) {
    out[m[2] ? `${m[1]}/${m[2]}` : (m[1] as string)] = Number(m[3]);
  }
  return out;
}

const delta = (before: Record<string, number>, after: Record<string, number>, key: string) =>
  (after[key] ?? 0) - (before[key] ?? 0);

async function replicaState(): Promise<string> {
  const body = (await (await call('/readyz')).json()) as { replicas?: { state: string }[] };
  return body.replicas?.[0]?.state ?? 'absent';
}

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('reads on a streaming replica', () => {
  it('serves GraphQL queries, REST GETs and counts from the replica', async () => {
    const [a] = tenants as [Tenant];
    const id = await record(a, 'replica.routing');
    await waitFor('the replica to be ready', async () => (await replicaState()) === 'ready');
    // And to have replayed the write: a read checks the replay position with its first statement,
    // so on a busy machine the first reads after a write can be sent to the primary as `behind`
    // (what the next test checks), which is not what this one measures.
    await waitFor(
      'the replica to replay the event',
      async () => (await onReplica`select 1 from audit_events where id = ${id}`).length === 1,
    );
    const before = await reads();
    expect(await listByAction(a, 'replica.routing')).toEqual({ ids: [id], total: 1 });
    const one = await call(`/v1/audit/${id}`, { key: a.key });
    expect(one.status).toBe(200);
    const mural = await call('/enterprise/v1/audit-log?maxResults=5', {
      headers: { authorization: `apikey ${a.key}`, accept: 'application/json' },
    });
    expect(mural.status).toBe(200);
    expect(JSON.stringify(await mural.json())).toContain(id);
    const after = await reads();
    // The list and its count, the lookup by id, the Mural page (the key lookups stay on the primary).
    expect(delta(before, after, 'replica')).toBeGreaterThanOrEqual(4);
    expect(Object.keys(after).filter((k) => k.startsWith('primary') && delta(before, after, k) > 0)).toEqual(
      [],
    );
    // The replica's own view: the gateway's serving sessions are connected to it, as the serving role.
    const sessions = await onReplica<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
       where application_name = 'audit-gateway' and usename = 'postgres' and datname = 'audit'`;
    expect(sessions[0]?.n).toBeGreaterThan(0);
    const [role] = await onReplica<{ r: string }[]>`
      select distinct backend_type as r from pg_stat_activity where application_name = 'audit-gateway'`;
    expect(role?.r).toBe('client backend');
  });

  it('shows a client the event it has just recorded', async () => {
    const [a] = tenants as [Tenant];
    const before = await reads();
    for (let i = 0; i < 25; i++) {
      const action = `replica.ryw.${i}`;
      const id = await record(a, action);
      expect(await listByAction(a, action)).toEqual({ ids: [id], total: 1 });
    }
    const after = await reads();
    // Each read ran on the replica (it had replayed the write) or on the primary for that reason.
    const served = delta(before, after, 'replica') + delta(before, after, 'primary/behind');
    expect(served).toBeGreaterThanOrEqual(50);
  });

  it('sends a writer to the primary while replay is paused, and every read once the replica lags', async () => {
    const [a, b] = tenants as [Tenant, Tenant];
    await onReplica`select pg_wal_replay_pause()`;
    try {
      const before = await reads();
      const id = await record(a, 'replica.paused');
      // a just wrote: its reads must see the write, which the replica has not replayed.
      expect(await listByAction(a, 'replica.paused')).toEqual({ ids: [id], total: 1 });
      const mid = await reads();
      expect(delta(before, mid, 'primary/behind')).toBeGreaterThanOrEqual(2);
      expect(delta(before, mid, 'replica')).toBe(0);
      // b wrote nothing since: the replica may serve it while its lag is within the bound.
      expect((await listByAction(b, 'replica.paused')).total).toBe(0);
      await waitFor('the replica to be reported lagging', async () => (await replicaState()) === 'lagging');
      const readyz = (await (await call('/readyz')).json()) as {
        status: string;
        replicas: { state: string; lagMs: number }[];
      };
      expect(readyz.status).toBe('ready');
      expect(readyz.replicas[0]?.lagMs).toBeGreaterThan(MAX_LAG_MS);
      const metrics = await (await call('/metrics')).text();
      expect(metrics).toMatch(/agw_db_replica_state\{replica="[^"]+",state="lagging"\} 1/);
      expect(metrics).toMatch(/agw_db_replica_lag_seconds\{replica="[^"]+"\} [1-9]/);
      const lagging = await reads();
      expect((await listByAction(b, 'replica.paused')).total).toBe(0);
      expect(delta(lagging, await reads(), 'primary/none_ready')).toBeGreaterThanOrEqual(2);
    } finally {
      await onReplica`select pg_wal_replay_resume()`;
    }
    await waitFor('the replica to catch up', async () => (await replicaState()) === 'ready');
    const resumed = await reads();
    expect((await listByAction(b, 'replica.paused')).total).toBe(0);
    expect(delta(resumed, await reads(), 'replica')).toBeGreaterThanOrEqual(2);
  });

  it('fails no request while the replica is killed and restarted under load', async () => {
    const r = replica as Cluster;
    const failures: string[] = [];
    const states = new Set<string>();
    let stopping = false;
    let requests = 0;
    const before = await reads();

    const client = async (n: number) => {
      const tenant = tenants[n % tenants.length] as Tenant;
      for (let i = 0; !stopping; i++) {
        const action = `replica.load.${n}.${i}`;
        try {
          const id = await record(tenant, action);
          const listed = await listByAction(tenant, action);
          if (listed.total !== 1 || listed.ids[0] !== id)
            failures.push(`${action}: listed ${JSON.stringify(listed)}`);
          const one = await call(`/v1/audit/${id}`, { key: tenant.key });
          if (one.status !== 200) failures.push(`${action}: GET by id answered ${one.status}`);
          requests += 3;
        } catch (error) {
          failures.push(`${action}: ${(error as Error).message}`);
        }
      }
    };
    const watcher = async () => {
      while (!stopping) {
        const res = await call('/readyz');
        if (res.status !== 200) failures.push(`/readyz answered ${res.status}`);
        states.add(((await res.json()) as { replicas: { state: string }[] }).replicas[0]?.state ?? '');
        await sleep(50);
      }
    };
    const load = [0, 1, 2, 3].map(client);
    const watching = watcher();
    await sleep(1500);
    await r.crash();
    await sleep(2500);
    const down = await reads();
    await r.start();
    await waitFor('the restarted replica to be ready', async () => (await replicaState()) === 'ready');
    await sleep(1500);
    stopping = true;
    await Promise.all([...load, watching]);
    const after = await reads();

    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(100);
    expect(states).toContain('down');
    // Reads ran on the replica before the crash, fell back to the primary, and returned to it.
    expect(delta(before, down, 'replica')).toBeGreaterThan(0);
    expect(
      delta(before, after, 'primary/none_ready') + delta(before, after, 'primary/replica_failed'),
    ).toBeGreaterThan(0);
    expect(delta(down, after, 'replica')).toBeGreaterThan(0);
  });
});
