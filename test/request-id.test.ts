// Traceability: every answer on every surface carries X-Request-Id, and every log line about a
// request (its access line, an unexpected error's line) names the same id.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Authenticator } from '../src/auth/authenticate.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

type LogLine = {
  level: number;
  msg: string;
  requestId?: string;
  err?: { message: string };
  [k: string]: unknown;
};

let t: TestGateway;
let tenant: TestTenant;
const lines: LogLine[] = [];
beforeAll(async () => {
  // A pino destination that keeps every line the gateway logs.
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await startTestGateway(
    { BODY_LIMIT_BYTES: '2048', AUTH_FAILURES_PER_MINUTE: '2' },
    { logger: pino({ level: 'info' }, destination) },
  );
  tenant = await t.newTenant('reqid');
});
afterAll(() => t?.close());
afterEach(() => vi.restoreAllMocks());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const json = { 'content-type': 'application/json' };
const gqlBody = (query: string) => JSON.stringify({ query });

/** Waits for pino's asynchronous write of the lines naming `requestId`. */
async function linesOf(requestId: string): Promise<LogLine[]> {
  await vi.waitFor(() =>
    expect(lines.some((l) => l.requestId === requestId && l.msg === 'request')).toBe(true),
  );
  return lines.filter((l) => l.requestId === requestId);
}

describe('every answer carries X-Request-Id', () => {
  const surfaces: [string, () => Promise<Response>][] = [
    [
      'GraphQL 200',
      () =>
        t.fetch('/graphql', {
          key: tenant.readKey,
          method: 'POST',
          headers: json,
          body: gqlBody('{ viewer { keyId } }'),
        }),
    ],
    [
      'GraphQL 400',
      () =>
        t.fetch('/graphql', {
          key: tenant.readKey,
          method: 'POST',
          headers: json,
          body: gqlBody('{ nope }'),
        }),
    ],
    [
      'GraphQL 401',
      () => t.fetch('/graphql', { method: 'POST', headers: json, body: gqlBody('{ viewer { keyId } }') }),
    ],
    [
      'GraphQL 405 (mutation over GET)',
      () =>
        t.fetch(
          `/graphql?query=${encodeURIComponent('mutation { recordEvent(input: {action: "x"}) { id } }')}`,
          { key: tenant.key },
        ),
    ],
    [
      'GraphQL 413',
      () =>
        t.fetch('/graphql', {
          key: tenant.readKey,
          method: 'POST',
          headers: json,
          body: gqlBody(`{ viewer { keyId } } # ${'x'.repeat(4096)}`),
        }),
    ],
    [
      'GraphQL 415',
      () =>
        t.fetch('/graphql', {
          key: tenant.readKey,
          method: 'POST',
          headers: { 'content-type': 'text/xml' },
          body: '<q/>',
        }),
    ],
    [
      'GraphQL as an event stream',
      () =>
        t.fetch('/graphql', {
          key: tenant.readKey,
          method: 'POST',
          headers: { ...json, accept: 'text/event-stream' },
          body: gqlBody('{ viewer { keyId } }'),
        }),
    ],
    ['GraphiQL page', () => t.fetch('/graphql', { headers: { accept: 'text/html' } })],
    [
      'preflight',
      () =>
        t.fetch('/graphql', {
          method: 'OPTIONS',
          headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' },
        }),
    ],
    ['REST 200', () => t.fetch('/v1/audit', { key: tenant.readKey })],
    ['REST 400', () => t.fetch('/enterprise/v1/audit-log?maxResults=abc', { key: tenant.readKey })],
    ['REST 401', () => t.fetch('/api/data/audit')],
    ['REST 404', () => t.fetch('/no/such/route')],
    ['REST 405', () => t.fetch('/v1/audit', { key: tenant.key, method: 'DELETE' })],
    [
      'REST 413',
      () =>
        t.fetch('/audit/v1/event', {
          key: tenant.key,
          method: 'POST',
          headers: json,
          body: JSON.stringify({ action: 'x', description: 'y'.repeat(4096) }),
        }),
    ],
    ['health', () => t.fetch('/healthz')],
    ['OpenAPI document', () => t.fetch('/openapi.json')],
    ['signing key', () => t.fetch('/.well-known/audit-signing-key.pem')],
  ];

  it.each(surfaces)('%s', async (_name, call) => {
    const res = await call();
    expect(res.headers.get('x-request-id')).toMatch(UUID);
  });

  it('429 after too many failed authentications, on both surfaces', async () => {
    const remoteAddress = '203.0.113.77';
    for (let i = 0; i < 3; i++) await t.fetch('/v1/audit', { key: 'agw_wrong', remoteAddress });
    const rest = await t.fetch('/v1/audit', { key: 'agw_wrong', remoteAddress });
    const gql = await t.fetch('/graphql', {
      key: 'agw_wrong',
      remoteAddress,
      method: 'POST',
      headers: json,
      body: gqlBody('{ viewer { keyId } }'),
    });
    for (const res of [rest, gql]) {
      expect(res.status).toBe(429);
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    }
  });

  it('the id in a REST error body and a GraphQL refusal is the one in the header', async () => {
    const rest = await t.fetch('/v1/audit', { key: tenant.key, method: 'PUT' });
    expect(((await rest.json()) as { requestId: string }).requestId).toBe(rest.headers.get('x-request-id'));
  });

  it('keeps a sane incoming X-Request-Id and replaces any other', async () => {
    const sane = 'lb-2f1c9a7e_0042=';
    const kept = await t.fetch('/graphql', {
      key: tenant.readKey,
      method: 'POST',
      headers: { ...json, 'x-request-id': sane },
      body: gqlBody('{ viewer { keyId } }'),
    });
    expect(kept.headers.get('x-request-id')).toBe(sane);
    for (const insane of ['a'.repeat(129), 'has space', 'new\tline', '<script>', 'ü']) {
      const res = await t.fetch('/v1/audit', { key: tenant.readKey, headers: { 'x-request-id': insane } });
      expect(res.headers.get('x-request-id'), insane).toMatch(UUID);
    }
  });
});

