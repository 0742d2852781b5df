// Log streams to a webhook: a real HTTP receiver on a local port that fails on purpose, and real
// gateways on the test database. Every committed event must arrive, in sequence order, at least
// once, through failures, a receiver that is down, and a gateway killed mid-delivery.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import type { Gateway } from '../src/gateway.ts';
import { retryDelayMs } from '../src/streams/worker.ts';
import { graphql } from './gql/index.ts';
import { gql, newTenant, type SharedDatabase, sharedDatabase } from './support/log-stream-gateways.ts';
import { deliveredInOrder, eventually, type Receiver, startReceiver } from './support/log-stream-receiver.ts';

const CreateStream = graphql(`
  mutation CreateLogStream($input: CreateLogStreamInput!) {
    createLogStream(input: $input) {
      secret
      stream { id kind webhookUrl position lag }
    }
  }
`);

const StreamStatus = graphql(`
  query LogStreamStatus {
    logStreams {
      id
      name
      kind
      webhookUrl
      actions
      paused
      position
      lastDeliveredSeq
      lag
      failing
      lastError
      lastErrorAt
      nextRetryAt
    }
  }
`);

const DeleteStream = graphql(`
  mutation DeleteLogStream($id: ID!) {
    deleteLogStream(id: $id)
  }
`);

const PauseStream = graphql(`
  mutation PauseLogStream($id: ID!) {
    pauseLogStream(id: $id) { paused position nextRetryAt }
  }
`);

const ResumeStream = graphql(`
  mutation ResumeLogStream($id: ID!) {
    resumeLogStream(id: $id) { paused }
  }
`);

type Tenant = Awaited<ReturnType<typeof newTenant>>;

let shared: SharedDatabase;
let gateway: Gateway;
const receivers: Receiver[] = [];

beforeAll(async () => {
  shared = await sharedDatabase();
  gateway = await shared.open();
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await shared?.drop();
});

