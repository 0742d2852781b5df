// Projection (issue 14): GraphQL event reads select only the columns of the fields the operation
// asks for. These tests hold every answer against a full read of the same events (the service's
// unprojected path), for a selection of every field and for random selections through each way
// in (a connection in every order, node, nodes, event), with fragments and aliases; and check in
// the SQL sent that a narrow selection really reads fewer columns.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, EventOrder, OrderField } from '../src/audit/model.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';

const SUBFIELDS = {
  actor: ['id', 'email', 'name', 'type', 'company'],
  target: ['kind', 'id', 'name', 'email', 'company'],
  feature: ['name', 'metas'],
} as const;
type Nested = keyof typeof SUBFIELDS;
const SCALARS = [
  'id',
  'sequence',
  'action',
  'name',
  'title',
  'description',
  'groupId',
  'additionalId',
  'ipAddress',
  'occurredAt',
  'sentAt',
  'receivedAt',
  'metadata',
  'hash',
] as const;

/** One selected field: its name, the alias it answers under, and for objects their subfields. */
type Pick = { field: string; alias?: string; sub?: readonly string[] };

const EVERY_FIELD: Pick[] = [
  ...SCALARS.map((field) => ({ field })),
  ...(Object.keys(SUBFIELDS) as Nested[]).map((field) => ({ field, sub: SUBFIELDS[field] })),
];

function selectionText(picks: Pick[]): string {
  return picks
    .map((p) => `${p.alias ? `${p.alias}: ` : ''}${p.field}${p.sub ? ` { ${p.sub.join(' ')} }` : ''}`)
    .join(' ');
}

/** What GraphQL answers for `picks` of a fully read event: the domain event as JSON, picked. */
function expected(event: AuditEvent, picks: Pick[]): Record<string, unknown> {
  const json = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const p of picks) {
    const value = json[p.field];
    out[p.alias ?? p.field] =
      p.sub && value !== null
        ? Object.fromEntries(p.sub.map((s) => [s, (value as Record<string, unknown>)[s] ?? null]))
        : value;
  }
  return out;
}

const ORDERS: Record<OrderField, string> = {
  occurredAt: 'OCCURRED_AT',
  action: 'ACTION',
  actor: 'ACTOR',
  targetKind: 'TARGET_KIND',
  group: 'GROUP',
};

let t: TestGateway;
let tenant: TestTenant;
let events: AuditEvent[];

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('projection');
  const inputs = Array.from({ length: 14 }, (_, i) => ({
    action: ['user.login', 'doc.share', 'doc.delete'][i % 3],
    ...(i % 2 === 0 ? { name: `name ${i}`, title: `Title ${i}`, description: `line one\nline ${i}` } : {}),
    ...(i % 4 !== 3
      ? {
          actor: {
            id: `u${i % 5}`,
            ...(i % 2 ? { email: `u${i}@example.com`, type: 'USER' } : { name: 'Ann' }),
          },
        }
      : {}),
    ...(i % 3 !== 2 ? { target: { kind: i % 2 ? 'document' : 'folder', id: `t${i}`, company: 'Acme' } } : {}),
    ...(i % 5 === 0 ? { feature: { name: 'general', metas: { plan: 'pro', n: i } } } : {}),
    ...(i % 3 === 0 ? { groupId: `g${i % 2}`, additionalId: `x${i}`, ipAddress: '203.0.113.7' } : {}),
    ...(i % 2 ? { sentAt: '2026-11-30T10:00:00.000Z' } : {}),
    occurredAt: new Date(Date.UTC(2026, 10, 1 + (i % 7), i)).toISOString(),
    metadata: i % 3 ? { i, tags: ['a', 'b'], nested: { ok: true } } : {},
  }));
  const res = await t.gqlRaw(
    {
      query: 'mutation R($inputs: [RecordEventInput!]!) { recordEvents(inputs: $inputs) { __typename } }',
      variables: { inputs },
    },
    tenant.key,
  );
  expect(res.errors).toBeUndefined();
  const viewer = operatorViewer(tenant);
  const page = await t.gateway.audit.listEvents(
    viewer,
    {},
    { field: 'occurredAt', direction: 'desc' },
    { first: 100 },
  );
  events = page.edges.map((e) => e.node);
  expect(events).toHaveLength(14);
});
afterAll(() => t?.close());

