// Bad input gets a 4xx naming what is wrong, never a 500, and is never silently changed: dates
// outside what the database stores, request bodies that are not UTF-8, odd ids and keys, and
// the same filter written in another order.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstMalformedByte } from '../src/http/utf8-body.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

const get = async (path: string, key: string) => {
  const res = await t.fetch(path, { key });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const post = (path: string, key: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  t.fetch(path, {
    key,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body as BodyInit,
  });

const storedCount = async (tenant: TestTenant) => {
  const res = await t.gqlRaw({ query: '{ auditEvents { totalCount } }' }, tenant.readKey);
  return (res.data as { auditEvents: { totalCount: number } }).auditEvents.totalCount;
};

const outOfRange = /outside the supported range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59\.999Z/;

describe('dates outside the years 0001 to 9999', () => {
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await t.newTenant('dates');
  });

  it('MadKudu: a year-0000 day is a 400 naming the parameter; 9999-12-31 as the last day is served', async () => {
    const zero = await get('/v1/audit?from=0000-01-01', tenant.readKey);
    expect(zero.status).toBe(400);
    expect(zero.body).toMatchObject({ parameter: 'from', message: expect.stringMatching(outOfRange) });
    // 0000-02-29 exists in the proleptic calendar (year 0 is a leap year): out of range, not unreal.
    const leap = await get('/v1/audit?to=0000-02-29', tenant.readKey);
    expect(leap.status).toBe(400);
    expect(leap.body).toMatchObject({ parameter: 'to', message: expect.stringMatching(outOfRange) });
    expect(leap.body.message).not.toMatch(/not a real calendar date/);
    expect((await get('/v1/audit?to=0000-02-30', tenant.readKey)).status).toBe(400);
    const lastDay = await get('/v1/audit?from=9999-12-01&to=9999-12-31', tenant.readKey);
    expect(lastDay).toEqual({ status: 200, body: { events: [] } });
  });

  it('MadKudu: years 0001 to 0099 are read as written, not as 1901 to 1999', async () => {
    // Read as 1999-12-31, this `to` would lie after `from`.
    const res = await get('/v1/audit?from=1999-01-01&to=0099-12-31', tenant.readKey);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ parameter: 'to', message: 'to: must not be before from' });
  });

  it('Mural: out-of-range bounds are a 400 naming the parameter; the last storable instant is served', async () => {
    const path = (q: string) => `/enterprise/v1/audit-log?${q}`;
    const leap = await get(path('filter[date][since]=0000-02-29'), tenant.readKey);
    expect(leap.status).toBe(400);
    expect(leap.body).toMatchObject({
      parameter: 'filter[date][since]',
      message: expect.stringMatching(outOfRange),
    });
    // An offset that carries the instant into year 10000.
    const pastEnd = await get(path('filter[date][until]=9999-12-31T23:30:00-01:00'), tenant.readKey);
    expect(pastEnd.status).toBe(400);
    expect(pastEnd.body).toMatchObject({ parameter: 'filter[date][until]' });
    for (const until of ['9999-12-31', '9999-12-31T23:59:59.999Z', '0001-01-10T00:00:00Z', '0001-01-10']) {
      const res = await get(path(`filter[date][until]=${until}`), tenant.readKey);
      expect(res, until).toEqual({ status: 200, body: { data: [] } });
    }
  });

  it('Wasabi: out-of-range bounds are a 400 naming the parameter; newer than the last instant is empty', async () => {
    const early = await get('/api/data/audit?from=0000-12-31T23:59:59Z', tenant.readKey);
    expect(early.status).toBe(400);
    expect(early.body).toMatchObject({ parameter: 'from', message: expect.stringMatching(outOfRange) });
    // 00:30 at +01:00 is 23:30 UTC on the last day of year 0000.
    const offset = await get('/api/data/audit?to=0001-01-01T00:30:00%2B01:00', tenant.readKey);
    expect(offset.status).toBe(400);
    expect(offset.body).toMatchObject({ parameter: 'to' });
    const last = await get(
      '/api/data/audit?from=9999-12-31T23:59:59.999Z&to=9999-12-31T23:59:59.999Z',
      tenant.readKey,
    );
    expect(last).toEqual({ status: 200, body: { audit_events: [], total: 0, page: 0 } });
    expect((await get('/api/data/audit?from=9999-12-31T23:59:59.999Z', tenant.readKey)).status).toBe(200);
  });

  it('GraphQL filters: an out-of-range DateTime is a 400 BAD_USER_INPUT quoting the value', async () => {
    const literal = await t.gqlRaw(
      { query: '{ auditEvents(filter: { since: "0000-06-01T00:00:00Z" }) { totalCount } }' },
      tenant.readKey,
    );
    expect(literal.status).toBe(400);
    expect(literal.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(literal.errors?.[0]?.message).toMatch(outOfRange);
    const query = 'query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }';
    const variable = await t.gqlRaw(
      { query, variables: { f: { until: '9999-12-31T23:59:59-01:00' } } },
      tenant.readKey,
    );
    expect(variable.status).toBe(400);
    expect(variable.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(variable.errors?.[0]?.message).toContain('"9999-12-31T23:59:59-01:00" is outside');
    expect(variable.errors?.[0]?.message).toMatch(outOfRange);
    const edges = await t.gqlRaw(
      { query, variables: { f: { since: '0001-01-01T00:00:00Z', until: '9999-12-31T23:59:59.999Z' } } },
      tenant.readKey,
    );
    expect(edges).toEqual({ status: 200, data: { auditEvents: { totalCount: 0 } } });
  });

  it('ingest: a year-0000 occurredAt is refused as out of range, not as an unreal date', async () => {
    const gql = await t.gqlRaw(
      {
        query: 'mutation($i: RecordEventInput!) { recordEvent(input: $i) { id } }',
        variables: { i: { action: 'x', occurredAt: '0000-02-29T00:00:00Z' } },
      },
      tenant.key,
    );
    expect(gql.status).toBe(400);
    expect(gql.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(gql.errors?.[0]?.message).toMatch(outOfRange);
    const batch = await post(
      '/audit/v1/events',
      tenant.key,
      JSON.stringify({ events: [{ action: 'x', occurredAt: '0000-02-29T00:00:00Z' }] }),
    );
    expect(await batch.json()).toMatchObject({
      results: [
        {
          status: 'rejected',
          error: { parameter: 'events[0].occurredAt', message: expect.stringMatching(outOfRange) },
        },
      ],
    });
    expect(await storedCount(tenant)).toBe(0);
  });
});

describe('request bodies that are not UTF-8', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  /** `before`, then the raw bytes, then `after`, as one body. */
  const withBytes = (before: string, bytes: number[], after: string) =>
    new Uint8Array([...utf8(before), ...bytes, ...utf8(after)]);

  it('Replicated POST: a 0xFF byte is a 400 giving its offset, and nothing is stored', async () => {
    const tenant = await t.newTenant('utf8-one');
    const prefix = '{"action":"login","description":"caf';
    const res = await post('/audit/v1/event', tenant.key, withBytes(prefix, [0xff], '"}'));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_parameter',
      parameter: 'body',
      message: expect.stringContaining(`byte offset ${prefix.length} (0xFF)`),
    });
    expect(await storedCount(tenant)).toBe(0);
  });

  it('batch route: an encoded surrogate (ED A0 80) is a 400 giving its offset, and nothing is stored', async () => {
    const tenant = await t.newTenant('utf8-batch');
    const prefix = '{"events":[{"action":"ok"},{"action":"x","title":"';
    const res = await post('/audit/v1/events', tenant.key, withBytes(prefix, [0xed, 0xa0, 0x80], '"}]}'));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      parameter: 'body',
      message: expect.stringContaining(`byte offset ${prefix.length} (0xED)`),
    });
    expect(await storedCount(tenant)).toBe(0);
  });

  it('GraphQL: a malformed byte in a variable is a 400 BAD_USER_INPUT, and nothing is stored', async () => {
    const tenant = await t.newTenant('utf8-gql');
    const prefix = JSON.stringify({
      query: 'mutation($i: RecordEventInput!) { recordEvent(input: $i) { id } }',
      variables: { i: { action: 'login', title: '' } },
    }).slice(0, -4); // up to the opening quote of the title's value
    const res = await post('/graphql', tenant.key, withBytes(prefix, [0xc3, 0x28], '"}}}'));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'body' });
    expect(body.errors[0]?.message).toContain(`byte offset ${prefix.length} (0xC3)`);
    expect(await storedCount(tenant)).toBe(0);
  });

  it('a lone surrogate written as a JSON escape is refused in every string of an event, naming it', async () => {
    const tenant = await t.newTenant('surrogate');
    const lone = '\ud800';
    const events = [
      { action: lone },
      { action: 'x', name: lone },
      { action: 'x', title: `a${lone}` },
      { action: 'x', description: lone },
      { action: 'x', actor: { id: lone } },
      { action: 'x', groupId: lone },
      { action: 'x', target: { kind: lone } },
      { action: 'x', additionalId: lone },
      { action: 'x', feature: { name: lone } },
      { action: 'x', metadata: { k: [lone] } },
      { action: 'x', metadata: { [lone]: 1 } },
      { action: 'x', idempotencyKey: lone },
    ];
    // JSON.stringify writes a lone surrogate as the escape \ud800, so the body itself is valid UTF-8.
    const res = await post('/audit/v1/events', tenant.key, JSON.stringify({ events }));
    const { results } = (await res.json()) as {
      results: { status: string; error?: { parameter: string } }[];
    };
    expect(results.map((r) => r.error?.parameter)).toEqual([
      'events[0].action',
      'events[1].name',
      'events[2].title',
      'events[3].description',
      'events[4].actor.id',
      'events[5].groupId',
      'events[6].target.kind',
      'events[7].additionalId',
      'events[8].feature.name',
      'events[9].metadata.k.0',
      'events[10].metadata',
      'events[11].idempotencyKey',
    ]);
    const gql = await t.gqlRaw(
      {
        query: 'mutation($i: RecordEventInput!) { recordEvent(input: $i) { id } }',
        variables: { i: { action: 'x', actor: { name: lone } } },
      },
      tenant.key,
    );
    expect(gql.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.actor.name' });
    const replicated = await post(
      '/audit/v1/event',
      tenant.key,
      JSON.stringify({ action: 'x', title: lone }),
    );
    expect(replicated.status).toBe(400);
    expect(await replicated.json()).toMatchObject({ parameter: 'title' });
    expect(await storedCount(tenant)).toBe(0);
  });

  it('the offset reported is where a strict decoder first fails', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const decodes = (b: Uint8Array) => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    // Bytes biased towards multi-byte leads and continuations, where the edge cases are.
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0x80, max: 0xf5 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 12 }), (bytes) => {
        const b = new Uint8Array(bytes);
        const at = firstMalformedByte(b);
        if (at === -1) return decodes(b);
        // Everything before the offset is well formed; the sequence starting there is not.
        return decodes(b.subarray(0, at)) && !decodes(b) && !decodes(b.subarray(at, at + 4));
      }),
      { numRuns: propertyRuns(5000) },
    );
  });

  it('valid UTF-8, including U+FFFD and 4-byte characters sent as such, is stored exactly', async () => {
    const tenant = await t.newTenant('utf8-ok');
    const title = 'caf\u00e9 \ufffd \u{1f600}';
    const res = await post(
      '/audit/v1/events',
      tenant.key,
      JSON.stringify({ events: [{ action: 'x', title }] }),
    );
    expect(res.status).toBe(200);
    const list = await t.gqlRaw({ query: '{ auditEvents { edges { node { title } } } }' }, tenant.readKey);
    expect(list.data).toEqual({ auditEvents: { edges: [{ node: { title } }] } });
  });
});

