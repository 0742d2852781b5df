// Authentication for the REST dialects: the same API keys and header set as GraphQL
// (Bearer, Mural's `apikey`, Basic with the key as user name, X-API-Key).
import type { Context } from 'hono';
import { requireScope, type Viewer } from '../auth/authenticate.ts';
import type { Scope } from '../auth/keys.ts';
import type { AppEnv } from '../http-env.ts';

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

/** Authenticates the request and checks the scope; throws the domain error otherwise. */
export async function authorize(c: Context<AppEnv>, scope: Scope): Promise<Viewer> {
  const viewer = await c.get('authenticator').authenticate(c.req.raw.headers, c.get('clientAddress'));
  requireScope(viewer, scope);
  return viewer;
}
