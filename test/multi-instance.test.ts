// Two gateway instances on one Postgres database, as behind a load balancer: both ingest into the
// same tenants at once through every write surface (GraphQL recordEvent and recordEvents, the
// Replicated single and batch routes), with group commit (always on), the checkpoint sweep and
// log-stream delivery running in both. Some requests are sent to both instances at once with the
// same idempotency key. Afterwards: every acknowledged event is stored once (a key sent twice
// names one event), sequence numbers have no gap, chains verify, no checkpoint was signed twice
// for one due point, one instance sweeps at a time, and each log stream got every event in order
// from one delivery at a time. (An embedded database has one process, so this is Postgres only.)
import { pino } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { loadConfig } from '../src/config.ts';
import { type Gateway, openGateway } from '../src/gateway.ts';
import { createTestDatabase, dbKind, testSecrets } from './support/gateway.ts';
import { FAST_STREAMS, newTenant } from './support/log-stream-gateways.ts';
import { deliveredInOrder, eventually, type Receiver, startReceiver } from './support/log-stream-receiver.ts';

const EVERY_EVENTS = 20;
const INTERVAL_SECONDS = 1;
const LOAD_MS = 3000;

type Tenant = Awaited<ReturnType<typeof newTenant>>;

let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
const instances: Gateway[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  if (dbKind !== 'postgres') return;
  database = await createTestDatabase();
  const secrets = testSecrets();
  for (let i = 0; i < 2; i++) {
    instances.push(
      await openGateway({
        config: loadConfig({
          NODE_ENV: 'test',
          DEMO_SEED: 'false',
          LOG_LEVEL: 'silent',
          AUTH_FAILURES_PER_MINUTE: '100000',
          DATABASE_URL: database.url,
          CHECKPOINT_EVERY_EVENTS: String(EVERY_EVENTS),
          CHECKPOINT_INTERVAL_SECONDS: String(INTERVAL_SECONDS),
          ...FAST_STREAMS,
          ...secrets,
        }),
        logger: pino({ level: 'silent' }),
        sweepCheckpoints: true,
      }),
    );
  }
});

afterAll(async () => {
  for (const g of instances) await g.close();
  await Promise.all(receivers.map((r) => r.close()));
  await database?.drop();
});