describe('ids and keys at their limits', () => {
  it('an event id of 201 characters is not found, like any other id this API never handed out', async () => {
    const tenant = await t.newTenant('long-id');
    const id = 'a'.repeat(201);
    for (const path of [`/v1/audit/${id}`, `/api/data/audit/${id}`]) {
      const res = await get(path, tenant.readKey);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toMatchObject({ error: 'not_found' });
    }
    const gql = await t.gqlRaw({ query: `{ event(id: "${id}") { id } }` }, tenant.readKey);
    expect(gql).toEqual({ status: 200, data: { event: null } });
  });

  it('a batch Idempotency-Key of the documented maximum (196) works up to event 999; one more is a 400', async () => {
    const tenant = await t.newTenant('batch-key');
    const key = 'k'.repeat(196);
    // Only the last event is valid: it gets the longest derived key, `<key>:999`, 200 characters.
    const events = [...Array.from({ length: 999 }, () => ({})), { action: 'last' }];
    const first = await post('/audit/v1/events', tenant.key, JSON.stringify({ events }), {
      'Idempotency-Key': key,
    });
    expect(first.status).toBe(200);
    const results = ((await first.json()) as { results: { status: string }[] }).results;
    expect(results.at(-1)).toMatchObject({ status: 'stored' });
    const again = await post('/audit/v1/events', tenant.key, JSON.stringify({ events }), {
      'Idempotency-Key': key,
    });
    expect(((await again.json()) as { results: { status: string }[] }).results.at(-1)).toMatchObject({
      status: 'replayed',
    });
    const tooLong = await post(
      '/audit/v1/events',
      tenant.key,
      JSON.stringify({ events: [{ action: 'x' }] }),
      {
        'Idempotency-Key': `${key}k`,
      },
    );
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({
      parameter: 'Idempotency-Key',
      message: 'Idempotency-Key: must be at most 196 characters',
    });
    expect(await storedCount(tenant)).toBe(1);
    // The single-event route keeps the full 200.
    const single = await post('/audit/v1/event', tenant.key, '{"action":"x"}', {
      'Idempotency-Key': 'k'.repeat(200),
    });
    expect(single.status).toBe(201);
  });
});