async function receiver() {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

async function record(
  g: Gateway,
  tenant: Tenant,
  count: number,
  action = (i: number) => `stream.test-${i % 3}`,
) {
  for (let done = 0; done < count; done += 200) {
    const n = Math.min(200, count - done);
    const results = await g.audit.recordEvents(
      operatorViewer(tenant),
      Array.from({ length: n }, (_, i) => ({ action: action(done + i), metadata: { i: done + i } })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
  }
}

async function createWebhook(g: Gateway, tenant: Tenant, r: Receiver, extra: Record<string, unknown> = {}) {
  const res = await gql(
    g,
    CreateStream,
    { input: { name: 'siem', webhook: { url: r.url }, startFrom: 'BEGINNING', ...extra } },
    tenant.key,
  );
  expect(res.errors).toBeUndefined();
  const created = res.data?.createLogStream;
  if (!created?.secret) throw new Error('no secret returned');
  r.secret = created.secret;
  return created;
}

async function status(g: Gateway, tenant: Tenant) {
  const res = await gql(g, StreamStatus, {}, tenant.readKey);
  expect(res.errors).toBeUndefined();
  const [stream] = res.data?.logStreams ?? [];
  if (!stream) throw new Error('no stream');
  return stream;
}

describe('log streams: webhook', () => {
  it('delivers every event in order once a failing receiver recovers, and shows the error and the retry meanwhile', async () => {
    const tenant = await newTenant(gateway);
    const other = await newTenant(gateway);
    const r = await receiver();
    r.failing = true;
    await record(gateway, tenant, 40);
    await record(gateway, other, 10);
    await createWebhook(gateway, tenant, r);

    await eventually(() => r.requests >= 3);
    const failing = await eventually(async () => {
      const s = await status(gateway, tenant);
      return s.failing && s.nextRetryAt !== null ? s : undefined;
    });
    expect(failing.lastError).toContain('500');
    expect(failing.position).toBe(0);
    expect(failing.lag).toBe(40);
    expect(r.batches).toEqual([]);

    r.failing = false;
    await record(gateway, tenant, 25);
    const caughtUp = await eventually(async () => {
      const s = await status(gateway, tenant);
      return s.position === 65 ? s : undefined;
    });
    expect(caughtUp).toMatchObject({ lastDeliveredSeq: 65, lag: 0, failing: false, nextRetryAt: null });
    expect(r.badSignatures).toBe(0);
    expect(deliveredInOrder(r.events(), 65)).toBe(true);
    expect(r.events().every((e) => e.tenant === tenant.slug)).toBe(true);
    for (const batch of r.batches) {
      expect(batch.tenant).toBe(tenant.slug);
      expect(batch.destination).toBe(caughtUp.id);
    }
  });

  it('delivers the backlog built up while the receiver was down', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    await createWebhook(gateway, tenant, r);
    await record(gateway, tenant, 5);
    await eventually(() => r.events().length >= 5);

    await r.down();
    await record(gateway, tenant, 150);
    const down = await eventually(async () => {
      const s = await status(gateway, tenant);
      return s.failing ? s : undefined;
    });
    // No answer at all (refused, or the connection closed under the request), not a status.
    expect(down.lastError).toMatch(/^POST \S+ failed: /);
    expect(down.position).toBe(5);

    await r.up();
    await eventually(async () => (await status(gateway, tenant)).position === 155);
    expect(deliveredInOrder(r.events(), 155)).toBe(true);
  });

  it('delivers only the actions in its filter, and its position passes the others', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    await createWebhook(gateway, tenant, r, { actions: ['stream.test-1'] });
    await record(gateway, tenant, 30);
    await eventually(async () => (await status(gateway, tenant)).position === 30);
    const sequences = r.events().map((e) => e.sequence);
    expect(new Set(r.events().map((e) => e.action))).toEqual(new Set(['stream.test-1']));
    expect([...new Set(sequences)]).toEqual(Array.from({ length: 10 }, (_, i) => 3 * i + 2));
  });

  it('starts after the current head unless asked for the history', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    await record(gateway, tenant, 7);
    const created = await createWebhook(gateway, tenant, r, { startFrom: 'NOW' });
    expect(created.stream.position).toBe(7);
    await record(gateway, tenant, 3);
    await eventually(async () => (await status(gateway, tenant)).position === 10);
    expect([...new Set(r.events().map((e) => e.sequence))]).toEqual([8, 9, 10]);
  });

  it('never returns a secret after creation, and stops delivering once deleted', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    const given = 'a-receiver-chosen-secret-of-40-characters!';
    const res = await gql(
      gateway,
      CreateStream,
      { input: { name: 'siem', webhook: { url: r.url, secret: given }, startFrom: 'BEGINNING' } },
      tenant.key,
    );
    expect(res.data?.createLogStream.secret).toBe(given);
    r.secret = given;
    const listed = await gateway.app.fetch(
      new Request('http://gateway.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.key}` },
        body: JSON.stringify({
          query:
            '{ logStreams { id name kind webhookUrl nats { servers stream subjectPrefix createStream } actions paused position lastDeliveredSeq lastDeliveredAt lag failing lastError lastErrorAt nextRetryAt createdAt } }',
        }),
      }),
      { remoteAddress: '127.0.0.1' },
    );
    const text = await listed.text();
    expect(text).toContain(r.url);
    expect(text).not.toContain(given);
    expect(
      (await gateway.streams.list(operatorViewer(tenant))).map((s) => JSON.stringify(s)).join(),
    ).not.toContain(given);

    const id = res.data?.createLogStream.stream.id as string;
    const deleted = await gql(gateway, DeleteStream, { id }, tenant.key);
    expect(deleted.data?.deleteLogStream).toBe(id);
    await record(gateway, tenant, 3);
    expect((await gql(gateway, StreamStatus, {}, tenant.key)).data?.logStreams).toEqual([]);
  });

  it('refuses keys that may not manage streams, and bad destinations with the field named', async () => {
    const tenant = await newTenant(gateway);
    const input = { name: 'x', webhook: { url: 'https://siem.example/hook' } };
    for (const key of [tenant.readKey, tenant.writeOnlyKey]) {
      const res = await gql(gateway, CreateStream, { input }, key);
      expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', webhook: { url: 'http://siem.example/hook' } }, 'input.webhook.url'],
      [{ name: 'x', webhook: { url: 'not a url' } }, 'input.webhook.url'],
      [{ name: 'x', webhook: { url: 'https://siem.example/hook', secret: 'short' } }, 'input.webhook.secret'],
      [
        { name: 'x', webhook: { url: 'https://siem.example/hook', secret: 's'.repeat(257) } },
        'input.webhook.secret',
      ],
      [{ name: 'x', webhook: { url: `https://siem.example/${'a'.repeat(2048)}` } }, 'input.webhook.url'],
      [{ name: 'x', webhook: { url: 'https://user:pw@siem.example/hook' } }, 'input.webhook.url'],
      [{ name: '', webhook: { url: 'https://siem.example/hook' } }, 'input.name'],
      [
        {
          name: 'x',
          webhook: { url: 'https://siem.example/hook' },
          nats: { servers: ['127.0.0.1:4222'], stream: 'S' },
        },
        'input',
      ],
      [{ name: 'x', nats: { servers: [], stream: 'S' } }, 'input.nats.servers'],
      [{ name: 'x', nats: { servers: ['user:pw@127.0.0.1:4222'], stream: 'S' } }, 'input.nats.servers[0]'],
      [
        { name: 'x', nats: { servers: ['127.0.0.1:4222'], stream: 'S', subjectPrefix: 'audit.*' } },
        'input.nats.subjectPrefix',
      ],
      [{ name: 'x' }, 'input'],
      [{ name: 'x', nats: { servers: ['127.0.0.1:4222'], stream: 'a.b' } }, 'input.nats.stream'],
      [{ name: 'x', webhook: { url: 'https://siem.example/hook' }, actions: [] }, 'input.actions'],
    ];
    for (const [bad, field] of cases) {
      const res = await gql(gateway, CreateStream, { input: bad as never }, tenant.key);
      expect(res.errors?.[0]?.extensions?.code, field).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions?.field, JSON.stringify(bad)).toBe(field);
    }
  });
});

