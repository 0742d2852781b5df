// Random operations for three tenants through GraphQL and every REST dialect, checked after each
// step against a plain in-memory model: no row of another tenant ever appears, and another
// tenant's id, cursor or token answers exactly like one that does not exist.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';

const Record = graphql(`
  mutation IsoRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }
`);
const List = graphql(`
  query IsoList($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      edges { node { id action actor { id email } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
const Get = graphql(`
  query IsoGet($id: ID!) { event(id: $id) { id action } node(id: $id) { id } }
`);

type ModelEvent = { id: string; tenant: number; action: string; actorId: string; email: string; at: number };

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

const ACTIONS = ['login', 'logout', 'CREATE_MURAL', 'enable'];
const ACTORS = ['u1', 'u2', 'u3'];
const NOW = Date.now();
const HOUR = 3_600_000;

type Op =
  | {
      op: 'record';
      who: number;
      via: 'graphql' | 'replicated' | 'batch';
      action: number;
      actor: number;
      hoursAgo: number;
    }
  | {
      op: 'list';
      who: number;
      via: 'graphql' | 'wasabi' | 'madkudu' | 'mural';
      action: number | null;
      actor: number | null;
    }
  | { op: 'get'; who: number; target: number; via: 'graphql' | 'wasabi' | 'madkudu' }
  | { op: 'cursor'; who: number; from: number }
  | { op: 'token'; who: number; from: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('record' as const),
      who: fc.nat(2),
      via: fc.constantFrom('graphql' as const, 'replicated' as const, 'batch' as const),
      action: fc.nat(ACTIONS.length - 1),
      actor: fc.nat(ACTORS.length - 1),
      hoursAgo: fc.nat(100),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('list' as const),
      who: fc.nat(2),
      via: fc.constantFrom('graphql' as const, 'wasabi' as const, 'madkudu' as const, 'mural' as const),
      action: fc.option(fc.nat(ACTIONS.length - 1), { nil: null }),
      actor: fc.option(fc.nat(ACTORS.length - 1), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('get' as const),
      who: fc.nat(2),
      target: fc.nat(),
      via: fc.constantFrom('graphql' as const, 'wasabi' as const, 'madkudu' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('cursor' as const), who: fc.nat(2), from: fc.nat(2) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('token' as const), who: fc.nat(2), from: fc.nat(2) }) },
);

const MISSING_ID = '01900000-0000-7000-8000-00000000dead';

/** A response as comparable data: status and body, without the per-request id. */
async function shape(res: Response): Promise<unknown> {
  const body = (await res.json()) as Record<string, unknown>;
  delete body.requestId;
  return { status: res.status, body };
}

describe('tenant isolation, property-based', () => {
  it('holds across random operations through GraphQL and REST', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 25 }), async (ops) => {
        run += 1;
        const tenants: TestTenant[] = [];
        for (let i = 0; i < 3; i++) tenants.push(await t.newTenant(`iso${run}-${i}`));
        const model: ModelEvent[] = [];
        const cursors: ({ cursor: string; filter: Record<string, string[]> } | null)[] = [null, null, null];
        const tokens: (string | null)[] = [null, null, null];
        let serial = 0;
        const own = (who: number) => model.filter((e) => e.tenant === (tenants[who] as TestTenant).id);

        for (const op of ops) {
          const me = tenants[op.who] as TestTenant;
          switch (op.op) {
            case 'record': {
              const action = `${ACTIONS[op.action]}-${serial++}`;
              const actorId = ACTORS[op.actor] as string;
              const email = `${actorId}@example.com`;
              const at = NOW - op.hoursAgo * HOUR;
              const occurredAt = new Date(at).toISOString();
              let id: string | undefined;
              if (op.via === 'graphql') {
                const r = await t.gql(
                  Record,
                  { input: { action, actor: { id: actorId, email }, occurredAt } },
                  me.key,
                );
                id = r.data?.recordEvent.id;
              } else if (op.via === 'batch') {
                const r = await t.fetch('/audit/v1/events', {
                  key: me.key,
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ events: [{ action, actor: { id: actorId, email }, occurredAt }] }),
                });
                id = ((await r.json()) as { results: { id: string }[] }).results[0]?.id;
              } else {
                // Replicated has no actor or time fields; it is recorded as "now" with no actor.
                const r = await t.fetch('/audit/v1/event', {
                  key: me.key,
                  method: 'POST',
                  body: JSON.stringify({ action }),
                });
                expect(r.status).toBe(201);
                const found = await t.gql(List, { filter: { actions: [action] } }, me.key);
                id = found.data?.auditEvents.edges[0]?.node.id;
                model.push({
                  id: id as string,
                  tenant: me.id,
                  action,
                  actorId: '',
                  email: '',
                  at: Date.now(),
                });
                break;
              }
              expect(id).toBeDefined();
              model.push({ id: id as string, tenant: me.id, action, actorId, email, at });
              break;
            }
            case 'list': {
              const prefix = op.action === null ? null : (ACTIONS[op.action] as string);
              const actor = op.actor === null ? null : (ACTORS[op.actor] as string);
              // Filters by exact action: pick one of this tenant's recorded action names with that prefix.
              const action =
                prefix === null
                  ? null
                  : (own(op.who).find((e) => e.action.startsWith(prefix))?.action ?? `${prefix}-none`);
              const expected = own(op.who)
                .filter(
                  (e) => (action === null || e.action === action) && (actor === null || e.actorId === actor),
                )
                .map((e) => e.id)
                .sort();
              let got: string[];
              if (op.via === 'graphql') {
                const filter = {
                  ...(action ? { actions: [action] } : {}),
                  ...(actor ? { actorIds: [actor] } : {}),
                };
                const r = await t.gql(List, { filter, first: 500 }, me.readKey);
                got = (r.data?.auditEvents.edges ?? []).map((e) => e.node.id);
                const conn = r.data?.auditEvents;
                if (conn?.pageInfo.endCursor) cursors[op.who] = { cursor: conn.pageInfo.endCursor, filter };
              } else if (op.via === 'wasabi') {
                const qs = new URLSearchParams({
                  count: '1000',
                  ...(action ? { action_key: action } : {}),
                  ...(actor ? { user_id: actor } : {}),
                });
                const r = (await (await t.fetch(`/api/data/audit?${qs}`, { key: me.readKey })).json()) as {
                  audit_events: { id: string }[];
                  total: number;
                };
                got = r.audit_events.map((e) => e.id);
                expect(r.total).toBe(expected.length);
              } else if (op.via === 'madkudu') {
                const qs = new URLSearchParams({
                  ...(action ? { event: action } : {}),
                  ...(actor ? { user: `${actor}@example.com` } : {}),
                });
                const r = (await (await t.fetch(`/v1/audit?${qs}`, { key: me.readKey })).json()) as {
                  events: { id: string }[];
                };
                got = r.events.map((e) => e.id);
              } else {
                const qs = new URLSearchParams({
                  maxResults: '1',
                  ...(action ? { 'filter[action]': action } : {}),
                });
                const r = (await (
                  await t.fetch(`/enterprise/v1/audit-log?${qs}`, { key: me.readKey })
                ).json()) as {
                  data: { id: string }[];
                  nextToken?: string;
                };
                if (r.nextToken) tokens[op.who] = r.nextToken;
                got = r.data.map((e) => e.id);
                const pool = own(op.who).filter((e) => action === null || e.action === action);
                expect(got.every((id) => pool.some((e) => e.id === id))).toBe(true);
                expect(got.length).toBe(Math.min(1, pool.length));
                break;
              }
              // Never a row of another tenant, and exactly this tenant's matches.
              expect(got.every((id) => own(op.who).some((e) => e.id === id))).toBe(true);
              expect([...got].sort()).toEqual(expected);
              break;
            }
            case 'get': {
              const target = model.length ? (model[op.target % model.length] as ModelEvent) : null;
              const id = target?.id ?? MISSING_ID;
              const mine = target?.tenant === me.id;
              if (op.via === 'graphql') {
                const r = await t.gql(Get, { id }, me.readKey);
                expect(r.errors).toBeUndefined();
                if (mine) expect(r.data).toEqual({ event: { id, action: target?.action }, node: { id } });
                else expect(r.data).toEqual({ event: null, node: null });
              } else {
                const base = op.via === 'wasabi' ? '/api/data/audit/' : '/v1/audit/';
                const res = await t.fetch(`${base}${id}`, { key: me.readKey });
                if (mine) {
                  expect(res.status).toBe(200);
                  expect(((await res.json()) as { id: string }).id).toBe(id);
                } else {
                  const missing = await t.fetch(`${base}${MISSING_ID}`, { key: me.readKey });
                  expect(await shape(res)).toEqual(await shape(missing));
                }
              }
              break;
            }
            case 'cursor': {
              const saved = cursors[op.from];
              if (!saved) break;
              const { cursor, filter } = saved;
              const r = await t.gql(List, { first: 500, after: cursor, filter }, me.readKey);
              if (op.from === op.who) {
                expect(r.errors).toBeUndefined();
                expect(
                  (r.data?.auditEvents.edges ?? []).every((e) => own(op.who).some((m) => m.id === e.node.id)),
                ).toBe(true);
              } else {
                const garbage = await t.gql(List, { first: 500, after: `${cursor}x`, filter }, me.readKey);
                expect(r.data ?? null).toBeNull();
                expect(r.errors?.map((e) => [e.message, e.extensions?.code])).toEqual(
                  garbage.errors?.map((e) => [e.message, e.extensions?.code]),
                );
              }
              break;
            }
            case 'token': {
              const token = tokens[op.from];
              if (!token) break;
              const res = await t.fetch(`/enterprise/v1/audit-log?nextToken=${encodeURIComponent(token)}`, {
                key: me.readKey,
              });
              if (op.from === op.who) {
                expect(res.status).toBe(200);
                const body = (await res.json()) as { data: { id: string }[] };
                expect(body.data.every((e) => own(op.who).some((m) => m.id === e.id))).toBe(true);
              } else {
                const garbage = await t.fetch(
                  `/enterprise/v1/audit-log?nextToken=${encodeURIComponent(`${token}x`)}`,
                  { key: me.readKey },
                );
                expect(await shape(res)).toEqual(await shape(garbage));
              }
              break;
            }
          }
        }
      }),
      { numRuns: propertyRuns(60) },
    );
  });
});
