// Contract tests for the MadKudu Audit Trail dialect (MadKudu's developer docs, "Audit Trail API",
// https://developers.madkudu.com/; restated in docs/compat/madkudu.md):
// every request example of the document replayed against this host, the documented filters
// (from/to as whole UTC days, event, user; combined with AND), newest-first order, the event
// shape, lookup by id, the retention window, bad input and authentication.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { errorShape, iso, newestFirst, recordBatch } from './support/rest.ts';

const DAY = 86_400_000;
const FIELDS = [
  'created_at',
  'feature',
  'id',
  'name',
  'received_at',
  'sent_at',
  'tenant',
  'user_email',
] as const;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type MadkuduEvent = {
  id: string;
  tenant: number;
  name: string;
  feature: { name: string; metas: Record<string, unknown> };
  created_at: string;
  sent_at: string;
  received_at: string;
  user_email: string | null;
};
type Recorded = { id: string; at: number; action: string; email: string | null };

/** The default deployment (13 months of retention). */
let t: TestGateway;
/** A deployment that keeps ten years, to replay the document's 2021 example literally. */
let longRetention: TestGateway;

beforeAll(async () => {
  [t, longRetention] = await Promise.all([
    startTestGateway(),
    startTestGateway({ MADKUDU_RETENTION_MONTHS: '120' }),
  ]);
});
afterAll(async () => {
  await Promise.all([t?.close(), longRetention?.close()]);
});

const ymd = (ms: number) => iso(ms).slice(0, 10);
const startOfToday = () => Math.floor(Date.now() / DAY) * DAY;
const monthsAgo = (months: number) => {
  const d = new Date();
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.getTime();
};

/** Records events through the batch REST route; returns them with their ids, in input order. */
async function record(
  gw: TestGateway,
  tenant: TestTenant,
  events: Record<string, unknown>[],
): Promise<Recorded[]> {
  const ids = await recordBatch(gw, tenant.key, events);
  return events.map((e, i) => ({
    id: ids[i] as string,
    at: Date.parse(e.occurredAt as string),
    action: e.action as string,
    email: ((e.actor as { email?: string } | undefined)?.email ?? null) as string | null,
  }));
}

async function list(gw: TestGateway, key: string, query = ''): Promise<MadkuduEvent[]> {
  const res = await gw.fetch(`/v1/audit${query}`, { key });
  expect(res.status, query).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { events: MadkuduEvent[] };
  expect(Object.keys(body)).toEqual(['events']);
  return body.events;
}

const ids = (events: MadkuduEvent[]) => events.map((e) => e.id);

