import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const Record = graphql(`
  mutation RecordOne($input: RecordEventInput!) {
    recordEvent(input: $input) {
      id sequence action name title description groupId additionalId ipAddress
      occurredAt sentAt receivedAt metadata hash
      actor { id email name type company }
      target { kind id name email company }
      feature { name metas }
    }
  }
`);

const Stored = graphql(`
  query StoredEvent($id: ID!) {
    event(id: $id) {
      id sequence action name title description groupId additionalId ipAddress
      occurredAt sentAt receivedAt metadata hash
      actor { id email name type company }
      target { kind id name email company }
      feature { name metas }
    }
  }
`);

const Count = graphql(`
  query CountEvents { auditEvents { totalCount } }
`);

const Filters = graphql(`
  query Filters {
    availableFilters {
      actions
      actorTypes
      targetKinds { name actions }
      timeRange { earliest latest }
    }
  }
`);

let t: TestGateway;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  t = await startTestGateway();
  a = await t.newTenant('events-a');
  b = await t.newTenant('events-b');
});
afterAll(() => t?.close());

const full = {
  action: 'user.login.success',
  name: 'user.login',
  title: 'User Login Success',
  description: '[email protected] logged in successfully\nfrom the web app',
  actor: { id: 'u_1', email: 'ada@example.com', name: 'Ada Lovelace', type: 'USER', company: 'acme' },
  groupId: 'g_1',
  target: {
    kind: 'feature',
    id: 'smart_tags',
    name: 'Smart tags',
    email: 'owner@example.com',
    company: 'acme',
  },
  additionalId: 'loc_9',
  feature: { name: 'general', metas: { plan: 'pro', seats: 12 } },
  ipAddress: '192.30.252.12',
  occurredAt: '2026-10-01T12:00:00.123+02:00',
  sentAt: '2026-10-01T10:00:01Z',
  metadata: { b: [1, 2, { c: null }], a: 'é', nested: { deep: true } },
};