describe('"__proto__" in metadata', () => {
  it('is refused alike as a GraphQL literal, a GraphQL variable and in a REST body, naming the path', async () => {
    const tenant = await t.newTenant('proto');
    const literal = await t.gqlRaw(
      {
        query:
          'mutation { recordEvent(input: { action: "x", metadata: { a: { __proto__: { b: 1 } } } }) { id } }',
      },
      tenant.key,
    );
    expect(literal.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(literal.errors?.[0]?.message).toMatch(/__proto__/);
    // JSON.parse, as the server reads the request, keeps "__proto__" as an ordinary own key.
    const variable = await t.gqlRaw(
      '{"query":"mutation($i: RecordEventInput!) { recordEvent(input: $i) { id } }",' +
        '"variables":{"i":{"action":"x","metadata":{"a":{"__proto__":{"b":1}}}}}}',
      tenant.key,
    );
    expect(variable.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.metadata.a',
    });
    expect(variable.errors?.[0]?.message).toMatch(/__proto__/);
    const rest = await post(
      '/audit/v1/events',
      tenant.key,
      '{"events":[{"action":"x","feature":{"name":"f","metas":{"__proto__":{"b":1}}}}]}',
    );
    expect(await rest.json()).toMatchObject({
      results: [{ status: 'rejected', error: { parameter: 'events[0].feature.metas' } }],
    });
    expect(await storedCount(tenant)).toBe(0);
    // Other keys that name Object.prototype members are ordinary data.
    const plain = await t.gqlRaw(
      {
        query: 'mutation($i: RecordEventInput!) { recordEvent(input: $i) { metadata } }',
        variables: { i: { action: 'x', metadata: { constructor: 'c', prototype: 'p' } } },
      },
      tenant.key,
    );
    expect(plain.data).toEqual({ recordEvent: { metadata: { constructor: 'c', prototype: 'p' } } });
  });
});