describe('log streams: limits', () => {
  it('a tenant may have at most 20 streams', async () => {
    const tenant = await newTenant(gateway);
    const input = { name: 'many', webhook: { url: 'https://siem.example/hook' }, actions: ['never.happens'] };
    for (let i = 0; i < 20; i++) {
      expect((await gql(gateway, CreateStream, { input }, tenant.key)).errors).toBeUndefined();
    }
    const refused = await gql(gateway, CreateStream, { input }, tenant.key);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
    expect(refused.errors?.[0]?.message).toContain('at most 20 log streams');
  });
});

describe('log streams: retries', () => {
  it('back off exponentially from the minimum, with jitter, capped at the maximum', () => {
    const lowest = (failures: number) => retryDelayMs(failures, 1000, 300_000, () => 0);
    const highest = (failures: number) => retryDelayMs(failures, 1000, 300_000, () => 1);
    expect([0, 1, 2, 3].map(highest)).toEqual([1000, 2000, 4000, 8000]);
    expect([0, 1, 2, 3].map(lowest)).toEqual([500, 1000, 2000, 4000]);
    expect(highest(9)).toBe(300_000);
    expect(highest(1000)).toBe(300_000);
    expect(lowest(1000)).toBe(150_000);
  });

  it('a paused stream keeps its position and shows no retry; resuming delivers what was committed meanwhile', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    const { stream } = await createWebhook(gateway, tenant, r);
    const paused = await gql(gateway, PauseStream, { id: stream.id }, tenant.key);
    expect(paused.data?.pauseLogStream).toMatchObject({ paused: true, position: 0, nextRetryAt: null });
    await record(gateway, tenant, 8);
    expect(await status(gateway, tenant)).toMatchObject({ paused: true, lag: 8 });
    const resumed = await gql(gateway, ResumeStream, { id: stream.id }, tenant.key);
    expect(resumed.data?.resumeLogStream.paused).toBe(false);
    await eventually(async () => (await status(gateway, tenant)).position === 8);
    expect(deliveredInOrder(r.events(), 8)).toBe(true);
  });
});

describe('log streams: isolation', () => {
  it("the serving role sees a tenant's streams only in that tenant's context (row-level security)", async () => {
    const a = await newTenant(gateway);
    const b = await newTenant(gateway);
    const r = await receiver();
    await createWebhook(gateway, a, r, { actions: ['never.happens'] });
    const count = (tenantId: number | null) =>
      gateway.database.db.transaction(async (tx) => {
        if (tenantId !== null)
          await tx.execute(sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`);
        const result = await tx.execute(sql`select count(*)::int as n from log_streams`);
        const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
          n: number;
        }[];
        return rows[0]?.n;
      });
    expect(await count(a.id)).toBe(1);
    expect(await count(b.id)).toBe(0);
    expect(await count(null)).toBe(0);
    expect(await gql(gateway, StreamStatus, {}, b.readKey)).toMatchObject({ data: { logStreams: [] } });
  });
});

describe('log streams: restart', () => {
  it('a gateway killed mid-delivery skips nothing: the next one redelivers from the stored position', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    r.delayMs = 30;
    await createWebhook(gateway, tenant, r);
    await record(gateway, tenant, 450);
    await eventually(() => r.batches.length >= 1);
    // As a crash would: the batch in flight is abandoned and the lease is not given back.
    await gateway.streamWorker?.kill();
    await gateway.close();
    const positionAtKill = r.events().length;
    expect(positionAtKill).toBeLessThan(450);

    gateway = await shared.open();
    await record(gateway, tenant, 50);
    await eventually(async () => (await status(gateway, tenant)).position === 500, 50);
    expect(deliveredInOrder(r.events(), 500)).toBe(true);
  });

  it('a gateway closed cleanly gives its streams to the next one at once', async () => {
    const tenant = await newTenant(gateway);
    const r = await receiver();
    await createWebhook(gateway, tenant, r);
    await record(gateway, tenant, 20);
    await eventually(() => r.events().length >= 20);
    await gateway.close();
    gateway = await shared.open();
    await record(gateway, tenant, 20);
    await eventually(async () => (await status(gateway, tenant)).position === 40);
    expect(deliveredInOrder(r.events(), 40)).toBe(true);
  });
});