/** The full (unprojected) page the service reads for an order, as the reference. */
async function fullPage(order: EventOrder) {
  return t.gateway.audit.listEvents(operatorViewer(tenant), {}, order, { first: 100 });
}

async function query(text: string) {
  const res = await t.gqlRaw({ query: text }, tenant.readKey);
  expect(res.errors).toBeUndefined();
  return res.data as Record<string, unknown>;
}

/** The columns of the last read of audit_events the gateway sent. */
function lastEventSelect(): string {
  // A lookup by id reads the events joined to the ids asked for (event-reads.ts getEventsByIds).
  const select = t.queries.filter((q) => /^select .* (from|join) "audit_events"/is.test(q)).at(-1);
  if (!select) throw new Error('no read of audit_events was sent');
  return select.slice(0, select.search(/ from /i));
}

describe('projection: every field', () => {
  it('a connection with every field answers exactly what a full read holds, cursors included', async () => {
    for (const [field, value] of Object.entries(ORDERS)) {
      const order = { field: field as OrderField, direction: 'asc' as const };
      const full = await fullPage(order);
      const data = await query(
        `{ auditEvents(first: 100, orderBy: { field: ${value}, direction: ASC }) { edges { cursor node { ${selectionText(EVERY_FIELD)} } } } }`,
      );
      const edges = (data.auditEvents as { edges: { cursor: string; node: unknown }[] }).edges;
      expect(edges.map((e) => e.node)).toEqual(full.edges.map((e) => expected(e.node, EVERY_FIELD)));
      expect(edges.map((e) => e.cursor)).toEqual(full.edges.map((e) => e.cursor));
    }
  });

  it('nodes, node and event with every field answer what a full read holds', async () => {
    const ids = events.map((e) => e.id);
    const data = await query(
      `{ nodes(ids: ${JSON.stringify(ids)}) { ... on AuditEvent { ${selectionText(EVERY_FIELD)} } }
         one: node(id: "${ids[3]}") { ...E }
         two: event(id: "${ids[5]}") { ...E } }
       fragment E on AuditEvent { ${selectionText(EVERY_FIELD)} }`,
    );
    expect(data.nodes).toEqual(events.map((e) => expected(e, EVERY_FIELD)));
    expect(data.one).toEqual(expected(events[3] as AuditEvent, EVERY_FIELD));
    expect(data.two).toEqual(expected(events[5] as AuditEvent, EVERY_FIELD));
  });
});