describe('cursors and list filters', () => {
  it('a cursor stays valid when the filter lists the same values in another order, or repeats one', async () => {
    const tenant = await t.newTenant('cursor-order');
    const events = ['a', 'b', 'a', 'b', 'c'].map((action) => ({ action }));
    await post('/audit/v1/events', tenant.key, JSON.stringify({ events }));
    const query = `query($f: AuditEventFilter, $after: String) {
      auditEvents(filter: $f, first: 2, after: $after) { edges { node { action } } pageInfo { endCursor } }
    }`;
    type Page = { auditEvents: { edges: { node: { action: string } }[]; pageInfo: { endCursor: string } } };
    const first = await t.gqlRaw({ query, variables: { f: { actions: ['a', 'b'] } } }, tenant.readKey);
    const after = (first.data as Page).auditEvents.pageInfo.endCursor;
    for (const actions of [
      ['b', 'a'],
      ['a', 'b', 'a'],
    ]) {
      const next = await t.gqlRaw({ query, variables: { f: { actions }, after } }, tenant.readKey);
      expect(next.errors, actions.join()).toBeUndefined();
      expect((next.data as Page).auditEvents.edges).toHaveLength(2);
    }
    // A different set of values is still a different query.
    const other = await t.gqlRaw({ query, variables: { f: { actions: ['a', 'c'] }, after } }, tenant.readKey);
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});
