// Viewer tokens: a backend that holds an API key mints a short-lived token for a browser, which
// then sees only the slice of the tenant the token names. The rules are in src/auth/viewer-tokens.ts.
import { type Restriction, SCOPES, type Scope } from '../audit/viewer.ts';
import { MAX_RESTRICTION_VALUES, type MintedViewerToken, VIEWER_TOKEN_TTL } from '../auth/viewer-tokens.ts';
import { builder } from './builder.ts';

export const ScopeEnum = builder.enumType('Scope', {
  description: 'What a key or a viewer token may do.',
  values: {
    read: { description: 'Read events: lists, counts, filters, lookups by id, the chain.' },
    write: { description: 'Record events.' },
    read_log: {
      description:
        'Read who read the trail (`auditReads`): every read of the tenant, whoever made it. Keys only; a viewer ' +
        'token never carries it.',
    },
  } as const,
});

export const ViewerRestrictionRef = builder.objectRef<Restriction>('ViewerRestriction').implement({
  description:
    'The slice of the tenant a viewer token sees. Every given list must match (AND), each by any of its values ' +
    '(OR); it is ANDed into every read, whatever filter is asked for. An empty list matches nothing.',
  fields: (t) => ({
    actorIds: t.stringList({
      nullable: true,
      description: 'Only events by these actor ids; null: any actor.',
      resolve: (r) => (r.actorIds ? [...r.actorIds] : null),
    }),
    targetIds: t.stringList({
      nullable: true,
      description: 'Only events on these target ids; null: any target.',
      resolve: (r) => (r.targetIds ? [...r.targetIds] : null),
    }),
    groupIds: t.stringList({
      nullable: true,
      description: 'Only events in these groups; null: any group.',
      resolve: (r) => (r.groupIds ? [...r.groupIds] : null),
    }),
    actions: t.stringList({
      nullable: true,
      description: 'Only these actions; null: any action.',
      resolve: (r) => (r.actions ? [...r.actions] : null),
    }),
  }),
});

const ViewerRestrictionInput = builder.inputType('ViewerRestrictionInput', {
  description:
    'Limits a viewer token to some events: only those matching every list given (each by any of its values). ' +
    `Name at least one list. Lists hold at most ${MAX_RESTRICTION_VALUES} values; duplicates are merged. ` +
    'An empty list matches nothing.',
  fields: (t) => ({
    actorIds: t.stringList({ description: 'Only events by these actor ids.' }),
    targetIds: t.stringList({ description: 'Only events on these target ids.' }),
    groupIds: t.stringList({ description: 'Only events in these groups.' }),
    actions: t.stringList({ description: 'Only these actions.' }),
  }),
});

const CreateViewerTokenInput = builder.inputType('CreateViewerTokenInput', {
  description: 'What the token may do, for how long, and on which events.',
  fields: (t) => ({
    ttlSeconds: t.int({
      description:
        `Lifetime in seconds, from 1 to ${VIEWER_TOKEN_TTL.maxSeconds}; default ${VIEWER_TOKEN_TTL.defaultSeconds}. ` +
        'Minted with a viewer token, at most what that token has left (and by default no more).',
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: `Scopes of the token, at most ${SCOPES.length}; default \`[read]\`. Each must be a scope of the minting key.`,
    }),
    restriction: t.field({
      type: ViewerRestrictionInput,
      description:
        'Only these events; absent: the whole tenant. Minted with a restricted viewer token, the new restriction ' +
        "is the intersection with that token's, never wider.",
    }),
  }),
});

const ViewerTokenRef = builder.objectRef<MintedViewerToken>('ViewerToken').implement({
  description:
    'A short-lived credential for a browser. Send it as `Authorization: Bearer <token>`; it is signed and stored ' +
    'nowhere, and revoking the API key that minted it ends it at the next request.',
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The token, starting with `agwv_`. Shown only here.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      description: 'When the token stops being accepted (exclusive), in UTC, to the second.',
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: 'What the token may do, sorted.',
      resolve: (m) => m.scopes as Scope[],
    }),
    restriction: t.field({
      type: ViewerRestrictionRef,
      nullable: true,
      description: 'The slice the token sees; null: the whole tenant.',
      resolve: (m) => m.restriction ?? null,
    }),
  }),
});

builder.mutationField('createViewerToken', (t) =>
  t.field({
    type: ViewerTokenRef,
    description:
      'Mints a short-lived viewer token for a browser: scopes no wider than your key (default `read` only), a ' +
      `lifetime of at most ${VIEWER_TOKEN_TTL.maxSeconds} s, and optionally a restriction to some actors, targets, ` +
      'groups or actions. A viewer token may mint another only narrower: a subset of its scopes, the intersection ' +
      'of restrictions, and no later expiry. Bad values are BAD_USER_INPUT naming the field; a scope your key lacks ' +
      'is FORBIDDEN.',
    args: {
      input: t.arg({
        type: CreateViewerTokenInput,
        required: true,
        description: 'The token to mint; `{}` for a read-only token for the whole tenant for 15 minutes.',
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.viewerTokens.mint(ctx.viewer, input, 'input'),
  }),
);
