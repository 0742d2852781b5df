// Refusals of the HTTP layer itself: a known path asked with the wrong method is 405 with `Allow`,
// before authentication; an unknown path is 404. Each in the error shape of its surface.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

let t: TestGateway;
let tenant: TestTenant;
beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('methods');
});
afterAll(() => t?.close());

describe('wrong method', () => {
  it.each([
    ['PUT', '/v1/audit', 'GET, HEAD'],
    ['DELETE', '/v1/audit/01900000-0000-7000-8000-000000000001', 'GET, HEAD'],
    ['POST', '/enterprise/v1/audit-log', 'GET, HEAD'],
    ['PATCH', '/api/data/audit', 'GET, HEAD'],
    ['GET', '/audit/v1/event', 'POST'],
    ['PUT', '/audit/v1/events', 'POST'],
    ['DELETE', '/openapi.json', 'GET, HEAD'],
  ])('%s %s is 405, Allow: %s', async (method, route, allow) => {
    for (const key of [tenant.key, undefined]) {
      const res = await t.fetch(route, { method, ...(key ? { key } : {}) });
      expect(res.status, `${method} ${route} key=${Boolean(key)}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await res.json()).toEqual({
        error: 'method_not_allowed',
        message: `${method} is not allowed on ${route}; use ${allow}`,
        requestId: res.headers.get('x-request-id'),
      });
    }
  });

  it('PUT /graphql is 405 with a GraphQL error', async () => {
    const res = await t.fetch('/graphql', { method: 'PUT', key: tenant.key });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST, OPTIONS, HEAD');
    expect(await res.json()).toMatchObject({
      errors: [
        {
          message: 'PUT is not allowed on /graphql; use GET, POST, OPTIONS, HEAD',
          extensions: { code: 'METHOD_NOT_ALLOWED' },
        },
      ],
    });
  });

  it('the right method still reaches the route; HEAD is served where GET is', async () => {
    expect((await t.fetch('/v1/audit', { key: tenant.readKey })).status).toBe(200);
    expect((await t.fetch('/v1/audit', { key: tenant.readKey, method: 'HEAD' })).status).toBe(200);
    expect((await t.fetch('/v1/audit', { method: 'GET' })).status).toBe(401);
  });

  it('an unknown path is 404', async () => {
    const res = await t.fetch('/v2/nothing', { method: 'PUT', key: tenant.key });
    expect(res.status).toBe(404);
    expect(res.headers.get('allow')).toBeNull();
    expect(await res.json()).toMatchObject({ error: 'not_found', message: 'No route for PUT /v2/nothing' });
  });
});
