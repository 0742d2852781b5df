// Wasabi AiR audit API (Wasabi AiR documentation, "Audit API in Wasabi AiR"; restated in
// docs/compat/wasabi.md) against this gateway: the
// document's three requests with its example data, then each parameter's meaning, defaults,
// limits, bounds and errors, checked against what was stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareBytes, type FixtureEvent, variedEvents } from './support/fixtures.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { recordBatch } from './support/rest.ts';

type WasabiEvent = {
  id: string;
  user_id: string | null;
  action_key: string;
  target_kind: string | null;
  target_id: string | null;
  time: string;
  additional_id?: string;
};
type WasabiPage = { audit_events: WasabiEvent[]; total: number; page: number };
type ErrorBody = { error: string; message: string; parameter?: string; requestId?: string };

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

/** Stores events in the canonical shape through the batch route; returns their ids in order. */
const ingest = (key: string, events: unknown[]) => recordBatch(t, key, events);

async function list(key: string, query = ''): Promise<WasabiPage> {
  const res = await t.fetch(`/api/data/audit${query ? `?${query}` : ''}`, { key });
  expect(res.status, query).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as WasabiPage;
}

async function refused(key: string, path: string): Promise<ErrorBody> {
  const res = await t.fetch(path, { key });
  expect(res.status, path).toBe(400);
  return (await res.json()) as ErrorBody;
}

describe("the document's requests, with its example data", () => {
  const user = '59790c0f1ab46239e59188bed540bfc7';
  let tenant: TestTenant;
  let ids: string[];
  beforeAll(async () => {
    tenant = await t.newTenant('wasabi-doc');
    // The document's times have microseconds; stored times have milliseconds.
    ids = await ingest(tenant.key, [
      {
        action: 'login',
        actor: { id: user },
        target: { kind: 'authenticate', id: user },
        occurredAt: '2017-10-11T16:49:52.758Z',
      },
      {
        action: 'enable',
        actor: { id: user },
        target: { kind: 'feature', id: 'disabled_live_harvesting' },
        occurredAt: '2017-10-13T20:54:43.140Z',
      },
      {
        action: 'update-password',
        actor: { id: user },
        target: { kind: 'authenticate', id: user },
        occurredAt: '2017-10-14T08:00:00.000Z',
      },
      {
        action: 'create',
        actor: { id: user },
        groupId: 'g-1',
        target: { kind: 'group', id: 'g-1' },
        occurredAt: '2017-10-15T08:00:00.000Z',
      },
    ]);
  });

  it('GET /api/data/audit: {audit_events, total, page} with exactly the documented event fields', async () => {
    expect(await list(tenant.readKey)).toStrictEqual({
      audit_events: [
        {
          id: ids[0],
          user_id: user,
          action_key: 'login',
          target_kind: 'authenticate',
          target_id: user,
          time: '2017-10-11T16:49:52.758Z',
        },
        {
          id: ids[1],
          user_id: user,
          action_key: 'enable',
          target_kind: 'feature',
          target_id: 'disabled_live_harvesting',
          time: '2017-10-13T20:54:43.140Z',
        },
        {
          id: ids[2],
          user_id: user,
          action_key: 'update-password',
          target_kind: 'authenticate',
          target_id: user,
          time: '2017-10-14T08:00:00.000Z',
        },
        {
          id: ids[3],
          user_id: user,
          action_key: 'create',
          target_kind: 'group',
          target_id: 'g-1',
          time: '2017-10-15T08:00:00.000Z',
        },
      ],
      total: 4,
      page: 0,
    });
  });

  it('GET /api/data/audit/{id}: the bare event, without additional_id when it has none', async () => {
    const res = await t.fetch(`/api/data/audit/${ids[1]}`, { key: tenant.readKey });
    expect(res.status).toBe(200);
    expect(await res.json()).toStrictEqual({
      id: ids[1],
      user_id: user,
      action_key: 'enable',
      target_kind: 'feature',
      target_id: 'disabled_live_harvesting',
      time: '2017-10-13T20:54:43.140Z',
    });
  });

  it('GET /api/data/audit/filters: the target kinds seen, each with its action keys', async () => {
    const res = await t.fetch('/api/data/audit/filters', { key: tenant.readKey });
    expect(res.status).toBe(200);
    expect(await res.json()).toStrictEqual({
      target_kinds: [
        { name: 'authenticate', action_keys: ['login', 'update-password'] },
        { name: 'feature', action_keys: ['enable'] },
        { name: 'group', action_keys: ['create'] },
      ],
    });
  });

  it('needs a key with the read scope on all three routes', async () => {
    for (const path of ['/api/data/audit', `/api/data/audit/${ids[0]}`, '/api/data/audit/filters']) {
      const anonymous = await t.fetch(path);
      expect(anonymous.status, path).toBe(401);
      expect(((await anonymous.json()) as ErrorBody).error).toBe('unauthenticated');
      expect((await t.fetch(path, { key: tenant.writeOnlyKey })).status, path).toBe(403);
    }
  });
});

