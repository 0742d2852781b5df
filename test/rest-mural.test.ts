// Contract tests for the Mural audit log dialect (Mural developer portal, "Audit Log examples";
// restated in docs/compat/mural.md): every
// request example of the document replayed against this host, maxResults bounds, nextToken
// paging (reverse chronological, no token on the last page, every other parameter ignored,
// tokens that cannot be edited or used by another tenant), the date window rules, the action
// filter, the entry shape and authentication.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mistypedKey, startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { errorShape, iso, newestFirst, recordBatch } from './support/rest.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type Party = {
  company: string | null;
  email: string | null;
  id: string | null;
  name: string | null;
  type: string | null;
};
type Entry = {
  action: string;
  actor: Party;
  date: string;
  id: string;
  ip: string | null;
  snapshotDate: string;
  affected: Party;
};
type Page = { data: Entry[]; nextToken?: string };
type Recorded = { id: string; at: number; action: string };

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

/** A request as the document's examples send it: Accept and `Authorization: apikey <key>`. */
function get(query: string, key: string): Promise<Response> {
  return t.fetch(`/enterprise/v1/audit-log${query}`, {
    headers: { accept: 'application/json', authorization: `apikey ${key}` },
  });
}

async function page(query: string, key: string): Promise<Page> {
  const res = await get(query, key);
  expect(res.status, query).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as Page;
  expect(Object.keys(body)).toEqual(body.nextToken === undefined ? ['data'] : ['data', 'nextToken']);
  if (body.nextToken !== undefined) expect(body.nextToken).toMatch(/^[A-Za-z0-9_.-]+$/);
  return body;
}

/** Follows nextToken to the end; the first request carries `query`, later ones only the token. */
async function pullAll(
  query: string,
  key: string,
  maxResults: number,
): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let body = await page(`?maxResults=${maxResults}${query ? `&${query}` : ''}`, key);
  for (;;) {
    sizes.push(body.data.length);
    ids.push(...body.data.map((e) => e.id));
    if (body.nextToken === undefined) return { ids, sizes };
    expect(sizes.length).toBeLessThan(100);
    body = await page(`?maxResults=${maxResults}&nextToken=${encodeURIComponent(body.nextToken)}`, key);
  }
}

/** Records through the batch REST route; returns the events with their ids, in input order. */
async function record(tenant: TestTenant, events: Record<string, unknown>[]): Promise<Recorded[]> {
  const ids = await recordBatch(t, tenant.key, events);
  return events.map((e, i) => ({
    id: ids[i] as string,
    at: Date.parse(e.occurredAt as string),
    action: e.action as string,
  }));
}

const at = (action: string, ms: number | string) => ({
  action,
  occurredAt: typeof ms === 'string' ? ms : iso(ms),
});

const ids = (p: Page) => p.data.map((e) => e.id);

/** `count` events over the past few days, a third of them sharing an instant with another. */
function recent(action: string | ((i: number) => string), count: number, now = Date.now()) {
  return Array.from({ length: count }, (_, i) =>
    at(typeof action === 'string' ? action : action(i), now - (Math.floor(i / 3) * 2 + 1) * 37 * MINUTE),
  );
}