describe('projection: random selections', () => {
  const pickArb: fc.Arbitrary<Pick[]> = fc
    .uniqueArray(fc.constantFrom(...SCALARS, ...(Object.keys(SUBFIELDS) as Nested[])), {
      minLength: 1,
      maxLength: 8,
    })
    .chain((fields) =>
      fc.tuple(
        ...fields.map((field) =>
          fc.record({
            field: fc.constant(field as string),
            alias: fc.option(fc.constantFrom('a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'), {
              nil: undefined,
            }),
            sub:
              field in SUBFIELDS
                ? fc.subarray([...SUBFIELDS[field as Nested]], { minLength: 1 })
                : fc.constant(undefined),
          }),
        ),
      ),
    )
    .map((picks) => {
      // Aliases must be distinct (two fields under one alias is a validation error).
      const used = new Set<string>();
      return picks.map((p) => {
        const { alias, sub, field } = p;
        const keep = alias && !used.has(alias) ? alias : undefined;
        if (keep) used.add(keep);
        return { field, ...(keep ? { alias: keep } : {}), ...(sub ? { sub } : {}) };
      });
    });
  const shape = fc.constantFrom('plain', 'fragment', 'inline');
  const wrap = (picks: Pick[], how: string) =>
    how === 'plain'
      ? { body: selectionText(picks), fragment: '' }
      : how === 'inline'
        ? { body: `... on AuditEvent { ${selectionText(picks)} }`, fragment: '' }
        : { body: '...F', fragment: `fragment F on AuditEvent { ${selectionText(picks)} }` };

  it('a page in any order holds the selected fields of a full read, with the same cursors', async () => {
    await fc.assert(
      fc.asyncProperty(
        pickArb,
        shape,
        fc.constantFrom(...(Object.keys(ORDERS) as OrderField[])),
        fc.constantFrom('asc' as const, 'desc' as const),
        fc.integer({ min: 1, max: 14 }),
        async (picks, how, field, direction, first) => {
          const full = await fullPage({ field, direction });
          const { body, fragment } = wrap(picks, how);
          const data = await query(
            `{ auditEvents(first: ${first}, orderBy: { field: ${ORDERS[field]}, direction: ${direction.toUpperCase()} }) { edges { cursor node { ${body} } } pageInfo { endCursor } } } ${fragment}`,
          );
          const page = data.auditEvents as {
            edges: { cursor: string; node: unknown }[];
            pageInfo: { endCursor: string };
          };
          const want = full.edges.slice(0, first);
          expect(page.edges.map((e) => e.node)).toEqual(want.map((e) => expected(e.node, picks)));
          expect(page.edges.map((e) => e.cursor)).toEqual(want.map((e) => e.cursor));
          // The next page, from a projected cursor, continues where the full read does.
          if (first < 14) {
            const next = await query(
              `{ auditEvents(first: 3, after: "${page.pageInfo.endCursor}", orderBy: { field: ${ORDERS[field]}, direction: ${direction.toUpperCase()} }) { edges { node { ${body} } } } } ${fragment}`,
            );
            const nextEdges = (next.auditEvents as { edges: { node: unknown }[] }).edges;
            expect(nextEdges.map((e) => e.node)).toEqual(
              full.edges.slice(first, first + 3).map((e) => expected(e.node, picks)),
            );
          }
        },
      ),
      { numRuns: propertyRuns(120) },
    );
  });

  it('nodes and event hold the selected fields of a full read', async () => {
    await fc.assert(
      fc.asyncProperty(pickArb, shape, fc.subarray(events, { minLength: 1 }), async (picks, how, chosen) => {
        const { body, fragment } = wrap(picks, how);
        const nodeBody = how === 'plain' ? `... on AuditEvent { ${body} }` : body;
        const data = await query(
          `{ nodes(ids: ${JSON.stringify(chosen.map((e) => e.id))}) { ${nodeBody} } one: event(id: "${chosen[0]?.id}") { ${body} } } ${fragment}`,
        );
        expect(data.nodes).toEqual(chosen.map((e) => expected(e, picks)));
        expect(data.one).toEqual(expected(chosen[0] as AuditEvent, picks));
      }),
      { numRuns: propertyRuns(80) },
    );
  });
});

describe('projection: the SQL reads only what is selected', () => {
  it('a page of actions reads neither the metadata, nor the hash, nor the actor', async () => {
    await query('{ auditEvents(first: 5) { edges { node { action } } } }');
    const narrow = lastEventSelect();
    for (const column of ['"metadata"', '"hash"', '"actor_email"', '"description"']) {
      expect(narrow).not.toContain(column);
    }
    expect(narrow).toContain('"action"');
    await query(`{ auditEvents(first: 5) { edges { node { ${selectionText(EVERY_FIELD)} } } } }`);
    const wide = lastEventSelect();
    for (const column of ['"metadata"', '"hash"', '"actor_email"', '"description"', '"feature_metas"']) {
      expect(wide).toContain(column);
    }
  });

  it('a lookup by id reads only the selected columns too', async () => {
    await query(`{ event(id: "${events[0]?.id}") { title } }`);
    const narrow = lastEventSelect();
    expect(narrow).toContain('"title"');
    expect(narrow).not.toContain('"metadata"');
  });

  it('a live page with its stream position is projected as well', async () => {
    await query('{ auditEvents(first: 2) { streamPosition edges { node { action } } } }');
    expect(lastEventSelect()).not.toContain('"metadata"');
  });
});