describe('every log line about a request names its id', () => {
  it('the access line of each request', async () => {
    const res = await t.fetch('/v1/audit', { key: tenant.readKey });
    const id = res.headers.get('x-request-id') as string;
    expect(await linesOf(id)).toEqual([
      expect.objectContaining({
        msg: 'request',
        requestId: id,
        method: 'GET',
        path: '/v1/audit',
        status: 200,
      }),
    ]);
  });

  it('an unexpected error in a GraphQL resolver: masked in the answer, logged with the request id', async () => {
    vi.spyOn(t.gateway.audit, 'availableFilters').mockRejectedValue(new Error('resolver exploded'));
    const res = await t.fetch('/graphql', {
      key: tenant.readKey,
      method: 'POST',
      headers: json,
      body: gqlBody('{ availableFilters { actions } }'),
    });
    const id = res.headers.get('x-request-id') as string;
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toMatchObject({
      message: 'Unexpected error; it has been logged.',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(JSON.stringify(body)).not.toContain('exploded');
    const logged = (await linesOf(id)).filter((l) => l.msg === 'unexpected error in GraphQL execution');
    expect(logged).toEqual([
      expect.objectContaining({
        requestId: id,
        err: expect.objectContaining({ message: 'resolver exploded' }),
      }),
    ]);
  });

  it('an unexpected error while building the GraphQL context (authentication)', async () => {
    vi.spyOn(Authenticator.prototype, 'authenticate').mockRejectedValue(new Error('key store exploded'));
    const res = await t.fetch('/graphql', {
      key: tenant.readKey,
      method: 'POST',
      headers: json,
      body: gqlBody('{ viewer { keyId } }'),
    });
    const id = res.headers.get('x-request-id') as string;
    expect(
      ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('INTERNAL_SERVER_ERROR');
    const logged = (await linesOf(id)).filter((l) => l.msg === 'unexpected error in GraphQL execution');
    expect(logged).toEqual([
      expect.objectContaining({
        requestId: id,
        err: expect.objectContaining({ message: 'key store exploded' }),
      }),
    ]);
  });

  it('an unexpected error in a REST handler', async () => {
    vi.spyOn(t.gateway.audit, 'availableFilters').mockRejectedValue(new Error('handler exploded'));
    const res = await t.fetch('/api/data/audit/filters', { key: tenant.readKey });
    expect(res.status).toBe(500);
    const id = res.headers.get('x-request-id') as string;
    expect(((await res.json()) as { requestId: string }).requestId).toBe(id);
    const logged = (await linesOf(id)).filter((l) => l.msg === 'unexpected error');
    expect(logged).toEqual([
      expect.objectContaining({
        requestId: id,
        err: expect.objectContaining({ message: 'handler exploded' }),
      }),
    ]);
  });
});
