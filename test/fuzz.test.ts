// Arbitrary values at every GraphQL argument and every REST parameter and body: the gateway may
// refuse them, but never with a 5xx, an INTERNAL_SERVER_ERROR, or a crash.
import fc from 'fast-check';
import {
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { createApiKey } from '../src/auth/admin.ts';
import { schema } from '../src/graphql/schema.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';

let t: TestGateway;
let tenant: TestTenant;
let eventId: string;
/** auditReads needs read_log, which no other field takes: fuzzed with a key that has it. */
let readLogKey: string;
beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('fuzz');
  readLogKey = (await createApiKey(t.gateway.database, tenant.slug, ['read', 'read_log'])).key;
  const stored = await t.gateway.audit.recordEvents(operatorViewer(tenant), [
    { action: 'seed' },
    { action: 'seed', metadata: { a: 1 } },
  ]);
  eventId = stored[0]?.ok ? stored[0].event.id : '';
});
afterAll(() => t?.close());

const nasty = fc.constantFrom(
  '',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFFy',
  '2021-13-45',
  '2021-02-29T00:00:00Z',
  '2021-01-01T00:00:00',
  '9999-12-31T23:59:59.999999999Z',
  '-1',
  '1e309',
  'NaN',
  '9'.repeat(40),
  "'; drop table audit_events; --",
  '%00',
  '../../etc/passwd',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '01900000-0000-7000-8000-00000000dead',
  'agw_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBCCCCCC',
);
const text = fc.oneof(
  nasty,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 3000 }),
  fc.string({ unit: 'grapheme' }),
);
const { json: anything } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    text,
    fc.integer(),
    fc.double(),
    fc.constantFrom(2 ** 53 + 2, -(2 ** 63), 1e308),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'action')), tie('json'), {
      maxKeys: 4,
    }),
  ),
}));

const plain = fc.stringMatching(/^[a-z][a-z0-9._-]{0,15}$/);

/** A plausible value for a scalar: mostly sane, so requests get past validation and reach the database. */
function saneScalar(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'Int':
    case 'SafeInt':
      return fc.integer({ min: 0, max: 120 });
    case 'DateTime':
      return fc
        .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2026, 5, 1) })
        .map((ms) => new Date(ms).toISOString());
    case 'ID':
      return fc.oneof(fc.constant(eventId), fc.uuid());
    case 'EmailAddress':
      return fc.constantFrom('a@example.com', 'b.c@example.org');
    case 'IPAddress':
      return fc.constantFrom('10.0.0.1', '2001:db8::1');
    case 'JSONObject':
      return fc.dictionary(plain, fc.oneof(fc.integer(), plain, fc.boolean(), fc.constant(null)), {
        maxKeys: 3,
      });
    case 'Boolean':
      return fc.boolean();
    default:
      return plain;
  }
}

/** Values shaped by the argument's type: mostly plausible, sometimes nasty, now and then anything at all. */
function valueFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 4) return anything;
  if (isNonNullType(type)) return valueFor(type.ofType, depth);
  if (isListType(type)) {
    return fc.oneof(
      { weight: 9, arbitrary: fc.array(valueFor(type.ofType, depth + 1), { maxLength: 4 }) },
      { weight: 1, arbitrary: anything },
    );
  }
  const named = getNamedType(type);
  if (isEnumType(named)) {
    return fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...named.getValues().map((v) => v.name)) },
      { weight: 1, arbitrary: text },
    );
  }
  if (isInputObjectType(named)) {
    const fields = Object.values(named.getFields());
    const required = fields.filter((f) => isNonNullType(f.type)).map((f) => f.name);
    return fc.oneof(
      {
        weight: 9,
        arbitrary: fc.record(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, depth + 1)])), {
          requiredKeys: required,
        }),
      },
      { weight: 1, arbitrary: anything },
    );
  }
  if (isScalarType(named)) {
    return fc.oneof(
      { weight: 9, arbitrary: saneScalar(named.name) },
      { weight: 1, arbitrary: fc.oneof(text, anything) },
    );
  }
  return anything;
}

const selection: Record<string, string> = {
  auditEvents: '{ totalCount edges { cursor node { id metadata } } pageInfo { endCursor } }',
  event: '{ id action }',
  node: '{ id }',
  nodes: '{ id }',
  availableFilters: '{ actions }',
  auditReads: '{ edges { cursor node { id kind surface filter restriction { actorIds } } } }',
  checkpoints: '{ sequence }',
  verifyChain: '{ intact break { sequence } }',
  viewer: '{ keyId }',
  recordEvent: '{ id hash }',
  recordEvents: '{ __typename ... on RecordEventFailure { field } }',
};

function operationFor(
  kind: 'query' | 'mutation',
  field: GraphQLField<unknown, unknown>,
): { query: string; vars: fc.Arbitrary<Record<string, unknown>> } {
  const decl = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const call = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const query = `${kind}${decl ? `(${decl})` : ''} { ${field.name}${call ? `(${call})` : ''} ${selection[field.name] ?? ''} }`;
  // Paging arguments that can only be wrong when random (cursors) or that conflict (first with
  // last) are mostly left out, so that most requests reach the database.
  const rarely = new Set(['after', 'before', 'last', 'checkpoint']);
  const arg = (a: (typeof field.args)[number]) =>
    rarely.has(a.name)
      ? fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: valueFor(a.type) })
      : valueFor(a.type);
  const vars = fc
    .record(Object.fromEntries(field.args.map((a) => [a.name, arg(a)])), {
      requiredKeys: field.args.filter((a) => isNonNullType(a.type) || rarely.has(a.name)).map((a) => a.name),
    })
    .map((v) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)));
  return { query, vars };
}