function post(g: Gateway, path: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  return g.app.fetch(
    new Request(`http://gateway.test${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify(body),
    }),
    { remoteAddress: '127.0.0.1' },
  );
}

const SURFACES = ['recordEvent', 'recordEvents', 'rest', 'rest-batch'] as const;
type Surface = (typeof SURFACES)[number];

/** One request; returns idempotency key → event id ('' when the surface does not say) for what it acknowledged. */
async function ingest(
  g: Gateway,
  surface: Surface,
  tenant: Tenant,
  key: string,
): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  const action = `multi.${surface}`;
  if (surface === 'recordEvent' || surface === 'recordEvents') {
    const inputs =
      surface === 'recordEvent'
        ? [{ action, idempotencyKey: key }]
        : [0, 1, 2].map((i) => ({ action, idempotencyKey: `${key}:${i}` }));
    const query =
      surface === 'recordEvent'
        ? 'mutation M($input: RecordEventInput!) { recordEvent(input: $input) { id } }'
        : 'mutation M($inputs: [RecordEventInput!]!) { recordEvents(inputs: $inputs) { __typename ... on RecordEventSuccess { index event { id } } } }';
    const res = await post(g, '/graphql', tenant.key, {
      query,
      variables: surface === 'recordEvent' ? { input: inputs[0] } : { inputs },
    });
    const body = (await res.json()) as {
      data?: {
        recordEvent?: { id: string };
        recordEvents?: { __typename: string; index: number; event?: { id: string } }[];
      };
      errors?: unknown;
    };
    if (res.status !== 200 || body.errors)
      throw new Error(`${surface}: ${res.status} ${JSON.stringify(body)}`);
    if (body.data?.recordEvent) acked.set(key, body.data.recordEvent.id);
    for (const r of body.data?.recordEvents ?? []) {
      if (r.__typename !== 'RecordEventSuccess' || !r.event)
        throw new Error(`${surface}: ${JSON.stringify(r)}`);
      acked.set(`${key}:${r.index}`, r.event.id);
    }
  } else if (surface === 'rest') {
    const res = await post(
      g,
      '/audit/v1/event',
      tenant.key,
      { action, name: key },
      { 'idempotency-key': key },
    );
    const text = await res.text();
    if (res.status !== 201) throw new Error(`${surface}: ${res.status} ${text}`);
    // Replicated's contract answers without the id: the key names the event.
    acked.set(key, '');
  } else {
    const res = await post(
      g,
      '/audit/v1/events',
      tenant.key,
      { events: [0, 1, 2].map(() => ({ action })) },
      { 'idempotency-key': key },
    );
    const body = (await res.json()) as { results?: { index: number; status: string; id?: string }[] };
    const results = body.results ?? [];
    if (
      res.status !== 200 ||
      results.length !== 3 ||
      results.some((r) => !r.id || (r.status !== 'stored' && r.status !== 'replayed'))
    ) {
      throw new Error(`${surface}: ${res.status} ${JSON.stringify(body)}`);
    }
    for (const r of results) acked.set(`${key}:${r.index}`, r.id as string);
  }
  return acked;
}

describe.runIf(dbKind === 'postgres')('two instances on one database', () => {
  it('store every acknowledged event once, without gaps, with verifying chains and checkpoints signed once', async () => {
    const [a, b] = instances as [Gateway, Gateway];
    const tenants = await Promise.all([1, 2, 3].map(() => newTenant(a, 'multi')));
    for (const tenant of tenants) {
      const r = await startReceiver();
      receivers.push(r);
      const { secret } = await b.streams.create(operatorViewer(tenant), {
        name: 'siem',
        webhook: { url: r.url },
        startFrom: 'beginning',
      });
      r.secret = secret ?? undefined;
    }

    /** tenant id → idempotency key → event id, as acknowledged. */
    const acknowledged = new Map<number, Map<string, string>>(tenants.map((t) => [t.id, new Map()]));
    const failures: string[] = [];
    const stopAt = Date.now() + LOAD_MS;
    const client = async (n: number) => {
      for (let i = 0; Date.now() < stopAt; i++) {
        const tenant = tenants[(n + i) % tenants.length] as Tenant;
        const surface = SURFACES[(n + i) % SURFACES.length] as Surface;
        const key = `c${n}-${i}`;
        // Every fifth request goes to both instances at once with the same key, as a client
        // retrying through the load balancer before the first answer came back.
        const targets = i % 5 === 0 ? [a, b] : [instances[n % 2] as Gateway];
        try {
          const answers = await Promise.all(targets.map((g) => ingest(g, surface, tenant, key)));
          const mine = acknowledged.get(tenant.id) as Map<string, string>;
          for (const answer of answers) {
            for (const [k, id] of answer) {
              const earlier = mine.get(k);
              if (earlier && id && earlier !== id)
                failures.push(`${k}: acknowledged as ${earlier} and as ${id}`);
              if (!earlier || id) mine.set(k, id);
            }
          }
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5].map(client));
    expect(failures).toEqual([]);

    const owner = postgres(database?.url as string, { max: 1, onnotice: () => {} });
    try {
      for (const tenant of tenants) {
        const mine = acknowledged.get(tenant.id) as Map<string, string>;
        const rows = await owner<{ id: string; seq: string; idempotency_key: string | null }[]>`
          select id, seq, idempotency_key from audit_events where tenant_id = ${tenant.id} order by seq`;
        // Stored once: exactly the acknowledged events (every one carries its idempotency key),
        // each under the id it was acknowledged with.
        const byKey = new Map(rows.map((r) => [r.idempotency_key, r.id]));
        expect(byKey.size).toBe(rows.length);
        expect([...byKey.keys()].sort()).toEqual([...mine.keys()].sort());
        for (const [k, id] of mine) if (id) expect(byKey.get(k), k).toBe(id);
        expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));

        const report = await a.chain.verify(operatorViewer(tenant));
        expect(report.status).toBe('intact');
        expect(report.headSequence).toBe(rows.length);

        const checkpoints = await owner<{ seq: string; signed_at: Date }[]>`
          select seq, signed_at from chain_checkpoints
           where tenant_id = ${tenant.id} and kind = 'checkpoint' order by seq`;
        expect(checkpoints.length).toBeGreaterThan(1);
        for (let i = 1; i < checkpoints.length; i++) {
          const [prev, next] = [checkpoints[i - 1], checkpoints[i]] as [
            (typeof checkpoints)[0],
            (typeof checkpoints)[0],
          ];
          // Each was due when signed: enough events since the previous, or enough time.
          const events = Number(next.seq) - Number(prev.seq);
          const ms = next.signed_at.getTime() - prev.signed_at.getTime();
          expect(
            events >= EVERY_EVENTS || ms >= INTERVAL_SECONDS * 1000,
            `checkpoint at ${next.seq} was due`,
          ).toBe(true);
        }
      }
    } finally {
      await owner.end();
    }

    // Log streams: every event, in order, one delivery at a time, whichever instance delivered.
    await eventually(
      () =>
        tenants.every((t, i) =>
          deliveredInOrder(receivers[i]?.events() ?? [], acknowledged.get(t.id)?.size ?? 0),
        ),
      50,
    );
    for (const r of receivers) {
      expect(r.maxInFlight).toBe(1);
      expect(r.badSignatures).toBe(0);
    }
  });

  it('run a scheduled job in one instance at a time', async () => {
    const [a, b] = instances as [Gateway, Gateway];
    let second: boolean | undefined;
    const first = await a.database.exclusive('multi-instance-test', async () => {
      second = await b.database.exclusive('multi-instance-test', async () => {});
    });
    expect({ first, second }).toEqual({ first: true, second: false });
    // Released when the first is done: the other instance's next sweep runs.
    expect(await b.database.exclusive('multi-instance-test', async () => {})).toBe(true);
  });
});