describe('the examples of the document', () => {
  it('1. GET /v1/audit: the full list of activity, most recent first', async () => {
    const tenant = await t.newTenant('mk-all');
    const now = Date.now();
    const events = await record(
      t,
      tenant,
      [5, 1, 3, 3, 3, 200, 0.5].map((hoursAgo, i) => ({
        action: ['logged-in', 'logged-out', 'added-new-user'][i % 3],
        actor: { email: `user${i % 2}@example.com` },
        occurredAt: iso(now - hoursAgo * 3_600_000),
      })),
    );
    const listed = await list(t, tenant.readKey);
    expect(ids(listed)).toEqual(newestFirst(events));
  });

  it('2. GET /v1/audit?event=logged-in&from=2021-06-01&to=2021-06-30, literally (ten-year retention)', async () => {
    const tenant = await longRetention.newTenant('mk-example2');
    const events = await record(longRetention, tenant, [
      { action: 'logged-in', occurredAt: '2021-05-31T23:59:59.999Z' },
      { action: 'logged-in', occurredAt: '2021-06-01T00:00:00.000Z' },
      { action: 'logged-in', occurredAt: '2021-06-15T09:30:00.000Z' },
      { action: 'logged-out', occurredAt: '2021-06-15T09:31:00.000Z' },
      { action: 'logged-in', occurredAt: '2021-06-30T23:59:59.999Z' },
      { action: 'logged-in', occurredAt: '2021-07-01T00:00:00.000Z' },
    ]);
    const listed = await list(
      longRetention,
      tenant.readKey,
      '?event=logged-in&from=2021-06-01&to=2021-06-30',
    );
    expect(ids(listed)).toEqual(newestFirst([events[1], events[2], events[4]] as Recorded[]));
    expect(listed.every((e) => e.name === 'logged-in')).toBe(true);
  });

  it('2. the same request on a default deployment: June 2021 is outside 13 months, so an empty list', async () => {
    const tenant = await t.newTenant('mk-example2-default');
    await record(t, tenant, [{ action: 'logged-in', occurredAt: '2021-06-15T09:30:00.000Z' }]);
    expect(await list(t, tenant.readKey, '?event=logged-in&from=2021-06-01&to=2021-06-30')).toEqual([]);
    expect(await list(t, tenant.readKey, '?to=2021-06-30')).toEqual([]);
  });

  it('2. adapted to recent dates: login events of a given timeframe', async () => {
    const tenant = await t.newTenant('mk-example2-recent');
    const from = startOfToday() - 20 * DAY;
    const to = startOfToday() - 10 * DAY;
    const events = await record(t, tenant, [
      { action: 'logged-in', occurredAt: iso(from + 3_600_000) },
      { action: 'logged-in', occurredAt: iso(to + 3_600_000) },
      { action: 'logged-in', occurredAt: iso(to + DAY + 3_600_000) },
      { action: 'signed-up', occurredAt: iso(to) },
    ]);
    const listed = await list(t, tenant.readKey, `?event=logged-in&from=${ymd(from)}&to=${ymd(to)}`);
    expect(ids(listed)).toEqual(newestFirst([events[0], events[1]] as Recorded[]));
  });

  it('3. GET /v1/audit?user=name@domain.com: the activities of one user', async () => {
    const tenant = await t.newTenant('mk-example3');
    const now = Date.now();
    const events = await record(t, tenant, [
      { action: 'logged-in', actor: { email: 'name@domain.com' }, occurredAt: iso(now - 3_000) },
      { action: 'logged-in', actor: { email: 'other@domain.com' }, occurredAt: iso(now - 2_000) },
      { action: 'added-new-user', actor: { email: 'name@domain.com' }, occurredAt: iso(now - 1_000) },
      { action: 'logged-out', actor: { id: 'no-email' }, occurredAt: iso(now - 500) },
      { action: 'logged-out', occurredAt: iso(now - 400) },
    ]);
    const listed = await list(t, tenant.readKey, '?user=name@domain.com');
    expect(ids(listed)).toEqual(newestFirst([events[0], events[2]] as Recorded[]));
    expect(listed.every((e) => e.user_email === 'name@domain.com')).toBe(true);
    // Silent in the document: the match is exact, case included.
    expect(await list(t, tenant.readKey, '?user=Name@Domain.com')).toEqual([]);
    // The query string may percent-encode the @.
    expect(ids(await list(t, tenant.readKey, '?user=name%40domain.com'))).toEqual(ids(listed));
  });

  it('the example event, recorded and read back field for field (ten-year retention)', async () => {
    const tenant = await longRetention.newTenant('mk-example-event');
    const before = Date.now();
    const [event] = await record(longRetention, tenant, [
      {
        action: 'logged-in',
        feature: { name: 'general', metas: {} },
        occurredAt: '2021-05-23T14:03:46.000Z',
        sentAt: '2021-05-20T14:03:46.716Z',
        actor: { email: 'yoann@madkudu.com' },
      },
    ]);
    const after = Date.now();
    const res = await longRetention.fetch(`/v1/audit/${event?.id}`, { key: tenant.readKey });
    expect(res.status).toBe(200);
    const body = (await res.json()) as MadkuduEvent;
    expect(Object.keys(body)).toEqual([
      'id',
      'tenant',
      'name',
      'feature',
      'created_at',
      'sent_at',
      'received_at',
      'user_email',
    ]);
    expect(body).toEqual({
      id: event?.id,
      tenant: tenant.id,
      name: 'logged-in',
      feature: { name: 'general', metas: {} },
      created_at: '2021-05-23T14:03:46.000Z',
      sent_at: '2021-05-20T14:03:46.716Z',
      received_at: expect.stringMatching(ISO_MS),
      user_email: 'yoann@madkudu.com',
    });
    const received = Date.parse(body.received_at);
    expect(received).toBeGreaterThanOrEqual(before);
    expect(received).toBeLessThanOrEqual(after);
    expect(await list(longRetention, tenant.readKey)).toEqual([body]);
  });
});