describe('the examples of the document', () => {
  it('retrieve the last 50 entries: ?maxResults=50', async () => {
    const tenant = await t.newTenant('mu-50');
    const events = await record(tenant, [
      ...recent((i) => ['UPDATE_COMPANY_SSO', 'CREATE_MURAL', 'SIGN_IN_FAILURE'][i % 3] as string, 60),
      at('CREATE_MURAL', Date.now() - 8 * DAY),
    ]);
    const expected = newestFirst(events.slice(0, 60));
    const first = await page('?maxResults=50', tenant.readKey);
    expect(first.data).toHaveLength(50);
    expect(ids(first)).toEqual(expected.slice(0, 50));
    expect(first.nextToken).toEqual(expect.any(String));
    // The rest of the past 7 days; the 8-day-old entry is outside the default window.
    const rest = await page(`?nextToken=${encodeURIComponent(first.nextToken as string)}`, tenant.readKey);
    expect(ids(rest)).toEqual(expected.slice(50));
    expect(rest.nextToken).toBeUndefined();
  });

  it('the example entry, field for field', async () => {
    const tenant = await t.newTenant('mu-entry');
    const [event] = await record(tenant, [
      {
        action: 'UPDATE_COMPANY_SSO',
        actor: {
          company: 'MURAL',
          email: 'integrations@mural.co',
          id: 'exampleId',
          name: 'Integrations Example User',
          type: 'USER',
        },
        occurredAt: '2022-02-01T22:19:42.841Z',
        ipAddress: '126.33.94.213',
        target: { company: 'muraltestenterprise', id: 'muraltestenterprise', kind: 'COMPANY' },
      },
    ]);
    const body = await page('?filter[date][since]=2022-02-01&filter[date][until]=2022-02-01', tenant.readKey);
    expect(body.nextToken).toBeUndefined();
    expect(body.data).toHaveLength(1);
    const entry = body.data[0] as Entry;
    expect(Object.keys(entry)).toEqual(['action', 'actor', 'date', 'id', 'ip', 'snapshotDate', 'affected']);
    expect(Object.keys(entry.actor)).toEqual(['company', 'email', 'id', 'name', 'type']);
    expect(Object.keys(entry.affected)).toEqual(['company', 'email', 'id', 'name', 'type']);
    expect(entry).toEqual({
      action: 'UPDATE_COMPANY_SSO',
      actor: {
        company: 'MURAL',
        email: 'integrations@mural.co',
        id: 'exampleId',
        name: 'Integrations Example User',
        type: 'USER',
      },
      date: '2022-02-01T22:19:42.841Z',
      id: event?.id,
      ip: '126.33.94.213',
      snapshotDate: '2022-02-01T23:59:59.999Z',
      affected: {
        company: 'muraltestenterprise',
        email: null,
        id: 'muraltestenterprise',
        name: null,
        type: 'COMPANY',
      },
    });
  });

  it('only show entries since a date: ?filter[date][since]=2022-02-01 (30 days from it)', async () => {
    const tenant = await t.newTenant('mu-since');
    const [before, first, mid, last, beyond] = await record(tenant, [
      at('CREATE_MURAL', '2022-01-31T23:59:59.999Z'),
      at('CREATE_MURAL', '2022-02-01T00:00:00.000Z'),
      at('CREATE_MURAL', '2022-02-15T12:00:00.000Z'),
      at('CREATE_MURAL', '2022-03-02T23:59:59.999Z'),
      at('CREATE_MURAL', '2022-03-03T00:00:00.000Z'),
    ]);
    const expected = newestFirst([first, mid, last]);
    // As curl sends it (the \[ \] in the example only stop curl's URL globbing) and percent-encoded.
    const literal = await page('?filter[date][since]=2022-02-01', tenant.readKey);
    expect(ids(literal)).toEqual(expected);
    expect(literal.data.at(-1)?.date).toBe('2022-02-01T00:00:00.000Z');
    const encoded = await page(
      `?${new URLSearchParams({ 'filter[date][since]': '2022-02-01' })}`,
      tenant.readKey,
    );
    expect(ids(encoded)).toEqual(expected);
    expect(ids(literal)).not.toContain(before?.id);
    expect(ids(literal)).not.toContain(beyond?.id);
  });

  it('only show entries within a date range: ?filter[date][since]=2022-02-01&filter[date][until]=2022-02-02', async () => {
    const tenant = await t.newTenant('mu-range');
    const events = await record(tenant, [
      at('CREATE_MURAL', '2022-01-31T23:59:59.999Z'),
      at('CREATE_MURAL', '2022-02-01T00:00:00.000Z'),
      at('LEAVE_WORKSPACE', '2022-02-01T13:00:00.000Z'),
      at('CREATE_MURAL', '2022-02-02T12:00:00.000Z'),
      at('CREATE_MURAL', '2022-02-02T23:59:59.999Z'),
      at('CREATE_MURAL', '2022-02-03T00:00:00.000Z'),
    ]);
    const body = await page('?filter[date][since]=2022-02-01&filter[date][until]=2022-02-02', tenant.readKey);
    expect(ids(body)).toEqual(newestFirst(events.slice(1, 5)));
    // "the entry at the top is no later than your until date; the last no earlier than since"
    expect(body.data[0]?.date).toBe('2022-02-02T23:59:59.999Z');
    expect(body.data.at(-1)?.date).toBe('2022-02-01T00:00:00.000Z');
    expect(body.nextToken).toBeUndefined();
  });

  it('use a token to paginate: ?maxResults=50000&nextToken=… continues where the last page ended', async () => {
    const tenant = await t.newTenant('mu-token');
    const events = await record(tenant, recent('CREATE_MURAL', 12));
    // "Clear all fields": the first request has no parameters, then a small page to get a token.
    const all = await page('', tenant.readKey);
    expect(ids(all)).toEqual(newestFirst(events));
    expect(all.nextToken).toBeUndefined();
    const first = await page('?maxResults=5', tenant.readKey);
    const second = await page(
      `?maxResults=50000&nextToken=${encodeURIComponent(first.nextToken as string)}`,
      tenant.readKey,
    );
    expect([...ids(first), ...ids(second)]).toEqual(ids(all));
    expect(second.nextToken).toBeUndefined();
  });

  it('paginate smaller sets: maxResults=25 and filter[action]=ACCEPT_MEMBERSHIP, the fields left filled in', async () => {
    const tenant = await t.newTenant('mu-membership');
    const events = await record(
      tenant,
      recent((i) => (i % 3 === 2 ? 'CREATE_MURAL' : 'ACCEPT_MEMBERSHIP'), 90),
    );
    const expected = newestFirst(events.filter((e) => e.action === 'ACCEPT_MEMBERSHIP'));
    expect(expected).toHaveLength(60);
    const fields = 'maxResults=25&filter[action]=ACCEPT_MEMBERSHIP';
    const seen: string[] = [];
    const sizes: number[] = [];
    let body = await page(`?${fields}`, tenant.readKey);
    for (;;) {
      expect(body.data.every((e) => e.action === 'ACCEPT_MEMBERSHIP')).toBe(true);
      seen.push(...ids(body));
      sizes.push(body.data.length);
      if (!body.nextToken) break;
      body = await page(`?${fields}&nextToken=${encodeURIComponent(body.nextToken)}`, tenant.readKey);
    }
    expect(sizes).toEqual([25, 25, 10]);
    expect(seen).toEqual(expected);
  });

  it('show all events where a new mural was created: ?filter[action]=CREATE_MURAL (past 7 days)', async () => {
    const tenant = await t.newTenant('mu-create');
    const now = Date.now();
    const events = await record(tenant, [
      at('CREATE_MURAL', now - 1 * DAY),
      at('CREATE_MURAL', now - 6 * DAY),
      at('CREATE_MURAL', now - 8 * DAY),
      at('LEAVE_WORKSPACE', now - 2 * DAY),
      at('create_mural', now - 3 * DAY),
    ]);
    const body = await page('?filter[action]=CREATE_MURAL', tenant.readKey);
    expect(ids(body)).toEqual(newestFirst(events.slice(0, 2)));
    expect(body.data.every((e) => e.action === 'CREATE_MURAL')).toBe(true);
  });

  it('show the last 25 sign-in failures: ?maxResults=25&filter[action]=SIGN_IN_FAILURE', async () => {
    const tenant = await t.newTenant('mu-failures');
    const events = await record(
      tenant,
      recent((i) => (i % 4 === 0 ? 'SIGN_IN' : 'SIGN_IN_FAILURE'), 40),
    );
    const body = await page('?maxResults=25&filter[action]=SIGN_IN_FAILURE', tenant.readKey);
    expect(ids(body)).toEqual(newestFirst(events.filter((e) => e.action === 'SIGN_IN_FAILURE')).slice(0, 25));
    expect(body.nextToken).toEqual(expect.any(String));
  });

  it('show all LEAVE_WORKSPACE events after 1 January 2021: ?filter[action]=LEAVE_WORKSPACE&filter[date][since]=2021-01-01', async () => {
    const tenant = await t.newTenant('mu-leave');
    const events = await record(tenant, [
      at('LEAVE_WORKSPACE', '2020-12-31T23:59:59.999Z'),
      at('LEAVE_WORKSPACE', '2021-01-01T00:00:00.000Z'),
      at('LEAVE_WORKSPACE', '2021-01-02T08:00:00.000Z'),
      at('CREATE_MURAL', '2021-01-02T09:00:00.000Z'),
      at('LEAVE_WORKSPACE', '2021-01-20T08:00:00.000Z'),
    ]);
    const body = await page('?filter[action]=LEAVE_WORKSPACE&filter[date][since]=2021-01-01', tenant.readKey);
    expect(ids(body)).toEqual(newestFirst([events[1], events[2], events[4]]));
    expect(body.data.every((e) => e.action === 'LEAVE_WORKSPACE' && e.date >= '2021-01-01')).toBe(true);
  });
});

