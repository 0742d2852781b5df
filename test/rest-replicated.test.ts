// Replicated audit API (Replicated documentation, "Audit API"; restated in docs/compat/replicated.md)
// against this gateway: the
// document's two request examples and its exact 201 answer, the client address (and who may
// set it through X-Forwarded-For), scopes, bad bodies, idempotency, and the batch route beside it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { jsonRequest } from './support/rest.ts';

const StoredEvents = graphql(`
  query ReplicatedStored {
    auditEvents(first: 100) {
      totalCount
      edges {
        node {
          id sequence action name title description ipAddress occurredAt sentAt receivedAt
          groupId additionalId metadata
          actor { id email name type company }
          target { kind id name email company }
          feature { name metas }
        }
      }
    }
  }
`);

type ErrorBody = { error: string; message: string; parameter?: string; requestId?: string };
type BatchResults = {
  results: { index: number; status: string; id?: string; sequence?: number; error?: ErrorBody }[];
};

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

type PostOptions = {
  key?: string;
  remoteAddress?: string;
  headers?: Record<string, string>;
  gateway?: TestGateway;
};

/** POST /audit/v1/event with a raw body (a string is sent as is). */
function post(body: unknown, { key, remoteAddress, headers, gateway = t }: PostOptions = {}) {
  return gateway.fetch('/audit/v1/event', {
    method: 'POST',
    ...jsonRequest(body, key, headers),
    ...(remoteAddress === undefined ? {} : { remoteAddress }),
  });
}

async function stored(tenant: TestTenant, gateway = t) {
  const res = await gateway.gql(StoredEvents, {}, tenant.readKey);
  expect(res.errors).toBeUndefined();
  const connection = res.data?.auditEvents;
  return { total: connection?.totalCount, events: connection?.edges.map((e) => e.node) ?? [] };
}

/** The exact answer the document shows: 201, no body, Content-Length 0, text/plain. */
async function expectDocumented201(res: Response) {
  expect(res.status).toBe(201);
  expect(res.headers.get('content-length')).toBe('0');
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(await res.text()).toBe('');
}

describe("the document's examples", () => {
  it('the cURL example: 201 with an empty body; the event is stored with the client address', async () => {
    const tenant = await t.newTenant('repl-curl');
    const before = Date.now();
    const res = await post(
      '{"action":"user.login.success", "description":"[email protected] logged in", "title":"User Login Success", "name":"login"}',
      { key: tenant.key, remoteAddress: '203.0.113.10' },
    );
    await expectDocumented201(res);
    const { total, events } = await stored(tenant);
    expect(total).toBe(1);
    const e = events[0];
    expect(e).toMatchObject({
      sequence: 1,
      action: 'user.login.success',
      name: 'login',
      title: 'User Login Success',
      description: '[email protected] logged in',
      ipAddress: '203.0.113.10',
      actor: null,
      target: null,
      groupId: null,
      additionalId: null,
      feature: null,
      sentAt: null,
      metadata: {},
    });
    // No time in the body: it happened when it was received.
    expect(e?.occurredAt).toBe(e?.receivedAt);
    expect(Date.parse(e?.receivedAt as string)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(e?.receivedAt as string)).toBeLessThanOrEqual(Date.now() + 5);
  });

  it('the JSON example: ip_address is recorded as given, whoever sends it', async () => {
    const tenant = await t.newTenant('repl-json');
    const body = {
      name: 'user.login',
      description: '[email protected] logged in successfully',
      title: 'User Login Success',
      action: 'user.login.success',
      ip_address: '192.30.252.12',
    };
    await expectDocumented201(await post(body, { key: tenant.key, remoteAddress: '198.51.100.1' }));
    const { events } = await stored(tenant);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: body.action,
      name: body.name,
      title: body.title,
      description: body.description,
      ipAddress: '192.30.252.12',
    });
  });

  it("reads a JSON body sent with curl -d's default Content-Type, text/plain or none; refuses other types", async () => {
    const tenant = await t.newTenant('repl-types');
    const accepted = [
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/json; charset=utf-8',
      undefined,
    ];
    for (const type of accepted) {
      const res = await t.fetch('/audit/v1/event', {
        key: tenant.key,
        method: 'POST',
        body: JSON.stringify({ action: 'typed', name: String(type) }),
        ...(type ? { headers: { 'content-type': type } } : {}),
      });
      await expectDocumented201(res);
    }
    for (const type of ['application/xml', 'multipart/form-data; boundary=x']) {
      const res = await post('{"action":"typed"}', { key: tenant.key, headers: { 'content-type': type } });
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as ErrorBody).error).toBe('unsupported_media_type');
    }
    const { events } = await stored(tenant);
    expect(events.map((e) => e.name).sort()).toEqual(accepted.map(String).sort());
  });
});