const allowedCodes = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'CONFLICT',
  'FORBIDDEN',
  // A mutation naming something that does not exist (deleteLogStream of an unknown id).
  'NOT_FOUND',
  'QUERY_TOO_COSTLY',
  'QUERY_TOO_DEEP',
  'TOO_MANY_ALIASES',
  'TOO_MANY_TOKENS',
  'BAD_REQUEST',
]);

describe('fuzzing', () => {
  const fields = [
    ...Object.values(schema.getQueryType()?.getFields() ?? {}).map((f) => operationFor('query', f)),
    ...Object.values(schema.getMutationType()?.getFields() ?? {}).map((f) => operationFor('mutation', f)),
  ];

  it.each(fields.map((f) => [f.query.slice(0, 60), f] as const))('GraphQL %s…', async (_name, op) => {
    await fc.assert(
      fc.asyncProperty(op.vars, async (variables) => {
        const key = op.query.includes('{ auditReads') ? readLogKey : tenant.key;
        const res = await t.gqlRaw({ query: op.query, variables }, key);
        expect(res.status, JSON.stringify(res.errors)).toBeLessThan(500);
        for (const e of res.errors ?? [])
          expect(allowedCodes, `${e.message} ${JSON.stringify(e.extensions)}`).toContain(e.extensions?.code);
      }),
      { numRuns: propertyRuns(60) },
    );
  });

  it('GraphQL: arbitrary documents and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          text,
          anything.map((v) => JSON.stringify(v)),
        ),
        fc.oneof(text, anything),
        async (query, body) => {
          const a = await t.gqlRaw({ query, variables: body }, tenant.key);
          expect(a.status).toBeLessThan(500);
          const raw = await t.fetch('/graphql', {
            key: tenant.key,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body),
          });
          expect(raw.status).toBeLessThan(500);
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });

  // Raw bytes, percent-encoded one by one: invalid UTF-8 and lone surrogates reach the server as sent.
  const rawParam = fc.oneof(
    text.map((s) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    fc
      .uint8Array({ maxLength: 30 })
      .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  );
  const routes: [string, string[]][] = [
    ['/v1/audit', ['from', 'to', 'event', 'user']],
    [
      '/enterprise/v1/audit-log',
      ['maxResults', 'nextToken', 'filter[date][since]', 'filter[date][until]', 'filter[action]'],
    ],
    [
      '/api/data/audit',
      [
        'user_id',
        'group_id',
        'target_kind',
        'target_id',
        'action_key',
        'from',
        'to',
        'order',
        'page',
        'count',
      ],
    ],
  ];

  it.each(routes)('REST GET %s', async (path, params) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...params), rawParam), { maxLength: 5 }),
        async (pairs) => {
          const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&');
          const res = await t.fetch(`${path}?${qs}`, { key: tenant.key });
          expect(res.status, qs).toBeLessThan(500);
          await res.arrayBuffer();
        },
      ),
      { numRuns: propertyRuns(80) },
    );
  });

  it('REST GET by id', async () => {
    await fc.assert(
      fc.asyncProperty(rawParam, fc.constantFrom('/v1/audit/', '/api/data/audit/'), async (id, base) => {
        const res = await t.fetch(`${base}${id}`, { key: tenant.key });
        expect(res.status, id).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: propertyRuns(80) },
    );
  });

  it('REST POST bodies', async () => {
    const body = fc.oneof(
      anything.map((v) => JSON.stringify(v)),
      fc
        .record(
          { action: anything, name: anything, title: anything, description: anything, ip_address: anything },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
      fc
        .record({
          events: fc.array(
            fc.oneof(
              anything,
              fc.dictionary(
                fc.constantFrom('action', 'actor', 'metadata', 'occurredAt', 'idempotencyKey', 'target'),
                anything,
              ),
            ),
            { maxLength: 5 },
          ),
        })
        .map((v) => JSON.stringify(v)),
      text,
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('/audit/v1/event', '/audit/v1/events'),
        fc.constantFrom('application/json', 'text/plain', 'application/xml', ''),
        fc.option(text, { nil: undefined }),
        async (payload, path, type, idempotencyKey) => {
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (idempotencyKey !== undefined && /^[\t\x20-\x7e]*$/.test(idempotencyKey))
            headers['idempotency-key'] = idempotencyKey;
          const res = await t.fetch(path, { key: tenant.key, method: 'POST', headers, body: payload });
          expect(res.status, payload.slice(0, 100)).toBeLessThan(500);
          await res.arrayBuffer();
        },
      ),
      { numRuns: propertyRuns(150) },
    );
    // Everything stored on the way still forms an intact chain.
    expect((await t.gateway.chain.verify(operatorViewer(tenant))).intact).toBe(true);
  });
});
