// The OpenAPI document at /openapi.json: a valid OpenAPI 3.1 document (checked by a validator
// library), describing exactly the REST routes the app serves (read from Hono's route table),
// and true to the live responses: every documented route is called with real data and each
// answer is validated with Ajv against the schema the document gives for its status.
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/admin.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { jsonRequest } from './support/rest.ts';

type Schema = Record<string, unknown>;
type MediaType = { schema: Schema };
type Operation = { responses: Record<string, { content?: Record<string, MediaType> }> };
type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Served by the app but not REST API: GraphQL, probes, the document itself, public keys. */
const NOT_REST = new Set([
  'GET /graphql',
  'POST /graphql',
  'OPTIONS /graphql',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /graphiql/assets/{version}/{file}',
  'GET /openapi.json',
  'GET /.well-known/audit-signing-keys.json',
  'GET /.well-known/audit-signing-key.pem',
  'GET /',
]);

/** Statuses that need a failing database or an address over its limit; not provoked here. */
const NOT_PROVOKED = new Set(['429', '503']);

let t: TestGateway;
let doc: OpenApiDocument;
beforeAll(async () => {
  t = await startTestGateway({ BODY_LIMIT_BYTES: '4096' });
  const res = await t.fetch('/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as OpenApiDocument;
});
afterAll(() => t?.close());

const documentedOperations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => HTTP_METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it("documents exactly the REST routes in the app's route table", () => {
    const live = new Set(
      t.gateway.app
        .routes()
        .filter((r) => r.method !== 'ALL') // middleware
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    // The exclusions must be real routes, or they would hide nothing but a stale list.
    for (const route of NOT_REST) expect(live, route).toContain(route);
    const rest = [...live].filter((r) => !NOT_REST.has(r)).sort();
    expect(rest.length).toBeGreaterThanOrEqual(8);
    expect(documentedOperations().sort()).toEqual(rest);
  });
});