describe('the client address, when the body has no ip_address', () => {
  let proxied: TestGateway;
  beforeAll(async () => {
    proxied = await startTestGateway({ TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1, loopback' });
  });
  afterAll(() => proxied?.close());

  /** Posts one event per case (named after it) and returns the recorded address by name. */
  async function recorded(
    gateway: TestGateway,
    cases: { name: string; peer: string; forwarded?: string }[],
  ): Promise<Record<string, string | null>> {
    const tenant = await gateway.newTenant('repl-addr');
    for (const c of cases) {
      const res = await post(
        { action: 'address.probe', name: c.name },
        {
          key: tenant.key,
          remoteAddress: c.peer,
          gateway,
          ...(c.forwarded ? { headers: { 'x-forwarded-for': c.forwarded } } : {}),
        },
      );
      expect(res.status, c.name).toBe(201);
    }
    const { events } = await stored(tenant, gateway);
    return Object.fromEntries(events.map((e) => [e.name as string, e.ipAddress ?? null]));
  }

  it('with no trusted proxy configured, X-Forwarded-For is ignored: nobody can choose their address', async () => {
    expect(
      await recorded(t, [
        { name: 'plain', peer: '198.51.100.23' },
        { name: 'spoof', peer: '198.51.100.23', forwarded: '203.0.113.99' },
        { name: 'loopback-spoof', peer: '127.0.0.1', forwarded: '203.0.113.99' },
        { name: 'ipv6', peer: '2001:db8::5', forwarded: '203.0.113.99' },
        { name: 'mapped', peer: '::ffff:198.51.100.24' },
      ]),
    ).toEqual({
      plain: '198.51.100.23',
      spoof: '198.51.100.23',
      'loopback-spoof': '127.0.0.1',
      ipv6: '2001:db8::5',
      mapped: '198.51.100.24',
    });
  });

  it('through declared proxies only, the header is unwrapped from the right up to the first untrusted hop', async () => {
    expect(
      await recorded(proxied, [
        { name: 'via-lb', peer: '10.1.2.3', forwarded: '203.0.113.7' },
        { name: 'two-proxies', peer: '10.1.2.3', forwarded: '203.0.113.7, 10.9.9.9' },
        // A client that sends the header itself only adds entries left of its real address.
        { name: 'client-prepended', peer: '10.1.2.3', forwarded: '1.1.1.1, 203.0.113.8' },
        { name: 'lb-no-header', peer: '10.1.2.3' },
        { name: 'single-ip-proxy', peer: '192.168.1.1', forwarded: '203.0.113.9' },
        { name: 'neighbour-not-trusted', peer: '192.168.1.2', forwarded: '203.0.113.9' },
        { name: 'direct-spoof', peer: '198.51.100.50', forwarded: '203.0.113.7' },
        { name: 'loopback-preset', peer: '127.0.0.1', forwarded: '203.0.113.10' },
        { name: 'loopback-v6', peer: '::1', forwarded: '2001:db8::99' },
        { name: 'garbage', peer: '10.1.2.3', forwarded: 'not-an-address' },
      ]),
    ).toEqual({
      'via-lb': '203.0.113.7',
      'two-proxies': '203.0.113.7',
      'client-prepended': '203.0.113.8',
      'lb-no-header': '10.1.2.3',
      'single-ip-proxy': '203.0.113.9',
      'neighbour-not-trusted': '192.168.1.2',
      'direct-spoof': '198.51.100.50',
      'loopback-preset': '203.0.113.10',
      'loopback-v6': '2001:db8::99',
      // What a proxy forwarded is not an address: nothing is recorded rather than text.
      garbage: null,
    });
  });

  it('an explicit ip_address wins over the client address, even through a trusted proxy', async () => {
    const tenant = await proxied.newTenant('repl-explicit');
    const res = await post(
      { action: 'x', ip_address: '2001:db8::1' },
      {
        key: tenant.key,
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-for': '203.0.113.7' },
        gateway: proxied,
      },
    );
    expect(res.status).toBe(201);
    expect((await stored(tenant, proxied)).events[0]?.ipAddress).toBe('2001:db8::1');
  });
});

describe('authentication and scope', () => {
  it('answers 401 without a valid key and 403 with a read-only key, storing nothing', async () => {
    const tenant = await t.newTenant('repl-auth');
    const body = { action: 'user.login.success' };
    for (const headers of [{}, { authorization: 'Bearer agw_nope' }] as Record<string, string>[]) {
      const res = await post(body, { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as ErrorBody).error).toBe('unauthenticated');
    }
    const readOnly = await post(body, { key: tenant.readKey });
    expect(readOnly.status).toBe(403);
    expect(((await readOnly.json()) as ErrorBody).error).toBe('forbidden');
    expect((await stored(tenant)).total).toBe(0);
    await expectDocumented201(await post(body, { key: tenant.writeOnlyKey }));
    expect((await stored(tenant)).total).toBe(1);
  });
});

describe('bad bodies', () => {
  it('answer 400 naming the field and the reason, and store nothing', async () => {
    const tenant = await t.newTenant('repl-bad');
    const cases: [string, string][] = [
      ['{"action":', 'body'],
      ['', 'body'],
      ['null', 'body'],
      ['[]', 'body'],
      ['"user.login"', 'body'],
      ['{"name":"login"}', 'action'],
      ['{"action":null}', 'action'],
      ['{"action":5}', 'action'],
      ['{"action":""}', 'action'],
      ['{"action":"a\\u0000b"}', 'action'],
      ['{"action":"two\\nlines"}', 'action'],
      [JSON.stringify({ action: 'a'.repeat(201) }), 'action'],
      ['{"action":"x","name":5}', 'name'],
      ['{"action":"x","title":true}', 'title'],
      ['{"action":"x","title":"bell\\u0007"}', 'title'],
      ['{"action":"x","description":{}}', 'description'],
      [JSON.stringify({ action: 'x', description: 'd'.repeat(8193) }), 'description'],
      ['{"action":"x","ip_address":123}', 'ip_address'],
      ['{"action":"x","ip_address":"300.1.1.1"}', 'ip_address'],
      ['{"action":"x","ip_address":"example.com"}', 'ip_address'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body, { key: tenant.key });
      expect(res.status, body.slice(0, 60)).toBe(400);
      const error = (await res.json()) as ErrorBody;
      expect(error, body.slice(0, 60)).toMatchObject({ error: 'invalid_parameter', parameter: field });
      expect(error.message, body.slice(0, 60)).toMatch(new RegExp(`^${field}: \\S`));
    }
    expect((await stored(tenant)).total).toBe(0);
  });

  it('reads null and empty optional fields as absent, and ignores fields the document does not define', async () => {
    const tenant = await t.newTenant('repl-lenient');
    const bodies = [
      { action: 'nulls', name: null, title: null, description: null, ip_address: null },
      { action: 'empties', name: '', title: '', description: '', ip_address: '' },
      { action: 'extras', user: 'bob', metadata: { a: 1 }, occurredAt: '2020-01-01T00:00:00Z' },
    ];
    for (const body of bodies) {
      await expectDocumented201(await post(body, { key: tenant.key, remoteAddress: '198.51.100.77' }));
    }
    const { events } = await stored(tenant);
    expect(events).toHaveLength(3);
    for (const e of events) {
      expect(e, e.action).toMatchObject({
        name: null,
        title: null,
        description: null,
        ipAddress: '198.51.100.77',
        actor: null,
        metadata: {},
      });
      expect(e.occurredAt).toBe(e.receivedAt);
    }
  });
});

describe('Idempotency-Key', () => {
  it('a retry from another client address returns the original: 201, no new event, the first address kept', async () => {
    const tenant = await t.newTenant('repl-idem-addr');
    const body = { action: 'invoice.paid', name: 'paid' };
    const headers = { 'idempotency-key': 'job-17' };
    await expectDocumented201(await post(body, { key: tenant.key, remoteAddress: '198.51.100.1', headers }));
    await expectDocumented201(await post(body, { key: tenant.key, remoteAddress: '198.51.100.2', headers }));
    const { total, events } = await stored(tenant);
    expect(total).toBe(1);
    expect(events[0]?.ipAddress).toBe('198.51.100.1');
    // Spelling the address out is a different request.
    const explicit = await post(
      { ...body, ip_address: '198.51.100.1' },
      { key: tenant.key, remoteAddress: '198.51.100.1', headers },
    );
    expect(explicit.status).toBe(409);
    expect(await explicit.json()).toMatchObject({
      error: 'idempotency_conflict',
      parameter: 'Idempotency-Key',
    });
    expect((await stored(tenant)).total).toBe(1);
  });

  it('refuses an empty or over-long key, naming the header', async () => {
    const tenant = await t.newTenant('repl-idem-bad');
    for (const key of ['', 'k'.repeat(201)]) {
      const res = await post({ action: 'x' }, { key: tenant.key, headers: { 'idempotency-key': key } });
      expect(res.status, key.slice(0, 10)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'Idempotency-Key' });
    }
    await expectDocumented201(
      await post({ action: 'x' }, { key: tenant.key, headers: { 'idempotency-key': 'k'.repeat(200) } }),
    );
    expect((await stored(tenant)).total).toBe(1);
  });
});

describe('POST /audit/v1/events (batch, canonical shape)', () => {
  const batch = (key: string, events: unknown, headers: Record<string, string> = {}) =>
    t.fetch('/audit/v1/events', { method: 'POST', ...jsonRequest({ events }, key, headers) });

  it('answers one result per event, in order; a bad event is rejected alone', async () => {
    const tenant = await t.newTenant('repl-batch');
    const full = {
      action: 'member.added',
      name: 'member added',
      title: 'Member added',
      description: 'Ada added Bob',
      actor: { id: 'u-1', email: 'ada@example.com', name: 'Ada', type: 'USER', company: 'acme' },
      groupId: 'g-1',
      target: { kind: 'group', id: 'g-1', name: 'Admins', email: 'admins@example.com', company: 'acme' },
      additionalId: 'u-2',
      feature: { name: 'members', metas: { seats: 3 } },
      ipAddress: '192.0.2.1',
      occurredAt: '2026-11-20T08:00:00.000Z',
      sentAt: '2026-11-20T08:00:01.000Z',
      metadata: { via: 'batch' },
    };
    const res = await batch(tenant.key, [
      full,
      { action: '' },
      5,
      { action: 'x', bogus: 1 },
      { action: 'ok' },
    ]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as BatchResults;
    expect(results.map((r) => [r.index, r.status])).toEqual([
      [0, 'stored'],
      [1, 'rejected'],
      [2, 'rejected'],
      [3, 'rejected'],
      [4, 'stored'],
    ]);
    expect(results[1]?.error).toMatchObject({ error: 'invalid_parameter', parameter: 'events[1].action' });
    expect(results[2]?.error).toMatchObject({ error: 'invalid_parameter', parameter: 'events[2]' });
    expect(results[3]?.error?.message).toMatch(/bogus/);
    expect([results[0]?.sequence, results[4]?.sequence]).toEqual([1, 2]);

    const { total, events } = await stored(tenant);
    expect(total).toBe(2);
    const byId = new Map(events.map((e) => [e.id, e]));
    expect(byId.get(results[0]?.id as string)).toMatchObject({ ...full, sequence: 1, sentAt: full.sentAt });
    expect(byId.get(results[4]?.id as string)).toMatchObject({ action: 'ok', ipAddress: null, sequence: 2 });
  });

  it('holds at most the documented number of events; one more is refused whole', async () => {
    const doc = (await (await t.fetch('/openapi.json')).json()) as {
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
    };
    const schema = doc.paths['/audit/v1/events']?.post.requestBody.content['application/json']?.schema as {
      properties: { events: { maxItems: number } };
    };
    const max = schema.properties.events.maxItems;
    expect(max).toBeGreaterThan(1);
    const tenant = await t.newTenant('repl-batch-max');
    const events = Array.from({ length: max + 1 }, (_, i) => ({ action: 'bulk', metadata: { i } }));
    const over = await batch(tenant.key, events);
    expect(over.status).toBe(400);
    expect(await over.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'events' });
    expect((await stored(tenant)).total).toBe(0);
    const full = await batch(tenant.key, events.slice(0, max));
    expect(full.status).toBe(200);
    const { results } = (await full.json()) as BatchResults;
    expect(results.filter((r) => r.status === 'stored')).toHaveLength(max);
    expect((await stored(tenant)).total).toBe(max);
  });

  it('with an Idempotency-Key header the whole batch can be retried; an event keeps its own key', async () => {
    const tenant = await t.newTenant('repl-batch-idem');
    const events = [{ action: 'a' }, { action: 'b', idempotencyKey: 'own' }, { action: 'c' }];
    const first = (await (
      await batch(tenant.key, events, { 'idempotency-key': 'run-1' })
    ).json()) as BatchResults;
    const retry = (await (
      await batch(tenant.key, events, { 'idempotency-key': 'run-1' })
    ).json()) as BatchResults;
    expect(first.results.map((r) => r.status)).toEqual(['stored', 'stored', 'stored']);
    expect(retry.results.map((r) => r.status)).toEqual(['replayed', 'replayed', 'replayed']);
    expect(retry.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    expect((await stored(tenant)).total).toBe(3);
    // Another run key: the events without their own key are new, the one with it is a replay.
    const next = (await (
      await batch(tenant.key, events, { 'idempotency-key': 'run-2' })
    ).json()) as BatchResults;
    expect(next.results.map((r) => r.status)).toEqual(['stored', 'replayed', 'stored']);
    expect((await stored(tenant)).total).toBe(5);
  });

  it('refuses a body without an events array, and needs the write scope', async () => {
    const tenant = await t.newTenant('repl-batch-bad');
    for (const body of ['{}', '{"events":{}}', '{"events":"x"}', '[1]', '{"events":[']) {
      const res = await t.fetch('/audit/v1/events', {
        key: tenant.key,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status, body).toBe(400);
      const error = (await res.json()) as ErrorBody;
      expect(['events', 'body'], body).toContain(error.parameter);
    }
    expect((await batch(tenant.readKey, [{ action: 'x' }])).status).toBe(403);
    const anonymous = await t.fetch('/audit/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"events":[{"action":"x"}]}',
    });
    expect(anonymous.status).toBe(401);
    expect((await stored(tenant)).total).toBe(0);
  });
});
