// Authentication for the REST dialects: the same API keys and header set as GraphQL
// (Bearer, Mural's `apikey`, Basic with the key as user name, X-API-Key).
import type { Context, MiddlewareHandler } from 'hono';
import type { Viewer } from '../audit/viewer.ts';
import type { AppEnv } from '../http/http-env.ts';

export const securitySchemes = {
  bearer: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`' },
  apikey: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'Mural style: `Authorization: apikey <key>`',
  },
  xApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: '`X-API-Key: <key>`' },
  basic: { type: 'http', scheme: 'basic', description: 'The key as user name, empty password.' },
} as const;

export const security = Object.keys(securitySchemes).map((name) => ({ [name]: [] }));

/**
 * Authenticates every request to a REST route before its parameters are validated, so a caller
 * without a valid key learns nothing about its input (401 before 400) and every failed attempt
 * counts toward the per-address limit. It only authenticates: what the viewer may do is the
 * service's decision, made in every service method.
 */
export const restAuthentication: MiddlewareHandler<AppEnv> = async (c, next) => {
  const viewer = await c.get('authenticator').authenticate(c.req.raw.headers, c.get('clientAddress'));
  c.set('viewer', viewer);
  await next();
};

/** The caller of a REST route, as restAuthentication verified it. */
export function viewerOf(c: Context<AppEnv>): Viewer {
  const viewer = c.get('viewer');
  if (!viewer) throw new Error(`${c.req.method} ${c.req.path} is not behind restAuthentication`);
  return viewer;
}
