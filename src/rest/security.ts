// Authentication for the REST dialects: the same API keys and header set as GraphQL
// (Bearer, Mural's `apikey`, Basic with the key as user name, X-API-Key).
import type { Context, MiddlewareHandler } from 'hono';
import type { Viewer } from '../audit/viewer.ts';
import type { AppEnv } from '../http/http-env.ts';
import { routeOf } from '../metrics.ts';

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
  const clientAddress = c.get('clientAddress');
  const viewer = await c.get('authenticator').authenticate(c.req.raw.headers, clientAddress);
  c.set('viewer', {
    ...viewer,
    origin: {
      surface: surfaceOf(c.req.path),
      // The route pattern (`/v1/audit/:eventId`), not the path, so records group by route.
      operation: `${c.req.method} ${routeOf(c)}`,
      clientAddress,
      requestId: c.get('requestId'),
    },
  });
  await next();
};

/** Which REST surface a path belongs to, for the read log; any other route is `rest`. */
const SURFACES: [prefix: string, surface: string][] = [
  ['/v1/exports', 'export'],
  ['/v1/audit', 'madkudu'],
  ['/enterprise/v1', 'mural'],
  ['/api/data/audit', 'wasabi'],
  ['/audit/v1', 'replicated'],
];

function surfaceOf(path: string): string {
  const match = SURFACES.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`));
  return match ? match[1] : 'rest';
}

/** The caller of a REST route, as restAuthentication verified it. */
export function viewerOf(c: Context<AppEnv>): Viewer {
  const viewer = c.get('viewer');
  if (!viewer) throw new Error(`${c.req.method} ${c.req.path} is not behind restAuthentication`);
  return viewer;
}