describe('GET /v1/audit', () => {
  it('from and to are whole UTC days, both inclusive', async () => {
    const tenant = await t.newTenant('mk-days');
    const from = startOfToday() - 20 * DAY;
    const to = startOfToday() - 10 * DAY;
    const [beforeFrom, fromStart, toStart, toEnd, afterTo] = await record(
      t,
      tenant,
      [from - 1, from, to, to + DAY - 1, to + DAY].map((at) => ({
        action: 'logged-in',
        occurredAt: iso(at),
      })),
    );
    const all = [beforeFrom, fromStart, toStart, toEnd, afterTo] as Recorded[];
    const only = (...picked: (Recorded | undefined)[]) => newestFirst(picked as Recorded[]);
    expect(ids(await list(t, tenant.readKey, `?from=${ymd(from)}&to=${ymd(to)}`))).toEqual(
      only(fromStart, toStart, toEnd),
    );
    expect(ids(await list(t, tenant.readKey, `?from=${ymd(from)}`))).toEqual(
      only(fromStart, toStart, toEnd, afterTo),
    );
    expect(ids(await list(t, tenant.readKey, `?to=${ymd(to)}`))).toEqual(
      only(beforeFrom, fromStart, toStart, toEnd),
    );
    // from = to: that one day, 00:00:00.000 to 23:59:59.999.
    expect(ids(await list(t, tenant.readKey, `?from=${ymd(to)}&to=${ymd(to)}`))).toEqual(
      only(toStart, toEnd),
    );
    expect(ids(await list(t, tenant.readKey, `?from=${ymd(to + DAY)}&to=${ymd(to + DAY)}`))).toEqual(
      only(afterTo),
    );
    expect(ids(await list(t, tenant.readKey))).toEqual(newestFirst(all));
    // A window in the future is valid and empty.
    expect(await list(t, tenant.readKey, `?from=${ymd(Date.now() + 3 * DAY)}`)).toEqual([]);
  });

  it('filters combine with AND, in every combination', async () => {
    const tenant = await t.newTenant('mk-and');
    const day0 = startOfToday() - 6 * DAY;
    const inputs: Record<string, unknown>[] = [];
    for (let d = 0; d < 4; d++)
      for (const action of ['logged-in', 'logged-out'])
        for (const email of ['a@example.com', 'b@example.com', null])
          inputs.push({
            action,
            ...(email ? { actor: { email } } : {}),
            occurredAt: iso(day0 + d * DAY + (inputs.length % 5) * 3_600_000),
          });
    const events = await record(t, tenant, inputs);
    const filters = {
      from: { param: `from=${ymd(day0 + DAY)}`, keep: (e: Recorded) => e.at >= day0 + DAY },
      to: { param: `to=${ymd(day0 + 2 * DAY)}`, keep: (e: Recorded) => e.at < day0 + 3 * DAY },
      event: { param: 'event=logged-out', keep: (e: Recorded) => e.action === 'logged-out' },
      user: { param: 'user=b@example.com', keep: (e: Recorded) => e.email === 'b@example.com' },
    };
    const names = Object.keys(filters) as (keyof typeof filters)[];
    for (let mask = 0; mask < 1 << names.length; mask++) {
      const used = names.filter((_, i) => mask & (1 << i));
      const query = used.length ? `?${used.map((n) => filters[n].param).join('&')}` : '';
      const expected = newestFirst(events.filter((e) => used.every((n) => filters[n].keep(e))));
      expect(ids(await list(t, tenant.readKey, query)), query).toEqual(expected);
    }
  });

  it('every event has exactly the documented fields, with their types and formats', async () => {
    const tenant = await t.newTenant('mk-fields');
    const now = Date.now();
    const [full, bare] = await record(t, tenant, [
      {
        action: 'activated-integration',
        actor: { id: 'u-1', email: 'admin@example.com', name: 'Admin', type: 'USER', company: 'Acme' },
        feature: { name: 'integrations', metas: { integration: 'salesforce', attempt: 2 } },
        occurredAt: iso(now - 60_000),
        sentAt: iso(now - 30_000),
        target: { kind: 'integration', id: 'sf' },
        ipAddress: '203.0.113.9',
        metadata: { extra: true },
      },
      { action: 'logged-out', occurredAt: iso(now - 120_000) },
    ]);
    const listed = await list(t, tenant.readKey);
    expect(ids(listed)).toEqual([full?.id, bare?.id]);
    for (const e of listed) {
      expect(Object.keys(e).sort()).toEqual([...FIELDS]);
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(e.tenant).toBe(tenant.id);
      expect(Number.isInteger(e.tenant)).toBe(true);
      for (const k of ['created_at', 'sent_at', 'received_at'] as const) expect(e[k]).toMatch(ISO_MS);
    }
    const [f, b] = listed as [MadkuduEvent, MadkuduEvent];
    expect(f).toMatchObject({
      name: 'activated-integration',
      feature: { name: 'integrations', metas: { integration: 'salesforce', attempt: 2 } },
      created_at: iso(now - 60_000),
      sent_at: iso(now - 30_000),
      user_email: 'admin@example.com',
    });
    // Silent in the document: no feature means the general app, no send time means the receipt
    // time, no actor email means null.
    expect(b).toMatchObject({
      name: 'logged-out',
      feature: { name: 'general', metas: {} },
      created_at: iso(now - 120_000),
      sent_at: b.received_at,
      user_email: null,
    });
  });

  it('an event recorded without a time gets the receipt time as created_at', async () => {
    const tenant = await t.newTenant('mk-now');
    const before = Date.now();
    const res = await t.fetch('/audit/v1/event', {
      key: tenant.key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'logged-in', name: 'login' }),
    });
    expect(res.status).toBe(201);
    const [e] = await list(t, tenant.readKey);
    expect(e?.created_at).toBe(e?.received_at);
    expect(Date.parse(e?.created_at as string)).toBeGreaterThanOrEqual(before);
  });
});