describe('live responses match the documented schemas', () => {
  const ajv = new Ajv2020({ allErrors: true });
  addFormats(ajv);
  // OpenAPI's annotation keyword, and the components object $refs point into.
  ajv.addVocabulary(['example', 'components']);
  const compiled = new Map<string, ValidateFunction>();

  /**
   * The document's schema for one response, closed: an object that lists its properties may not
   * carry others, so a field the document does not mention fails too.
   */
  function validatorFor(key: string, schema: Schema): ValidateFunction {
    let validate = compiled.get(key);
    if (!validate) {
      const close = (s: unknown): unknown => {
        if (Array.isArray(s)) return s.map(close);
        if (s === null || typeof s !== 'object') return s;
        const o = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, close(v)]));
        if ('properties' in o && !('additionalProperties' in o)) o.additionalProperties = false;
        return o;
      };
      validate = ajv.compile({ ...(close(schema) as Schema), components: close(doc.components) });
      compiled.set(key, validate);
    }
    return validate;
  }

  const exercised = new Set<string>();

  /** Sends one request and checks its answer against the document; returns the parsed body. */
  async function call(
    operation: string,
    expectedStatus: number,
    path: string,
    init: Parameters<TestGateway['fetch']>[1] = {},
  ): Promise<unknown> {
    const [method, docPath] = operation.split(' ') as [string, string];
    const res = await t.fetch(path, { ...init, method });
    const text = await res.text();
    expect(res.status, `${operation} ${path}: ${text.slice(0, 200)}`).toBe(expectedStatus);
    const documented = doc.paths[docPath]?.[method.toLowerCase()]?.responses[String(res.status)];
    expect(documented, `${operation} documents ${res.status}`).toBeDefined();
    exercised.add(`${operation} ${res.status}`);
    if (!documented?.content) {
      expect(text, `${operation} ${res.status} documents no body`).toBe('');
      return undefined;
    }
    const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    const media = documented.content[mediaType];
    expect(media, `${operation} ${res.status} documents ${mediaType}`).toBeDefined();
    // A streamed export is text (CSV, NDJSON), documented as a string.
    if (mediaType !== 'application/json') {
      expect((media?.schema as { type?: string } | undefined)?.type, `${operation} ${res.status}`).toBe(
        'string',
      );
      return text;
    }
    const body = JSON.parse(text) as unknown;
    const validate = validatorFor(`${operation} ${res.status} ${mediaType}`, media?.schema as Schema);
    expect(validate(body), `${operation} ${res.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    return body;
  }

  let tenant: TestTenant;
  let other: TestTenant;
  let ids: string[];
  beforeAll(async () => {
    tenant = await t.newTenant('openapi');
    other = await t.newTenant('openapi-other');
  });

  it('POST /audit/v1/events', async () => {
    const hourAgo = Date.now() - 3_600_000;
    const events = [
      {
        action: 'CREATE_MURAL',
        name: 'mural created',
        title: 'Mural created',
        description: 'A mural was created',
        actor: { id: 'u-1', email: 'ada@example.com', name: 'Ada', type: 'USER', company: 'acme' },
        groupId: 'g-1',
        target: { kind: 'mural', id: 'm-1', name: 'Roadmap', email: 'owner@example.com', company: 'acme' },
        additionalId: 'room-3',
        feature: { name: 'murals', metas: { template: 'kanban' } },
        ipAddress: '192.0.2.10',
        occurredAt: new Date(hourAgo).toISOString(),
        sentAt: new Date(hourAgo + 1000).toISOString(),
        metadata: { size: 3 },
      },
      { action: 'logged-in', occurredAt: new Date(hourAgo - 60_000).toISOString() },
      { action: 'logged-in', actor: { email: 'bob@example.com' } },
      { action: '' },
    ];
    const body = (await call(
      'POST /audit/v1/events',
      200,
      '/audit/v1/events',
      jsonRequest({ events }, tenant.key, { 'idempotency-key': 'openapi-batch' }),
    )) as { results: { id?: string; status: string }[] };
    expect(body.results.map((r) => r.status)).toEqual(['stored', 'stored', 'stored', 'rejected']);
    ids = body.results.flatMap((r) => (r.id ? [r.id] : []));
    // A retry: every stored event is replayed.
    await call(
      'POST /audit/v1/events',
      200,
      '/audit/v1/events',
      jsonRequest({ events }, tenant.key, { 'idempotency-key': 'openapi-batch' }),
    );
    await call('POST /audit/v1/events', 400, '/audit/v1/events', jsonRequest({ events: 'none' }, tenant.key));
    await call('POST /audit/v1/events', 400, '/audit/v1/events', jsonRequest('{"events":[', tenant.key));
    await call(
      'POST /audit/v1/events',
      413,
      '/audit/v1/events',
      jsonRequest({ events: [{ action: 'x', description: 'y'.repeat(5000) }] }, tenant.key),
    );
    await call('POST /audit/v1/events', 415, '/audit/v1/events', {
      key: tenant.key,
      headers: { 'content-type': 'application/xml' },
      body: '<events/>',
    });
  });

  it('POST /audit/v1/event', async () => {
    const event = { action: 'user.login.success', name: 'login', title: 'User Login Success' };
    await call(
      'POST /audit/v1/event',
      201,
      '/audit/v1/event',
      jsonRequest(event, tenant.key, { 'idempotency-key': 'k1' }),
    );
    await call(
      'POST /audit/v1/event',
      409,
      '/audit/v1/event',
      jsonRequest({ ...event, name: 'other' }, tenant.key, { 'idempotency-key': 'k1' }),
    );
    await call(
      'POST /audit/v1/event',
      400,
      '/audit/v1/event',
      jsonRequest({ name: 'no action' }, tenant.key),
    );
    await call('POST /audit/v1/event', 400, '/audit/v1/event', jsonRequest('{"action":', tenant.key));
    await call(
      'POST /audit/v1/event',
      413,
      '/audit/v1/event',
      jsonRequest({ action: 'x', description: 'y'.repeat(5000) }, tenant.key),
    );
    await call('POST /audit/v1/event', 415, '/audit/v1/event', {
      key: tenant.key,
      headers: { 'content-type': 'application/xml' },
      body: '<event/>',
    });
  });

  it('POST /v1/viewer-tokens', async () => {
    const mint = (body: unknown) => jsonRequest(body, tenant.readKey);
    const route = 'POST /v1/viewer-tokens';
    await call(route, 200, '/v1/viewer-tokens', mint({ ttlSeconds: 60, restriction: { actorIds: ['a'] } }));
    await call(route, 200, '/v1/viewer-tokens', mint({}));
    await call(route, 400, '/v1/viewer-tokens', mint({ ttlSeconds: 0 }));
    await call(route, 400, '/v1/viewer-tokens', mint('{"ttlSeconds":'));
    await call(route, 413, '/v1/viewer-tokens', mint({ restriction: { actorIds: ['y'.repeat(5000)] } }));
    await call(route, 415, '/v1/viewer-tokens', {
      key: tenant.readKey,
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
  });

  it('GET /v1/exports/events.csv and .ndjson', async () => {
    for (const format of ['csv', 'ndjson']) {
      const route = `GET /v1/exports/events.${format}`;
      const csv = (await call(route, 200, `/v1/exports/events.${format}?actions=logged-in&bom=true`, {
        key: tenant.readKey,
      })) as string;
      expect(csv.length).toBeGreaterThan(0);
      await call(route, 400, `/v1/exports/events.${format}?since=yesterday`, { key: tenant.readKey });
    }
  });

  it('GET /v1/exports/reads.csv and .ndjson', async () => {
    const logKey = (await createApiKey(t.gateway.database, tenant.slug, ['read_log'])).key;
    await t.gateway.readLog.flush();
    for (const format of ['csv', 'ndjson']) {
      const route = `GET /v1/exports/reads.${format}`;
      const text = (await call(route, 200, `/v1/exports/reads.${format}?kinds=EVENTS&surfaces=EXPORT`, {
        key: logKey,
      })) as string;
      expect(text).toContain('EXPORT');
      await call(route, 400, `/v1/exports/reads.${format}?kinds=events`, { key: logKey });
    }
  });

  it('GET /v1/audit and /v1/audit/{eventId}', async () => {
    const listed = (await call('GET /v1/audit', 200, '/v1/audit', { key: tenant.readKey })) as {
      events: unknown[];
    };
    expect(listed.events).toHaveLength(4);
    await call('GET /v1/audit', 200, '/v1/audit?event=logged-in&user=bob%40example.com', {
      key: tenant.readKey,
    });
    await call('GET /v1/audit', 400, '/v1/audit?from=01/06/2021', { key: tenant.readKey });
    for (const id of ids)
      await call('GET /v1/audit/{eventId}', 200, `/v1/audit/${id}`, { key: tenant.readKey });
    await call('GET /v1/audit/{eventId}', 404, `/v1/audit/${ids[0]}`, { key: other.readKey });
    // A string that is no event id, however long, is simply not found.
    await call('GET /v1/audit/{eventId}', 404, `/v1/audit/${'x'.repeat(201)}`, { key: tenant.readKey });
  });

  it('GET /enterprise/v1/audit-log', async () => {
    const first = (await call('GET /enterprise/v1/audit-log', 200, '/enterprise/v1/audit-log?maxResults=2', {
      key: tenant.readKey,
    })) as { data: unknown[]; nextToken?: string };
    expect(first.data).toHaveLength(2);
    expect(first.nextToken).toEqual(expect.any(String));
    const rest = (await call(
      'GET /enterprise/v1/audit-log',
      200,
      `/enterprise/v1/audit-log?maxResults=2&nextToken=${encodeURIComponent(first.nextToken as string)}`,
      { key: tenant.readKey },
    )) as { data: unknown[]; nextToken?: string };
    expect(rest.data).toHaveLength(2);
    expect(rest.nextToken).toBeUndefined();
    await call('GET /enterprise/v1/audit-log', 400, '/enterprise/v1/audit-log?maxResults=0', {
      key: tenant.readKey,
    });
    await call(
      'GET /enterprise/v1/audit-log',
      400,
      `/enterprise/v1/audit-log?nextToken=${encodeURIComponent(first.nextToken as string)}`,
      { key: other.readKey },
    );
  });

  it('GET /api/data/audit, /api/data/audit/{id} and /api/data/audit/filters', async () => {
    const page = (await call('GET /api/data/audit', 200, '/api/data/audit?order=user_id&count=3', {
      key: tenant.readKey,
    })) as { audit_events: unknown[]; total: number };
    expect(page).toMatchObject({ total: 4, page: 0 });
    await call('GET /api/data/audit', 400, '/api/data/audit?order=time', { key: tenant.readKey });
    for (const id of ids) {
      await call('GET /api/data/audit/{id}', 200, `/api/data/audit/${id}`, { key: tenant.readKey });
    }
    await call('GET /api/data/audit/{id}', 404, `/api/data/audit/${ids[0]}`, { key: other.readKey });
    await call('GET /api/data/audit/{id}', 404, `/api/data/audit/${'x'.repeat(201)}`, {
      key: tenant.readKey,
    });
    await call('GET /api/data/audit/filters', 200, '/api/data/audit/filters', { key: tenant.readKey });
  });

  it('401 and 403 on every route', async () => {
    const sample: Record<string, string> = { eventId: ids[0] as string, id: ids[0] as string };
    for (const operation of documentedOperations()) {
      const [method, docPath] = operation.split(' ') as [string, string];
      const path = docPath.replace(/\{(\w+)\}/g, (_, name: string) => sample[name] as string);
      // Minting asks for `read` by default, which the write-only key lacks; the ingest routes need `write`.
      const minting = docPath === '/v1/viewer-tokens';
      const body = method === 'POST' ? jsonRequest(minting ? {} : { events: [], action: 'x' }, '') : {};
      const { key: _, ...anonymous } = body as { key?: string };
      await call(operation, 401, path, anonymous);
      const wrongScope = method === 'POST' && !minting ? tenant.readKey : tenant.writeOnlyKey;
      await call(operation, 403, path, { ...anonymous, key: wrongScope });
    }
  });

  it('every documented response of every route was exercised above', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([m]) => HTTP_METHODS.includes(m))
        .flatMap(([m, op]) =>
          Object.keys(op.responses)
            .filter((status) => !NOT_PROVOKED.has(status))
            .map((status) => `${m.toUpperCase()} ${path} ${status}`),
        ),
    );
    expect([...exercised].sort()).toEqual(documented.sort());
  });
});
