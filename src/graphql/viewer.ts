// The caller as the API key identifies it: which tenant's events it sees and what it may do.
import type { Viewer } from '../audit/viewer.ts';
import { builder } from './builder.ts';
import { ViewerRestrictionRef } from './viewer-token.ts';

const TenantRef = builder.objectRef<{ id: number; slug: string }>('Tenant').implement({
  description: 'The account whose events you see. Fixed by your API key; no query can name another tenant.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: 'Numeric tenant id (MadKudu `tenant`).' }),
    slug: t.exposeString('slug', { description: 'Short unique name of the tenant.' }),
  }),
});

const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'The API key, or the viewer token minted by one, making this request.',
  fields: (t) => ({
    tenant: t.field({
      type: TenantRef,
      description: 'The tenant the key belongs to.',
      resolve: (v) => ({ id: v.tenantId, slug: v.tenantSlug }),
    }),
    keyId: t.exposeString('keyId', {
      description: 'Public id of the key (the part after `agw_`), as shown by `keys create`.',
    }),
    scopes: t.stringList({
      description: 'What the key may do: `read` (queries), `write` (recording events).',
      resolve: (v) => [...v.scopes].sort(),
    }),
    restriction: t.field({
      type: ViewerRestrictionRef,
      nullable: true,
      description:
        'The slice of the tenant a viewer token sees; null: the whole tenant (always, for an API key).',
      resolve: (v) => v.restriction ?? null,
    }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the viewer token making this request expires; null for an API key.',
      resolve: (v) => v.token?.expiresAt ?? null,
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'Who you are: the tenant and scopes of your API key.',
    resolve: (_root, _args, ctx) => ctx.viewer,
  }),
);