describe('GET /v1/audit/:eventId', () => {
  it('answers the event as listed; 404 alike for an unknown id, garbage and another tenant’s id', async () => {
    const mine = await t.newTenant('mk-get-a');
    const theirs = await t.newTenant('mk-get-b');
    const [event] = await record(t, mine, [
      { action: 'logged-in', actor: { email: 'a@example.com' }, occurredAt: iso(Date.now() - 1000) },
    ]);
    const [foreign] = await record(t, theirs, [{ action: 'logged-in', occurredAt: iso(Date.now() - 1000) }]);
    const res = await t.fetch(`/v1/audit/${event?.id}`, { key: mine.readKey });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as MadkuduEvent;
    expect([body]).toEqual(await list(t, mine.readKey));
    // Upper-case hex is the same UUID.
    expect((await t.fetch(`/v1/audit/${event?.id.toUpperCase()}`, { key: mine.readKey })).status).toBe(200);

    const notFound = await errorShape(
      await t.fetch('/v1/audit/01890a5d-ac96-774b-bcce-b302099a8057', { key: mine.readKey }),
    );
    expect(notFound).toEqual({
      status: 404,
      body: { error: 'not_found', message: expect.any(String) },
    });
    expect(await errorShape(await t.fetch(`/v1/audit/${foreign?.id}`, { key: mine.readKey }))).toEqual(
      notFound,
    );
    expect(await errorShape(await t.fetch('/v1/audit/not-an-id', { key: mine.readKey }))).toEqual(notFound);
    // The owner still sees it.
    expect((await t.fetch(`/v1/audit/${foreign?.id}`, { key: theirs.readKey })).status).toBe(200);
  });
});

describe('retention', () => {
  it('serves the last 13 months by default: older events are neither listed nor found by id', async () => {
    const tenant = await t.newTenant('mk-retention');
    const edge = monthsAgo(13);
    const [inside, outside] = await record(t, tenant, [
      { action: 'logged-in', occurredAt: iso(edge + 2 * DAY) },
      { action: 'logged-in', occurredAt: iso(edge - 2 * DAY) },
    ]);
    expect(ids(await list(t, tenant.readKey))).toEqual([inside?.id]);
    // Asking for older days does not reach past the window.
    expect(ids(await list(t, tenant.readKey, `?from=${ymd(edge - 40 * DAY)}`))).toEqual([inside?.id]);
    expect(await list(t, tenant.readKey, `?from=${ymd(edge - 40 * DAY)}&to=${ymd(edge - DAY)}`)).toEqual([]);
    expect((await t.fetch(`/v1/audit/${inside?.id}`, { key: tenant.readKey })).status).toBe(200);
    const old = await errorShape(await t.fetch(`/v1/audit/${outside?.id}`, { key: tenant.readKey }));
    const unknown = await errorShape(
      await t.fetch('/v1/audit/01890a5d-ac96-774b-bcce-b302099a8057', { key: tenant.readKey }),
    );
    expect(old).toEqual(unknown);
    expect(old.status).toBe(404);
    // The event still exists: the window is a read-side filter of this API only.
    expect(await t.gateway.audit.getEvent(operatorViewer(tenant), outside?.id as string)).not.toBeNull();
  });

  it('is configurable per deployment (MADKUDU_RETENTION_MONTHS)', async () => {
    expect(t.config.madkuduRetentionMonths).toBe(13);
    expect(longRetention.config.madkuduRetentionMonths).toBe(120);
    const tenant = await longRetention.newTenant('mk-retention-long');
    const [fiveYears, elevenYears] = await record(longRetention, tenant, [
      { action: 'logged-in', occurredAt: iso(monthsAgo(60)) },
      { action: 'logged-in', occurredAt: iso(monthsAgo(121)) },
    ]);
    expect(ids(await list(longRetention, tenant.readKey))).toEqual([fiveYears?.id]);
    expect((await longRetention.fetch(`/v1/audit/${fiveYears?.id}`, { key: tenant.readKey })).status).toBe(
      200,
    );
    expect((await longRetention.fetch(`/v1/audit/${elevenYears?.id}`, { key: tenant.readKey })).status).toBe(
      404,
    );
    // The same five-year-old event on the default deployment is out of its window.
    const there = await t.newTenant('mk-retention-short');
    const [same] = await record(t, there, [{ action: 'logged-in', occurredAt: iso(monthsAgo(60)) }]);
    expect(await list(t, there.readKey)).toEqual([]);
    expect((await t.fetch(`/v1/audit/${same?.id}`, { key: there.readKey })).status).toBe(404);
  });
});