describe('maxResults', () => {
  let tenant: TestTenant;
  let expected: string[];
  beforeAll(async () => {
    tenant = await t.newTenant('mu-max');
    expected = newestFirst(await record(tenant, recent('CREATE_MURAL', 10)));
  });

  it('1 and 50000 are the bounds; the default (50000) returns everything here', async () => {
    const one = await page('?maxResults=1', tenant.readKey);
    expect(ids(one)).toEqual(expected.slice(0, 1));
    expect(one.nextToken).toEqual(expect.any(String));
    const max = await page('?maxResults=50000', tenant.readKey);
    expect(ids(max)).toEqual(expected);
    expect(max.nextToken).toBeUndefined();
    expect(await page('', tenant.readKey)).toEqual(max);
    // Silent in the document: leading zeros are still a decimal number; unknown parameters are ignored.
    expect(ids(await page('?maxResults=007', tenant.readKey))).toEqual(expected.slice(0, 7));
    expect(await page('?maxResults=50000&limit=1&page=2&filter[user]=x', tenant.readKey)).toEqual(max);
  });

  it.each(['0', '50001', '-1', 'abc', '1.5', '', '1e3', '99999999999999', '5&maxResults=6'])(
    'maxResults=%s → 400 naming maxResults',
    async (value) => {
      const { status, body } = await errorShape(await get(`?maxResults=${value}`, tenant.readKey));
      expect(status).toBe(400);
      expect(body).toMatchObject({ error: 'invalid_parameter', parameter: 'maxResults' });
      expect(body.message).toContain('maxResults');
    },
  );

  it('is still checked alongside a nextToken', async () => {
    const { nextToken } = await page('?maxResults=3', tenant.readKey);
    const res = await get(
      `?maxResults=0&nextToken=${encodeURIComponent(nextToken as string)}`,
      tenant.readKey,
    );
    expect((await errorShape(res)).body).toMatchObject({ parameter: 'maxResults' });
  });
});

