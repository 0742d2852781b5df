// POST /v1/viewer-tokens: the REST twin of the GraphQL `createViewerToken` mutation, for backends
// that speak only REST. Same rules (src/auth/viewer-tokens.ts), same error messages.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { SCOPES } from '../audit/viewer.ts';
import { MAX_RESTRICTION_VALUES, VIEWER_TOKEN_TTL } from '../auth/viewer-tokens.ts';
import type { AppEnv } from '../http/http-env.ts';
import { ErrorBody, errorResponses } from './errors.ts';
import { security, viewerOf } from './security.ts';

const list = (description: string) =>
  z
    .array(z.string({ message: 'must be a string' }), { message: 'must be an array of strings' })
    .nullish()
    .openapi({ description: `${description} At most ${MAX_RESTRICTION_VALUES} values.` });

const Restriction = z
  .strictObject({
    actorIds: list('Only events by these actor ids.'),
    targetIds: list('Only events on these target ids.'),
    groupIds: list('Only events in these groups.'),
    actions: list('Only these actions.'),
  })
  .openapi('ViewerRestriction', {
    description:
      'Only events matching every list given (each by any of its values). Name at least one list; an empty ' +
      'list matches nothing.',
  });

const Scopes = z.array(z.enum(SCOPES, { message: `must be one of ${SCOPES.join(', ')}` }));

const CreateViewerToken = z
  .strictObject({
    ttlSeconds: z
      .number({ message: 'must be a number' })
      .nullish()
      .openapi({
        description: `Lifetime in seconds, 1 to ${VIEWER_TOKEN_TTL.maxSeconds}; default ${VIEWER_TOKEN_TTL.defaultSeconds}.`,
        example: 900,
      }),
    scopes: Scopes.nullish().openapi({
      description: 'Scopes of the token; default `["read"]`. Each must be a scope of the calling key.',
      example: ['read'],
    }),
    restriction: Restriction.nullish(),
  })
  .openapi('CreateViewerToken');

const ViewerToken = z
  .object({
    token: z
      .string()
      .openapi({ description: 'The token (`agwv_…`); send it as `Authorization: Bearer <token>`.' }),
    expiresAt: z
      .string()
      .openapi({ description: 'When it stops being accepted (UTC).', example: '2026-01-01T12:15:00.000Z' }),
    scopes: Scopes,
    restriction: Restriction.nullable().openapi({
      description: 'The slice it sees; null: the whole tenant.',
    }),
  })
  .openapi('ViewerToken');

const mintRoute = createRoute({
  method: 'post',
  path: '/v1/viewer-tokens',
  tags: ['Viewer tokens'],
  summary: 'Mints a short-lived viewer token for a browser',
  description:
    'Scopes no wider than the calling key (default read only), a lifetime of at most ' +
    `${VIEWER_TOKEN_TTL.maxSeconds} s, and optionally a restriction to some actors, targets, groups or actions. ` +
    'The token is signed and stored nowhere; revoking the calling key ends it. Called with a viewer token, the ' +
    'new one is narrower: a subset of its scopes, the intersection of restrictions, and no later expiry.',
  security,
  request: {
    body: { required: true, content: { 'application/json': { schema: CreateViewerToken } } },
  },
  responses: {
    200: { description: 'The token.', content: { 'application/json': { schema: ViewerToken } } },
    413: {
      description: 'The body is larger than `BODY_LIMIT_BYTES`.',
      content: { 'application/json': { schema: ErrorBody } },
    },
    415: {
      description: 'A Content-Type other than `application/json`.',
      content: { 'application/json': { schema: ErrorBody } },
    },
    ...errorResponses,
  },
});

export function registerViewerTokens(app: OpenAPIHono<AppEnv>) {
  app.openapi(mintRoute, (c) => {
    const minted = c.get('authenticator').viewerTokens.mint(viewerOf(c), c.req.valid('json'));
    return c.json(
      {
        token: minted.token,
        expiresAt: minted.expiresAt.toISOString(),
        scopes: minted.scopes,
        restriction: minted.restriction
          ? Object.fromEntries(Object.entries(minted.restriction).map(([k, v]) => [k, [...(v ?? [])]]))
          : null,
      },
      200,
    );
  });
}