describe('bad input', () => {
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await t.newTenant('mk-bad');
  });

  it.each([
    ['from=2021-13-01', 'from'],
    ['from=2021-02-30', 'from'],
    ['from=20210601', 'from'],
    ['from=2021-6-1', 'from'],
    ['from=2021-06-01T00:00:00Z', 'from'],
    ['from=', 'from'],
    ['from=yesterday', 'from'],
    ['to=2021-06-31', 'to'],
    ['to=06/30/2021', 'to'],
    ['from=2021-06-01&to=2021-05-31', 'to'],
    ['from=2021-06-01&from=2021-06-02', 'from'],
    ['event=', 'event'],
    ['event=a%00b', 'event'],
    ['user=', 'user'],
    ['user=a%0Ab@example.com', 'user'],
    [`user=${'x'.repeat(321)}`, 'user'],
  ])('?%s → 400 naming %s', async (query, parameter) => {
    const res = await t.fetch(`/v1/audit?${query}`, { key: tenant.readKey });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({ error: 'invalid_parameter', parameter });
    expect(body.message).toContain(parameter);
  });

  it('ignores parameters the document does not define', async () => {
    const [e] = await record(t, tenant, [{ action: 'logged-in', occurredAt: iso(Date.now() - 1000) }]);
    expect(ids(await list(t, tenant.readKey, '?page=2&limit=1&foo=bar'))).toEqual([e?.id]);
  });
});

describe('authentication', () => {
  let tenant: TestTenant;
  let id: string;
  beforeAll(async () => {
    tenant = await t.newTenant('mk-auth');
    id = (
      (await record(t, tenant, [{ action: 'logged-in', occurredAt: iso(Date.now() - 1000) }]))[0] as Recorded
    ).id;
  });

  it('401 with a JSON body without a key or with a wrong one', async () => {
    for (const path of ['/v1/audit', `/v1/audit/${id}`]) {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Bearer agw_nope' },
        { authorization: `Token ${tenant.key}` },
      ];
      for (const headers of attempts) {
        const res = await t.fetch(path, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
      }
    }
  });

  it('accepts every documented header style for a key with the read scope', async () => {
    const styles = (key: string): Record<string, string>[] => [
      { authorization: `Bearer ${key}` },
      { authorization: `apikey ${key}` },
      { 'x-api-key': key },
      { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
    ];
    for (const key of [tenant.readKey, tenant.key]) {
      for (const headers of styles(key)) {
        const listed = await t.fetch('/v1/audit', { headers });
        expect(listed.status, JSON.stringify(headers)).toBe(200);
        expect(((await listed.json()) as { events: { id: string }[] }).events.map((e) => e.id)).toEqual([id]);
        expect((await t.fetch(`/v1/audit/${id}`, { headers })).status).toBe(200);
      }
    }
  });

  it('403 for a key without the read scope', async () => {
    for (const path of ['/v1/audit', `/v1/audit/${id}`]) {
      const res = await t.fetch(path, { key: tenant.writeOnlyKey });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({
        error: 'forbidden',
        message: expect.stringContaining('read'),
      });
    }
  });
});