describe('listing: filters, order and pages', () => {
  const fixture = variedEvents(150, 21);
  let tenant: TestTenant;
  let stored: (FixtureEvent & { id: string })[];
  beforeAll(async () => {
    tenant = await t.newTenant('wasabi-list');
    const ids = await ingest(tenant.key, fixture);
    stored = fixture.map((e, i) => ({ ...e, id: ids[i] as string }));
    // Another tenant's events with the same vocabulary must never count.
    const other = await t.newTenant('wasabi-other');
    await ingest(other.key, variedEvents(40, 21));
  });

  const keyOf: Record<string, (e: FixtureEvent) => string | null> = {
    ctime: () => null,
    user_id: (e) => e.actor?.id ?? null,
    group_id: (e) => e.groupId ?? null,
    target_kind: (e) => e.target?.kind ?? null,
    action_key: (e) => e.action,
  };
  /** The stored events in the documented order: ascending field (absent first), then time, then id. */
  const ordered = (order: string, events = stored) =>
    [...events].sort(
      (a, b) =>
        compareBytes(keyOf[order]?.(a) ?? '', keyOf[order]?.(b) ?? '') ||
        Date.parse(a.occurredAt) - Date.parse(b.occurredAt) ||
        compareBytes(a.id, b.id),
    );
  const idsOf = (page: WasabiPage) => page.audit_events.map((e) => e.id);

  it('each filter matches exactly the events with that value, and total counts them', async () => {
    const first = stored.find((e) => e.actor?.id && e.groupId && e.target?.id) as FixtureEvent;
    const cases: [string, string, (e: FixtureEvent) => boolean][] = [
      ['user_id', first.actor?.id as string, (e) => e.actor?.id === first.actor?.id],
      ['group_id', first.groupId as string, (e) => e.groupId === first.groupId],
      ['target_kind', first.target?.kind as string, (e) => e.target?.kind === first.target?.kind],
      ['target_id', first.target?.id as string, (e) => e.target?.id === first.target?.id],
      ['action_key', first.action, (e) => e.action === first.action],
    ];
    for (const [param, value, keep] of cases) {
      const expected = ordered('ctime').filter(keep);
      expect(expected.length, param).toBeGreaterThan(1);
      expect(expected.length, param).toBeLessThan(stored.length);
      const page = await list(tenant.readKey, `${param}=${encodeURIComponent(value)}&count=1000`);
      expect(idsOf(page), param).toEqual(expected.map((e) => e.id));
      expect(page.total, param).toBe(expected.length);
    }
  });

  it('filters combine with AND; a value nobody has matches nothing', async () => {
    const e = stored.find((x) => x.actor?.id && x.target?.kind) as FixtureEvent;
    const keep = (x: FixtureEvent) =>
      x.actor?.id === e.actor?.id && x.action === e.action && x.target?.kind === e.target?.kind;
    const expected = ordered('ctime').filter(keep);
    const query = `user_id=${e.actor?.id}&action_key=${e.action}&target_kind=${e.target?.kind}&count=1000`;
    const page = await list(tenant.readKey, query);
    expect(idsOf(page)).toEqual(expected.map((x) => x.id));
    expect(page.total).toBe(expected.length);
    expect(await list(tenant.readKey, 'user_id=nobody')).toStrictEqual({
      audit_events: [],
      total: 0,
      page: 0,
    });
  });

  it('orders by each documented field ascending, absent values first, ties by time then id; ctime by default', async () => {
    for (const order of ['ctime', 'user_id', 'group_id', 'target_kind', 'action_key']) {
      const page = await list(tenant.readKey, `order=${order}&count=1000`);
      expect(idsOf(page), order).toEqual(ordered(order).map((e) => e.id));
    }
    const byDefault = await list(tenant.readKey, 'count=1000');
    expect(idsOf(byDefault)).toEqual(ordered('ctime').map((e) => e.id));
    const times = byDefault.audit_events.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('pages: page defaults to 0 and count to 20; pages tile the result; beyond the end is empty', async () => {
    const all = ordered('ctime').map((e) => e.id);
    const first = await list(tenant.readKey);
    expect(first.page).toBe(0);
    expect(first.total).toBe(150);
    expect(idsOf(first)).toEqual(all.slice(0, 20));
    expect(idsOf(await list(tenant.readKey, 'page=1'))).toEqual(all.slice(20, 40));
    const odd = await list(tenant.readKey, 'page=3&count=7');
    expect(odd.page).toBe(3);
    expect(idsOf(odd)).toEqual(all.slice(21, 28));

    const tiled: string[] = [];
    for (let page = 0; page < 4; page++) {
      const p = await list(tenant.readKey, `page=${page}&count=40`);
      expect(p.page).toBe(page);
      expect(p.total).toBe(150);
      tiled.push(...idsOf(p));
    }
    expect(tiled).toEqual(all);
    expect(await list(tenant.readKey, 'page=4&count=40')).toStrictEqual({
      audit_events: [],
      total: 150,
      page: 4,
    });
  });

  it('pages through a filtered order with the filtered total', async () => {
    const expected = ordered('user_id').filter((e) => e.action === 'login');
    const seen: string[] = [];
    for (let page = 0; page * 5 < expected.length; page++) {
      const p = await list(tenant.readKey, `action_key=login&order=user_id&count=5&page=${page}`);
      expect(p.total).toBe(expected.length);
      seen.push(...idsOf(p));
    }
    expect(seen).toEqual(expected.map((e) => e.id));
  });
});

describe('count: the documented default and maximum', () => {
  it('serves exactly the maximum the OpenAPI document states, and refuses one more', async () => {
    const doc = (await (await t.fetch('/openapi.json')).json()) as {
      paths: Record<string, { get: { parameters: { name: string; schema: Record<string, number> }[] } }>;
    };
    const count = doc.paths['/api/data/audit']?.get.parameters.find((p) => p.name === 'count')?.schema;
    const max = count?.maximum as number;
    expect(count?.default).toBe(20);
    expect(count?.minimum).toBe(1);
    expect(max).toBeGreaterThanOrEqual(20);

    const tenant = await t.newTenant('wasabi-max');
    const events = Array.from({ length: max + 1 }, (_, i) => ({ action: 'bulk', metadata: { i } }));
    for (let i = 0; i < events.length; i += 1000) await ingest(tenant.key, events.slice(i, i + 1000));
    const full = await list(tenant.readKey, `count=${max}`);
    expect(full.audit_events).toHaveLength(max);
    expect(full.total).toBe(max + 1);
    const rest = await list(tenant.readKey, `count=${max}&page=1`);
    expect(rest.audit_events).toHaveLength(1);
    expect(new Set([...full.audit_events, ...rest.audit_events].map((e) => e.id)).size).toBe(max + 1);
    expect((await list(tenant.readKey, '')).audit_events).toHaveLength(20);

    const over = await refused(tenant.readKey, `/api/data/audit?count=${max + 1}`);
    expect(over).toMatchObject({ error: 'invalid_parameter', parameter: 'count' });
    expect(over.message).toContain(String(max));
  });
});

describe('from and to: RFC 3339, both exclusive', () => {
  const T = Date.parse('2026-11-01T10:00:00.000Z');
  const U = Date.parse('2026-11-01T11:00:00.000Z');
  const at = (ms: number) => new Date(ms).toISOString();
  const instants = [T - 1, T, T + 1, U - 1, U, U + 1];
  let tenant: TestTenant;
  let idAt: Map<number, string>;
  beforeAll(async () => {
    tenant = await t.newTenant('wasabi-bounds');
    const ids = await ingest(
      tenant.key,
      instants.map((ms) => ({ action: 'tick', occurredAt: at(ms) })),
    );
    idAt = new Map(instants.map((ms, i) => [ms, ids[i] as string]));
  });

  const expectInstants = async (query: string, expected: number[]) => {
    const page = await list(tenant.readKey, query);
    expect(
      page.audit_events.map((e) => Date.parse(e.time)),
      query,
    ).toEqual(expected);
    expect(
      page.audit_events.map((e) => e.id),
      query,
    ).toEqual(expected.map((ms) => idAt.get(ms)));
    expect(page.total, query).toBe(expected.length);
  };

  it('an event exactly at from or to is left out; one millisecond inside is kept', async () => {
    await expectInstants(`from=${at(T)}`, [T + 1, U - 1, U, U + 1]);
    await expectInstants(`to=${at(U)}`, [T - 1, T, T + 1, U - 1]);
    await expectInstants(`from=${at(T)}&to=${at(U)}`, [T + 1, U - 1]);
    await expectInstants(`from=${at(T - 1)}&to=${at(U + 1)}`, [T, T + 1, U - 1, U]);
  });

  it('reads offsets and finer fractions as the instant they name', async () => {
    await expectInstants(`from=${encodeURIComponent('2026-11-01T12:00:00+02:00')}`, [T + 1, U - 1, U, U + 1]);
    await expectInstants('to=2026-11-01T06:00:00.000001-05:00', [T - 1, T, T + 1, U - 1, U]);
    // Half a millisecond after T: T is older, T + 1 ms is newer.
    await expectInstants('from=2026-11-01T10:00:00.000500Z', [T + 1, U - 1, U, U + 1]);
    // Half a millisecond before U: U - 1 ms is older, U is not.
    await expectInstants('to=2026-11-01T10:59:59.999500Z', [T - 1, T, T + 1, U - 1]);
    // Trailing zeros change nothing.
    await expectInstants('from=2026-11-01T10:00:00.000000000Z&to=2026-11-01T11:00:00.000000Z', [
      T + 1,
      U - 1,
    ]);
  });

  it('from equal to to matches nothing; to before from is refused naming to', async () => {
    await expectInstants(`from=${at(T)}&to=${at(T)}`, []);
    await expectInstants(`from=${at(T)}&to=${at(T + 1)}`, []);
    const inverted = await refused(tenant.readKey, `/api/data/audit?from=${at(U)}&to=${at(T)}`);
    expect(inverted).toMatchObject({ error: 'invalid_parameter', parameter: 'to' });
  });

  it('refuses what is not an RFC 3339 date-time, naming the parameter', async () => {
    const bad = [
      'from=2026-11-01',
      'from=yesterday',
      'from=2026-11-01T10:00:00',
      'to=2026-02-30T00:00:00Z',
      'to=2026-11-01T25:00:00Z',
      'to=1509720000',
      'from=2026-11-01T10:00:00.0000000001Z',
    ];
    for (const query of bad) {
      const body = await refused(tenant.readKey, `/api/data/audit?${query}`);
      const name = query.split('=')[0] as string;
      expect(body, query).toMatchObject({ error: 'invalid_parameter', parameter: name });
      expect(body.message, query).toContain(name);
    }
  });
});

describe('bad parameters', () => {
  it('answer 400 with a JSON body naming the parameter and the reason', async () => {
    const tenant = await t.newTenant('wasabi-bad');
    const cases: [string, string][] = [
      ['order=time', 'order'],
      ['order=CTIME', 'order'],
      ['order=', 'order'],
      ['page=-1', 'page'],
      ['page=1.5', 'page'],
      ['page=first', 'page'],
      ['count=0', 'count'],
      ['count=-20', 'count'],
      ['count=ten', 'count'],
      ['user_id=', 'user_id'],
      ['action_key=a%00b', 'action_key'],
      [`target_id=${'x'.repeat(321)}`, 'target_id'],
      ['group_id=tab%09bed', 'group_id'],
    ];
    for (const [query, name] of cases) {
      const body = await refused(tenant.readKey, `/api/data/audit?${query}`);
      expect(body, query).toMatchObject({ error: 'invalid_parameter', parameter: name });
      expect(body.message, query).toMatch(new RegExp(`^${name}: \\S`));
    }
  });
});

describe('GET /api/data/audit/{id}', () => {
  it('includes additional_id when the event has one, and matches the listing otherwise', async () => {
    const tenant = await t.newTenant('wasabi-get');
    const [withExtra, plain] = await ingest(tenant.key, [
      {
        action: 'add-group',
        actor: { id: 'u-7' },
        target: { kind: 'location', id: 'loc-1' },
        additionalId: 'group-42',
        occurredAt: '2026-11-02T00:00:00.000Z',
      },
      { action: 'logout', occurredAt: '2026-11-02T00:00:01.000Z' },
    ]);
    const detail = (await (
      await t.fetch(`/api/data/audit/${withExtra}`, { key: tenant.readKey })
    ).json()) as WasabiEvent;
    expect(detail).toStrictEqual({
      id: withExtra,
      user_id: 'u-7',
      action_key: 'add-group',
      target_kind: 'location',
      target_id: 'loc-1',
      time: '2026-11-02T00:00:00.000Z',
      additional_id: 'group-42',
    });
    const bare = (await (
      await t.fetch(`/api/data/audit/${plain}`, { key: tenant.readKey })
    ).json()) as object;
    expect(bare).toStrictEqual({
      id: plain,
      user_id: null,
      action_key: 'logout',
      target_kind: null,
      target_id: null,
      time: '2026-11-02T00:00:01.000Z',
    });
    // The listing never carries additional_id; otherwise it is the same object.
    const [listedExtra, listedPlain] = (await list(tenant.readKey)).audit_events;
    const { additional_id: _, ...withoutExtra } = detail;
    expect(listedExtra).toStrictEqual(withoutExtra);
    expect(listedPlain).toStrictEqual(bare);
  });

  it("answers an unknown id and another tenant's id with the same 404", async () => {
    const mine = await t.newTenant('wasabi-404-a');
    const theirs = await t.newTenant('wasabi-404-b');
    const [foreign] = await ingest(theirs.key, [{ action: 'secret' }]);
    const strip = ({ requestId: _, ...rest }: ErrorBody) => rest;
    const answers: Omit<ErrorBody, 'requestId'>[] = [];
    for (const id of [
      foreign as string,
      '01890000-0000-7000-8000-000000000000',
      '59e12813db0201953dfe7214c4750e88',
      'not-an-id',
    ]) {
      const res = await t.fetch(`/api/data/audit/${id}`, { key: mine.readKey });
      expect(res.status, id).toBe(404);
      answers.push(strip((await res.json()) as ErrorBody));
    }
    expect(answers[0]).toMatchObject({ error: 'not_found' });
    for (const a of answers) expect(a).toStrictEqual(answers[0]);
    // The owner does see it.
    expect((await t.fetch(`/api/data/audit/${foreign}`, { key: theirs.readKey })).status).toBe(200);
  });
});

describe('GET /api/data/audit/filters', () => {
  it("lists only the caller's target kinds, sorted, each with its sorted distinct action keys", async () => {
    const mine = await t.newTenant('wasabi-filters-a');
    const theirs = await t.newTenant('wasabi-filters-b');
    expect(await (await t.fetch('/api/data/audit/filters', { key: mine.readKey })).json()).toStrictEqual({
      target_kinds: [],
    });
    const fixture = variedEvents(80, 5);
    await ingest(mine.key, fixture);
    await ingest(theirs.key, [
      { action: 'drop-table', target: { kind: 'database' } },
      { action: 'secret-action', target: { kind: 'feature' } },
    ]);
    const kinds = new Map<string, Set<string>>();
    for (const e of fixture) {
      if (!e.target?.kind) continue; // an event without a target kind has nothing to list
      kinds.set(e.target.kind, (kinds.get(e.target.kind) ?? new Set()).add(e.action));
    }
    const expected = [...kinds.keys()].sort(compareBytes).map((name) => ({
      name,
      action_keys: [...(kinds.get(name) as Set<string>)].sort(compareBytes),
    }));
    const res = await t.fetch('/api/data/audit/filters', { key: mine.readKey });
    expect(await res.json()).toStrictEqual({ target_kinds: expected });
  });
});