describe('recordEvent', () => {
  it('stores every field of the canonical model and returns it', async () => {
    const before = Date.now();
    const res = await t.gql(Record, { input: full }, a.key);
    expect(res.errors).toBeUndefined();
    const e = res.data?.recordEvent;
    if (!e) throw new Error('no event');
    expect(e).toMatchObject({
      action: full.action,
      name: full.name,
      title: full.title,
      description: full.description,
      actor: full.actor,
      groupId: 'g_1',
      target: full.target,
      additionalId: 'loc_9',
      feature: full.feature,
      ipAddress: '192.30.252.12',
      occurredAt: '2026-10-01T10:00:00.123Z',
      sentAt: '2026-10-01T10:00:01.000Z',
      metadata: full.metadata,
      sequence: 1,
    });
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(e.receivedAt)).toBeGreaterThanOrEqual(before - 5);
  });

  it('stores text exactly, including what array and JSON literals treat specially', async () => {
    // A batch is written as one text array per column; these must survive that encoding.
    const tricky = ['NULL', 'null', '{}', '{"a","b"}', 'a,b', '\\', '"', ' padded ', "it's", '\\N', '😀 ü'];
    for (const [i, s] of tricky.entries()) {
      const input = {
        action: `tricky.${i}`,
        name: s,
        title: s,
        description: s,
        actor: { id: s, name: s, type: s, company: s },
        target: { kind: s, id: s, name: s, company: s },
        groupId: s,
        additionalId: s,
        feature: { name: s, metas: { [s]: s } },
        metadata: { [s]: [s, { [s]: null }] },
      };
      const recorded = await t.gql(Record, { input }, a.key);
      expect(recorded.errors, s).toBeUndefined();
      const stored = (await t.gql(Stored, { id: recorded.data?.recordEvent.id as string }, a.key)).data
        ?.event;
      expect(stored, s).toEqual(recorded.data?.recordEvent);
      expect(stored?.actor?.id, s).toBe(s);
    }
  });

  it('defaults occurredAt to the time of receipt and leaves optional parts null', async () => {
    const res = await t.gql(Record, { input: { action: 'logged-in' } }, a.key);
    const e = res.data?.recordEvent;
    expect(e?.occurredAt).toBe(e?.receivedAt);
    expect(e).toMatchObject({
      actor: null,
      target: null,
      feature: null,
      groupId: null,
      metadata: {},
      sentAt: null,
    });
  });

  it('refuses invalid input with BAD_USER_INPUT naming the field, and stores nothing', async () => {
    const tenant = await t.newTenant('events-invalid');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ action: '' }, /input\.action/],
      [{ action: 'a'.repeat(201) }, /input\.action/],
      [{ action: 'x\u0000y' }, /input\.action.*NUL/],
      [{ action: 'x', description: 'bad \uD800 surrogate' }, /input\.description/],
      [{ action: 'x', title: 'bell\u0007' }, /input\.title/],
      [{ action: 'x', occurredAt: '2026-10-01T12:00:00' }, /occurredAt|offset/],
      [{ action: 'x', occurredAt: '2026-10-01T12:00:00.1234Z' }, /occurredAt|milliseconds/],
      [{ action: 'x', occurredAt: '2999-01-01T00:00:00Z' }, /input\.occurredAt.*future/],
      [{ action: 'x', occurredAt: '1969-12-31T23:59:59Z' }, /input\.occurredAt/],
      [{ action: 'x', actor: { email: 'nope' } }, /actor\.email|email/],
      [{ action: 'x', ipAddress: '300.1.1.1' }, /ipAddress|IP/],
      [{ action: 'x', metadata: [1, 2] }, /metadata|JSONObject/],
      [{ action: 'x', metadata: { s: 'nul\u0000' } }, /input\.metadata\.s.*NUL/],
      [{ action: 'x', metadata: { big: 'x'.repeat(20_000) } }, /input\.metadata.*bytes/],
      [{ action: 'x', metadata: { n: 2 ** 60 } }, /input\.metadata\.n/],
      [
        { action: 'x', metadata: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } },
        /input\.metadata.*nest/,
      ],
      [{ action: 'x', feature: { name: '' } }, /input\.feature\.name/],
      [{ action: 'x', actor: { id: 'i'.repeat(257) } }, /input\.actor\.id/],
      [{ action: 'x', idempotencyKey: '' }, /input\.idempotencyKey/],
      [{ action: 5 }, /action|String/],
      [{ action: 'x', unknownField: 1 }, /unknownField/],
    ];
    for (const [input, message] of cases) {
      const res = await t.gqlRaw(
        {
          query: 'mutation($i: RecordEventInput!) { recordEvent(input: $i) { id } }',
          variables: { i: input },
        },
        tenant.key,
      );
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(input).slice(0, 80)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message, JSON.stringify(input).slice(0, 80)).toMatch(message);
    }
    const count = await t.gql(Count, {}, tenant.readKey);
    expect(count.data?.auditEvents.totalCount).toBe(0);
  });
});

