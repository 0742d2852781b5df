// Limits that refuse abusive requests early, each with a stable error code naming the limit,
// and what production mode hides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { GRAPHQL_LIMITS } from '../src/graphql/yoga.ts';
import {
  createTestDatabase,
  startTestGateway,
  type TestGateway,
  type TestTenant,
} from './support/gateway.ts';

let t: TestGateway;
let tenant: TestTenant;
beforeAll(async () => {
  t = await startTestGateway({ BODY_LIMIT_BYTES: '65536' });
  tenant = await t.newTenant('hostile');
});
afterAll(() => t?.close());

describe('request size', () => {
  it('refuses a body over the limit with 413, on REST and GraphQL, before parsing it', async () => {
    const big = JSON.stringify({ action: 'x', description: 'y'.repeat(70_000) });
    const rest = await t.fetch('/audit/v1/event', {
      key: tenant.key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(rest.status).toBe(413);
    expect(await rest.json()).toMatchObject({
      error: 'payload_too_large',
      message: expect.stringContaining('65536'),
    });
    const gql = await t.fetch('/graphql', {
      key: tenant.key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ viewer { keyId } }`, variables: { pad: 'z'.repeat(70_000) } }),
    });
    expect(gql.status).toBe(413);
    // On /graphql the refusal is a GraphQL error, coded and naming the limit.
    expect(await gql.json()).toMatchObject({
      errors: [{ message: expect.stringContaining('65536'), extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    });
    expect(await t.gateway.audit.countEvents(operatorViewer(tenant), {})).toBe(0);
  });
});

describe('GraphQL limits', () => {
  const refused = async (query: string, code: string) => {
    const res = await t.gqlRaw({ query }, tenant.readKey);
    expect(res.status, query.slice(0, 80)).toBe(400);
    expect(res.errors?.[0]?.extensions?.code).toBe(code);
    expect(res.errors?.[0]?.message).toMatch(/\d/);
    return res.errors?.[0];
  };

  it('depth', async () => {
    const nest = (n: number) => `{ ${'... on Query { '.repeat(n)} viewer { keyId } ${'} '.repeat(n)} }`;
    expect(
      (await t.gqlRaw({ query: nest(GRAPHQL_LIMITS.depth - 3) }, tenant.readKey)).errors,
    ).toBeUndefined();
    const error = await refused(nest(GRAPHQL_LIMITS.depth + 1), 'QUERY_TOO_DEEP');
    expect(error?.extensions?.limit).toBe(GRAPHQL_LIMITS.depth);
  });

  it('aliases', async () => {
    const query = `{ ${Array.from({ length: GRAPHQL_LIMITS.aliases + 1 }, (_, i) => `a${i}: viewer { keyId }`).join(' ')} }`;
    const error = await refused(query, 'TOO_MANY_ALIASES');
    expect(error?.extensions?.limit).toBe(GRAPHQL_LIMITS.aliases);
  });

  it('tokens', async () => {
    const query = `{ viewer { ${'keyId '.repeat(GRAPHQL_LIMITS.tokens)} } }`;
    const error = await refused(query, 'TOO_MANY_TOKENS');
    expect(error?.extensions?.limit).toBe(GRAPHQL_LIMITS.tokens);
  });

  it('cost, counted with variables', async () => {
    const fields =
      'id action occurredAt actor { id email name type company } target { kind id name } metadata';
    const page = (n: number) => `p${n}: auditEvents(first: $n) { edges { node { ${fields} } } }`;
    const query = `query($n: Int) { ${Array.from({ length: 20 }, (_, i) => page(i)).join(' ')} }`;
    const res = await t.gqlRaw({ query, variables: { n: 500 } }, tenant.readKey);
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'QUERY_TOO_COSTLY',
      limit: GRAPHQL_LIMITS.cost,
    });
    // The largest legitimate page is well within the limit.
    const one = await t.gqlRaw(
      { query: `query($n: Int) { ${page(0)} }`, variables: { n: 500 } },
      tenant.readKey,
    );
    expect(one.errors).toBeUndefined();
  });

  it('page sizes', async () => {
    const res = await t.gqlRaw({ query: '{ auditEvents(first: 100000) { totalCount } }' }, tenant.readKey);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const checkpoints = await t.gqlRaw(
      { query: '{ checkpoints(first: 5000) { sequence } }' },
      tenant.readKey,
    );
    expect(checkpoints.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const batch = await t.fetch('/audit/v1/events', {
      key: tenant.key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: Array.from({ length: 1001 }, () => ({ action: 'x' })) }),
    });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ parameter: 'events' });
  });
});

describe('bad input refused before execution', () => {
  // GraphQL over HTTP: an answer without `data` in application/graphql-response+json must be a 4xx.
  const cases = {
    'an enum value in a variable': {
      query:
        'query($d: OrderDirection!) { auditEvents(first: 1, orderBy: { field: OCCURRED_AT, direction: $d }) { edges { cursor } } }',
      variables: { d: 'DES' },
    },
    'an enum value written in the query': {
      query:
        '{ auditEvents(first: 1, orderBy: { field: OCCURRED_AT, direction: DES }) { edges { cursor } } }',
    },
    'a DateTime in a variable': {
      query: 'query($s: DateTime) { auditEvents(first: 1, filter: { since: $s }) { edges { cursor } } }',
      variables: { s: 'yesterday' },
    },
  };
  for (const [name, body] of Object.entries(cases)) {
    it(`${name} is a 400 with BAD_USER_INPUT and no data`, async () => {
      const res = await t.fetch('/graphql', {
        key: tenant.key,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { data?: unknown; errors: { extensions?: { code?: string } }[] };
      expect(answer.data).toBeUndefined();
      expect(answer.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });
  }
});

describe('production mode', () => {
  it('serves no GraphiQL, refuses introspection, and suggests no field names', async () => {
    // NODE_ENV=production needs a real Postgres; the embedded run sets the same switches by hand.
    const database = process.env.TEST_DB === 'postgres' ? await createTestDatabase() : undefined;
    const g = await startTestGateway(
      database
        ? { NODE_ENV: 'production', DATABASE_URL: database.url }
        : { GRAPHIQL: 'false', GRAPHQL_INTROSPECTION: 'false' },
    );
    try {
      const who = await g.newTenant('prod');
      const page = await g.fetch('/graphql', { headers: { accept: 'text/html' } });
      expect(await page.text()).not.toMatch(/graphiql/i);
      const intro = await g.gqlRaw({ query: '{ __schema { types { name } } }' }, who.readKey);
      expect(intro.errors?.[0]?.message).toMatch(/introspection/i);
      const typo = await g.gqlRaw({ query: '{ auditEvent { totalCount } }' }, who.readKey);
      expect(typo.errors?.[0]?.message).toBeDefined();
      expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);
      // The development default does suggest, for comparison.
      const dev = await t.gqlRaw({ query: '{ auditEvent { totalCount } }' }, tenant.readKey);
      expect(dev.errors?.[0]?.message).toMatch(/Did you mean/);
    } finally {
      await g.close();
      await database?.drop();
    }
  });

  it('hints at no name in the schema, from any source: fields, arguments, input fields, enum values, types', async () => {
    const database = process.env.TEST_DB === 'postgres' ? await createTestDatabase() : undefined;
    const g = await startTestGateway(
      database
        ? { NODE_ENV: 'production', DATABASE_URL: database.url }
        : { GRAPHIQL: 'false', GRAPHQL_INTROSPECTION: 'false' },
    );
    const typos: [string, string, Record<string, unknown>?][] = [
      ['field', '{ auditEvents { totalCont } }'],
      ['argument', '{ auditEvents(frist: 3) { totalCount } }'],
      ['input field', '{ auditEvents(filter: { actionz: ["a"] }) { totalCount } }'],
      ['enum value', '{ auditEvents(orderBy: { direction: DES }) { totalCount } }'],
      [
        'enum value in variables',
        'query($d: OrderDirection) { auditEvents(orderBy: { direction: $d }) { totalCount } }',
        { d: 'DES' },
      ],
      [
        'input field in variables',
        'query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }',
        { f: { actionz: ['a'] } },
      ],
      ['type', 'query($f: AuditEventFiltr) { auditEvents(filter: $f) { totalCount } }'],
      ['type condition', '{ auditEvents { ... on QueryAuditEventsConnectio { totalCount } } }'],
    ];
    try {
      const who = await g.newTenant('prod-hints');
      for (const [source, query, variables] of typos) {
        const prod = await g.gqlRaw({ query, variables }, who.readKey);
        expect(prod.errors?.[0]?.extensions?.code, source).toMatch(
          /^(GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT)$/,
        );
        expect(prod.errors?.[0]?.message, source).not.toMatch(/did you mean|\[Suggestion hidden\]/i);
        // Only the suggestion goes: the message still says what is wrong.
        expect(prod.errors?.[0]?.message, source).toMatch(
          /totalCont|frist|actionz|DES|AuditEventFiltr|Connectio/,
        );
      }
      const dev = await t.gqlRaw({ query: typos[3]?.[1] }, tenant.readKey);
      expect(dev.errors?.[0]?.message).toMatch(/Did you mean the enum value "DESC"\?/);
    } finally {
      await g.close();
      await database?.drop();
    }
  });
});