describe('nextToken', () => {
  it('pages are reverse chronological, never repeat or skip, and the last page has no token', async () => {
    const tenant = await t.newTenant('mu-pages');
    const expected = newestFirst(await record(tenant, recent('CREATE_MURAL', 13)));
    for (const size of [1, 2, 5, 12, 13, 14]) {
      const { ids: got, sizes } = await pullAll('', tenant.readKey, size);
      expect(got, `maxResults=${size}`).toEqual(expected);
      const full = Math.floor(13 / size);
      expect(sizes).toEqual(
        13 % size === 0
          ? Array.from({ length: full }, () => size)
          : [...Array.from({ length: full }, () => size), 13 % size],
      );
    }
  });

  it('an empty window answers {"data":[]} without a token', async () => {
    const tenant = await t.newTenant('mu-empty');
    const res = await get('', tenant.readKey);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"data":[]}');
  });

  it('maxResults may change from one page to the next', async () => {
    const tenant = await t.newTenant('mu-resize');
    const expected = newestFirst(await record(tenant, recent('CREATE_MURAL', 10)));
    const got: string[] = [];
    let body = await page('?maxResults=3', tenant.readKey);
    for (const size of [1, 4, 50000]) {
      got.push(...ids(body));
      body = await page(
        `?maxResults=${size}&nextToken=${encodeURIComponent(body.nextToken as string)}`,
        tenant.readKey,
      );
    }
    got.push(...ids(body));
    expect(body.nextToken).toBeUndefined();
    expect(got).toEqual(expected);
  });

  it('with a token every other parameter is ignored, even a malformed one', async () => {
    const tenant = await t.newTenant('mu-ignored');
    const events = await record(tenant, [
      ...Array.from({ length: 6 }, (_, i) => at('CREATE_MURAL', `2022-02-0${i + 1}T10:00:00.000Z`)),
      ...Array.from({ length: 6 }, (_, i) => at('LEAVE_WORKSPACE', `2022-02-0${i + 1}T11:00:00.000Z`)),
    ]);
    const query = 'filter[action]=CREATE_MURAL&filter[date][since]=2022-02-02&filter[date][until]=2022-02-05';
    const first = await page(`?maxResults=2&${query}`, tenant.readKey);
    const expected = newestFirst(events.slice(1, 5));
    expect(ids(first)).toEqual(expected.slice(0, 2));
    const token = encodeURIComponent(first.nextToken as string);
    const alone = await page(`?maxResults=2&nextToken=${token}`, tenant.readKey);
    expect(ids(alone)).toEqual(expected.slice(2));
    expect(alone.nextToken).toBeUndefined();
    for (const others of [
      query,
      'filter[action]=LEAVE_WORKSPACE',
      'filter[date][since]=2022-02-06&filter[date][until]=2022-02-06',
      'filter[date][since]=2020-01-01&filter[date][until]=2022-12-31', // > 30 days
      'filter[date][since]=2022-02-05&filter[date][until]=2022-02-01', // until before since
      'filter[date][since]=garbage&filter[date][until]=2022-02-30&filter[action]=',
      'filter[date][since]=2022-02-01T10:00:00', // no time zone
    ]) {
      expect(await page(`?maxResults=2&${others}&nextToken=${token}`, tenant.readKey), others).toEqual(alone);
    }
    // A parameter given twice is not a value at all: refused even beside a token.
    const twice = await get(
      `?maxResults=2&filter[action]=A&filter[action]=B&nextToken=${token}`,
      tenant.readKey,
    );
    expect((await errorShape(twice)).body).toMatchObject({ parameter: 'filter[action]' });
    // maxResults is the one parameter that still applies.
    expect(ids(await page(`?maxResults=1&${query}&nextToken=${token}`, tenant.readKey))).toEqual(
      expected.slice(2, 3),
    );
  });

  it('the token keeps the window and the position while new events arrive', async () => {
    const tenant = await t.newTenant('mu-live');
    const now = Date.now();
    const events = await record(tenant, recent('CREATE_MURAL', 6, now));
    const first = await page('?maxResults=3', tenant.readKey);
    expect(ids(first)).toEqual(newestFirst(events).slice(0, 3));
    const [newer, older] = await record(tenant, [
      at('CREATE_MURAL', Date.now()),
      at('CREATE_MURAL', now - 5 * DAY),
    ]);
    const rest = await page(`?nextToken=${encodeURIComponent(first.nextToken as string)}`, tenant.readKey);
    // The newer one is above the position (and after the window); the older one is below it.
    expect(ids(rest)).toEqual([...newestFirst(events).slice(3), older?.id]);
    expect(ids(await page('', tenant.readKey))[0]).toBe(newer?.id);
  });

  it('an edited, truncated or made-up token is a 400 naming nextToken; so is another tenant’s', async () => {
    const mine = await t.newTenant('mu-tamper-a');
    const theirs = await t.newTenant('mu-tamper-b');
    await record(mine, recent('CREATE_MURAL', 4));
    await record(theirs, recent('CREATE_MURAL', 4));
    const token = (await page('?maxResults=1', mine.readKey)).nextToken as string;
    const foreign = (await page('?maxResults=1', theirs.readKey)).nextToken as string;
    // Another key of the same tenant may continue: the token is bound to the tenant.
    expect((await get(`?nextToken=${encodeURIComponent(token)}`, mine.key)).status).toBe(200);

    const [payload, mac] = token.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(decoded).sort()).toEqual(['a', 'i', 's', 't', 'u']);
    const reencode = (changes: Record<string, unknown>) =>
      `${Buffer.from(JSON.stringify({ ...decoded, ...changes })).toString('base64url')}.${mac}`;
    const swap = (s: string, i: number) => `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    const bad = [
      token.slice(0, -1),
      token.slice(0, 20),
      `${token}x`,
      swap(token, 3),
      swap(token, token.length - 3),
      reencode({ s: 0 }), // widen the window
      reencode({ u: Date.now() + DAY }),
      reencode({ a: 'LEAVE_WORKSPACE' }),
      reencode({ t: Date.now() }),
      payload,
      'eyJleGVjdXRpb25...BUm9vMVVRPT0ifQ==', // the document's example token
      '',
      foreign,
    ];
    const refusals = await Promise.all(
      bad.map(async (b) => errorShape(await get(`?nextToken=${encodeURIComponent(b)}`, mine.readKey))),
    );
    expect(refusals[0]).toEqual({
      status: 400,
      body: {
        error: 'invalid_parameter',
        parameter: 'nextToken',
        message: expect.stringContaining('nextToken'),
      },
    });
    for (const [i, r] of refusals.entries()) expect(r, bad[i]).toEqual(refusals[0]);
    // The owner of the foreign token can still use it.
    expect((await get(`?nextToken=${encodeURIComponent(foreign)}`, theirs.readKey)).status).toBe(200);
  });
});

describe('date window', () => {
  it('none given: the past 7 days up to now', async () => {
    const tenant = await t.newTenant('mu-default');
    const now = Date.now();
    const [inside, outside, latest, future] = await record(tenant, [
      at('CREATE_MURAL', now - 7 * DAY + 2 * MINUTE),
      at('CREATE_MURAL', now - 7 * DAY - 2 * MINUTE),
      at('CREATE_MURAL', now - 1000),
      at('CREATE_MURAL', now + 3_600_000), // producers may be up to 24 h ahead
    ]);
    expect(ids(await page('', tenant.readKey))).toEqual([latest?.id, inside?.id]);
    // The outside one is there for a window that asks for it, the future one for a window reaching it.
    const tomorrow = iso(now + DAY).slice(0, 10);
    const wide = await page(
      `?filter[date][since]=${iso(now - 8 * DAY)}&filter[date][until]=${tomorrow}`,
      tenant.readKey,
    );
    expect(ids(wide)).toEqual([future?.id, latest?.id, inside?.id, outside?.id]);
  });

  it('since alone: 30 days from it, or up to now when that is sooner', async () => {
    const tenant = await t.newTenant('mu-since-recent');
    const now = Date.now();
    const [a, b, future] = await record(tenant, [
      at('CREATE_MURAL', now - 2 * DAY),
      at('CREATE_MURAL', now - 10 * DAY),
      at('CREATE_MURAL', now + 3_600_000),
    ]);
    expect(
      ids(await page(`?filter[date][since]=${iso(now - 20 * DAY).slice(0, 10)}`, tenant.readKey)),
    ).toEqual([a?.id, b?.id]);
    expect(ids(await page(`?filter[date][since]=${iso(now + DAY)}`, tenant.readKey))).toEqual([]);
    expect(future).toBeDefined();
  });

  it('until alone: the 30 days that end with it', async () => {
    const tenant = await t.newTenant('mu-until');
    const events = await record(tenant, [
      at('CREATE_MURAL', '2022-03-01T23:59:59.999Z'),
      at('CREATE_MURAL', '2022-03-02T00:00:00.000Z'),
      at('CREATE_MURAL', '2022-03-31T23:59:59.999Z'),
      at('CREATE_MURAL', '2022-04-01T00:00:00.000Z'),
    ]);
    expect(ids(await page('?filter[date][until]=2022-03-31', tenant.readKey))).toEqual(
      newestFirst(events.slice(1, 3)),
    );
  });

  it('date-times are exact to the millisecond, both ends inclusive, offsets honoured', async () => {
    const tenant = await t.newTenant('mu-instants');
    const events = await record(tenant, [
      at('CREATE_MURAL', '2022-02-01T09:59:59.999Z'),
      at('CREATE_MURAL', '2022-02-01T10:00:00.000Z'),
      at('CREATE_MURAL', '2022-02-01T11:00:00.000Z'),
      at('CREATE_MURAL', '2022-02-01T12:00:00.000Z'),
      at('CREATE_MURAL', '2022-02-01T12:00:00.001Z'),
    ]);
    const expected = newestFirst(events.slice(1, 4));
    expect(
      ids(
        await page(
          '?filter[date][since]=2022-02-01T10:00:00Z&filter[date][until]=2022-02-01T12:00:00Z',
          tenant.readKey,
        ),
      ),
    ).toEqual(expected);
    const offsets = new URLSearchParams({
      'filter[date][since]': '2022-02-01T12:00:00+02:00',
      'filter[date][until]': '2022-02-01T07:00:00.000-05:00',
    });
    expect(ids(await page(`?${offsets}`, tenant.readKey))).toEqual(expected);
    // A date-only until is the whole day; the same date as since is that one day.
    expect(
      ids(await page('?filter[date][since]=2022-02-01&filter[date][until]=2022-02-01', tenant.readKey)),
    ).toEqual(newestFirst(events));
  });

  it('a window of 30 days is served; a longer one is refused with a clear 400', async () => {
    const tenant = await t.newTenant('mu-30');
    const [start, end] = await record(tenant, [
      at('CREATE_MURAL', '2022-01-01T00:00:00.000Z'),
      at('CREATE_MURAL', '2022-01-31T00:00:00.000Z'),
    ]);
    const ok = async (since: string, until: string) =>
      ids(
        await page(
          `?${new URLSearchParams({ 'filter[date][since]': since, 'filter[date][until]': until })}`,
          tenant.readKey,
        ),
      );
    expect(await ok('2022-01-01', '2022-01-30')).toEqual([start?.id]);
    expect(await ok('2022-01-01T00:00:00Z', '2022-01-31T00:00:00Z')).toEqual([end?.id, start?.id]);
    expect(await ok('2022-01-01T00:00:00+02:00', '2022-01-30T22:00:00Z')).toEqual([start?.id]);
    for (const [since, until] of [
      ['2022-01-01', '2022-01-31'],
      ['2022-01-01T00:00:00Z', '2022-01-31T00:00:00.001Z'],
      ['2022-01-01T12:00:00Z', '2022-01-31'],
      ['2022-01-01T00:00:00+02:00', '2022-01-31T00:00:00Z'],
      ['2021-01-01', '2022-12-31'],
    ] as const) {
      const res = await get(
        `?${new URLSearchParams({ 'filter[date][since]': since, 'filter[date][until]': until })}`,
        tenant.readKey,
      );
      const { status, body } = await errorShape(res);
      expect(status, `${since} ${until}`).toBe(400);
      expect(body).toMatchObject({ error: 'invalid_parameter', parameter: 'filter[date][until]' });
      expect(body.message).toMatch(/30 days/);
    }
  });

  it.each([
    ['filter[date][since]=2022-02-30', 'filter[date][since]'],
    ['filter[date][since]=02/01/2022', 'filter[date][since]'],
    ['filter[date][since]=2022-02-01T10:00:00', 'filter[date][since]'],
    ['filter[date][since]=2022-02-01T10:00:00.0001Z', 'filter[date][since]'],
    ['filter[date][since]=', 'filter[date][since]'],
    ['filter[date][until]=2022-02-01T24:00:00Z', 'filter[date][until]'],
    ['filter[date][until]=yesterday', 'filter[date][until]'],
    ['filter[date][since]=2022-02-02&filter[date][until]=2022-02-01', 'filter[date][until]'],
    [
      'filter[date][since]=2022-02-01T10:00:00Z&filter[date][until]=2022-02-01T09:59:59.999Z',
      'filter[date][until]',
    ],
    ['filter[action]=', 'filter[action]'],
    ['filter[action]=A%00B', 'filter[action]'],
    ['filter[action]=CREATE_MURAL&filter[action]=LEAVE_WORKSPACE', 'filter[action]'],
  ])('%s → 400 naming %s', async (query, parameter) => {
    const tenant = await t.newTenant('mu-bad');
    const { status, body } = await errorShape(await get(`?${query}`, tenant.readKey));
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_parameter', parameter });
    expect(body.message).toContain(parameter);
  });
});

describe('entries', () => {
  it('have exactly the documented fields; absent values are null; snapshotDate ends the UTC day', async () => {
    const tenant = await t.newTenant('mu-shape');
    const [bare, full] = await record(tenant, [
      at('SIGN_IN', '2022-03-10T00:00:00.000Z'),
      {
        action: 'ACCEPT_MEMBERSHIP',
        actor: { id: 'u-1', email: 'ana@example.com' },
        target: { kind: 'WORKSPACE', id: 'ws-1', name: 'Design', email: 'design@example.com' },
        ipAddress: '2001:db8::1',
        occurredAt: '2022-03-10T23:59:59.999Z',
        metadata: { not: 'shown' },
      },
    ]);
    const body = await page('?filter[date][since]=2022-03-10&filter[date][until]=2022-03-10', tenant.readKey);
    expect(body.data).toEqual([
      {
        action: 'ACCEPT_MEMBERSHIP',
        actor: { company: null, email: 'ana@example.com', id: 'u-1', name: null, type: null },
        date: '2022-03-10T23:59:59.999Z',
        id: full?.id,
        ip: '2001:db8::1',
        snapshotDate: '2022-03-10T23:59:59.999Z',
        affected: {
          company: null,
          email: 'design@example.com',
          id: 'ws-1',
          name: 'Design',
          type: 'WORKSPACE',
        },
      },
      {
        action: 'SIGN_IN',
        actor: { company: null, email: null, id: null, name: null, type: null },
        date: '2022-03-10T00:00:00.000Z',
        id: bare?.id,
        ip: null,
        snapshotDate: '2022-03-10T23:59:59.999Z',
        affected: { company: null, email: null, id: null, name: null, type: null },
      },
    ]);
    for (const e of body.data) {
      expect(e.date).toMatch(ISO_MS);
      expect(e.snapshotDate).toMatch(ISO_MS);
    }
  });

  it('filter[action] is an exact, case-sensitive match on one action', async () => {
    const tenant = await t.newTenant('mu-action');
    const [upper, lower] = await record(tenant, [
      at('CREATE_MURAL', Date.now() - MINUTE),
      at('create_mural', Date.now() - 2 * MINUTE),
      at('CREATE_MURAL_TEMPLATE', Date.now() - 3 * MINUTE),
    ]);
    expect(ids(await page('?filter[action]=CREATE_MURAL', tenant.readKey))).toEqual([upper?.id]);
    expect(ids(await page('?filter[action]=create_mural', tenant.readKey))).toEqual([lower?.id]);
    expect(ids(await page('?filter[action]=CREATE', tenant.readKey))).toEqual([]);
    expect(ids(await page('?filter[action]=DOES_NOT_EXIST', tenant.readKey))).toEqual([]);
  });

  it('never include another tenant’s entries', async () => {
    const mine = await t.newTenant('mu-iso-a');
    const theirs = await t.newTenant('mu-iso-b');
    const own = await record(mine, recent('CREATE_MURAL', 5));
    await record(theirs, recent('CREATE_MURAL', 5));
    expect(ids(await page('', mine.readKey))).toEqual(newestFirst(own));
  });
});

describe('authentication', () => {
  it('Authorization: apikey <key> as documented, and the other accepted header styles', async () => {
    const tenant = await t.newTenant('mu-auth');
    const [e] = await record(tenant, recent('CREATE_MURAL', 1));
    const styles: Record<string, string>[] = [
      { authorization: `apikey ${tenant.readKey}` },
      { authorization: `APIKEY ${tenant.readKey}` },
      { authorization: `Bearer ${tenant.readKey}` },
      { 'x-api-key': tenant.readKey },
      { authorization: `Basic ${Buffer.from(`${tenant.readKey}:`).toString('base64')}` },
      { authorization: `apikey ${tenant.key}` },
    ];
    for (const headers of styles) {
      const res = await t.fetch('/enterprise/v1/audit-log?maxResults=50', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(((await res.json()) as Page).data.map((x) => x.id)).toEqual([e?.id]);
    }
  });

  it('401 without a valid key, 403 without the read scope', async () => {
    const tenant = await t.newTenant('mu-auth-fail');
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'apikey' },
      { authorization: 'apikey YOURAPIKEY' },
      { authorization: `apikey ${mistypedKey(tenant.readKey)}` },
    ];
    for (const headers of attempts) {
      const res = await t.fetch('/enterprise/v1/audit-log', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
    }
    const forbidden = await get('', tenant.writeOnlyKey);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: 'forbidden' });
  });
});