describe('event(id) and node(id)', () => {
  it('loads many ids with one SQL statement, null for unknown and foreign ids', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await t.gql(Record, { input: { action: `batch-${i % 5}` } }, a.key);
      mine.push(r.data?.recordEvent.id as string);
    }
    const foreign = (await t.gql(Record, { input: { action: 'secret' } }, b.key)).data?.recordEvent
      .id as string;
    const unknown = '01890000-0000-7000-8000-000000000000';
    const ids = [...mine, foreign, unknown, 'not-a-uuid'];
    const query = `query { ${ids.map((id, i) => `e${i}: event(id: "${id}") { id action }`).join('\n')} }`;
    t.queries.length = 0;
    const res = await t.gqlRaw({ query }, a.readKey);
    expect(res.errors).toBeUndefined();
    const eventStatements = t.queries.filter((q) => /from "audit_events"/.test(q));
    expect(eventStatements).toHaveLength(1);
    const data = res.data as Record<string, { id: string } | null>;
    expect(mine.map((_, i) => data[`e${i}`]?.id)).toEqual(mine);
    expect(data.e50).toBeNull(); // another tenant's event answers exactly like a missing one
    expect(data.e51).toBeNull();
    expect(data.e52).toBeNull();
  });

  it('node(id) and nodes(ids) take the same id the REST APIs return', async () => {
    const id = (await t.gql(Record, { input: { action: 'node-test' } }, a.key)).data?.recordEvent
      .id as string;
    const res = await t.gqlRaw(
      {
        query: `query($id: ID!) { node(id: $id) { id ... on AuditEvent { action } } nodes(ids: [$id]) { id } }`,
        variables: { id },
      },
      a.readKey,
    );
    expect(res.data).toEqual({ node: { id, action: 'node-test' }, nodes: [{ id }] });
    const wasabi = await t.fetch(`/api/data/audit/${id}`, { key: a.readKey });
    expect(((await wasabi.json()) as { id: string }).id).toBe(id);
    const foreign = await t.gqlRaw(
      { query: `query($id: ID!) { node(id: $id) { id } }`, variables: { id } },
      b.readKey,
    );
    expect(foreign.data).toEqual({ node: null });
  });

  it('refuses an id that is not a UUID as bad input, whatever it decodes to', async () => {
    // "9.20547059986e+211" base64url-decodes to bytes with a colon in them (found by the fuzz test).
    for (const id of ['9.20547059986e+211', 'QXVkaXRFdmVudDox', 'not-an-id']) {
      const res = await t.gqlRaw(
        { query: `query($id: ID!) { node(id: $id) { id } }`, variables: { id } },
        a.readKey,
      );
      expect(res.status).toBe(200);
      expect(res.errors?.[0]?.extensions?.code, id).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message).toMatch(/id/);
    }
  });
});

describe('availableFilters', () => {
  it('lists actions, target kinds with their actions, actor types and the time range', async () => {
    const tenant = await t.newTenant('catalog');
    const inputs = [
      {
        action: 'login',
        target: { kind: 'authenticate' },
        actor: { type: 'USER' },
        occurredAt: '2026-10-01T00:00:00Z',
      },
      {
        action: 'update-password',
        target: { kind: 'authenticate' },
        actor: { type: 'USER' },
        occurredAt: '2026-10-05T00:00:00Z',
      },
      {
        action: 'enable',
        target: { kind: 'feature' },
        actor: { type: 'SERVICE' },
        occurredAt: '2026-10-03T00:00:00Z',
      },
      { action: 'create', target: { kind: 'group' }, occurredAt: '2026-09-20T00:00:00Z' },
      { action: 'logged-in', occurredAt: '2026-10-02T00:00:00Z' },
    ];
    for (const input of inputs) await t.gql(Record, { input }, tenant.key);
    const res = await t.gql(Filters, {}, tenant.readKey);
    expect(res.data?.availableFilters).toEqual({
      actions: ['create', 'enable', 'logged-in', 'login', 'update-password'],
      actorTypes: ['SERVICE', 'USER'],
      targetKinds: [
        { name: 'authenticate', actions: ['login', 'update-password'] },
        { name: 'feature', actions: ['enable'] },
        { name: 'group', actions: ['create'] },
      ],
      timeRange: { earliest: '2026-09-20T00:00:00.000Z', latest: '2026-10-05T00:00:00.000Z' },
    });
    const empty = await t.newTenant('catalog-empty');
    const none = await t.gql(Filters, {}, empty.readKey);
    expect(none.data?.availableFilters).toEqual({
      actions: [],
      actorTypes: [],
      targetKinds: [],
      timeRange: { earliest: null, latest: null },
    });
  });

  it('reads a catalog, not the events: the same statements however many events there are', async () => {
    const tenant = await t.newTenant('catalog-plan');
    await t.gateway.audit.recordEvents(
      operatorViewer(tenant),
      Array.from({ length: 1000 }, (_, i) => ({ action: `a${i % 7}` })),
    );
    t.queries.length = 0;
    await t.gql(Filters, {}, tenant.readKey);
    const statements = t.queries.filter((q) => /audit_events|audit_catalog/.test(q));
    // One catalog read and two index probes for the time range; none of them aggregates events.
    expect(statements).toHaveLength(3);
    for (const q of statements.filter((s) => s.includes('"audit_events"'))) expect(q).toMatch(/limit \$\d+$/);
    expect(statements.join('\n')).not.toMatch(/count\(|distinct|group by/i);
  });
});
