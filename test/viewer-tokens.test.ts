// Viewer tokens: a backend mints a short-lived token for a browser; every read made with it sees
// only the token's slice of the tenant, on every surface; it never does more than its key, ends
// when it expires or its key is revoked, and can only be narrowed when passed on.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../src/audit/model.ts';
import { TokenSigner } from '../src/audit/tokens.ts';
import { operatorViewer, type Viewer } from '../src/audit/viewer.ts';
import { createApiKey, revokeApiKey } from '../src/auth/admin.ts';
import { Authenticator } from '../src/auth/authenticate.ts';
import { KeyCache } from '../src/auth/key-cache.ts';
import { parseApiKey } from '../src/auth/keys.ts';
import { MAX_RESTRICTION_VALUES, ViewerTokens } from '../src/auth/viewer-tokens.ts';
import { UnauthenticatedError } from '../src/errors.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const APP = 'https://app.example.com';

let t: TestGateway;
let tenant: TestTenant;
let all: AuditEvent[];

const MINT = `mutation ($input: CreateViewerTokenInput!) {
  createViewerToken(input: $input) { token expiresAt scopes restriction { actorIds targetIds groupIds actions } }
}`;

type Minted = {
  token: string;
  expiresAt: string;
  scopes: string[];
  restriction: Record<string, string[] | null> | null;
};

async function mint(key: string, input: Record<string, unknown> = {}): Promise<Minted> {
  const res = await t.gqlRaw({ query: MINT, variables: { input } }, key);
  expect(res.errors).toBeUndefined();
  return res.data?.createViewerToken as Minted;
}

async function mintRest(key: string, body: unknown): Promise<Response> {
  return t.fetch('/v1/viewer-tokens', {
    method: 'POST',
    key,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const sorted = (xs: (string | null | undefined)[]) => [...xs].map((x) => x ?? null).sort();
const idsWhere = (keep: (e: AuditEvent) => boolean) => sorted(all.filter(keep).map((e) => e.id));
const isActor1 = (e: AuditEvent) => e.actor?.id === 'actor-1';

beforeAll(async () => {
  t = await startTestGateway({ CORS_ORIGINS: APP });
  tenant = await t.newTenant('tokens');
  // Recent, so that every dialect's default window (Mural: 7 days) holds them.
  const base = Date.now() - 60 * 60 * 1000;
  const inputs = Array.from({ length: 12 }, (_, i) => ({
    action: ['login', 'logout', 'export'][i % 3],
    occurredAt: new Date(base + i * 1000).toISOString(),
    actor: { id: `actor-${i % 4}`, email: `user${i % 4}@example.com` },
    groupId: `group-${i % 2}`,
    target: { kind: i % 4 === 1 ? 'doc' : 'secret', id: `target-${i % 3}` },
  }));
  const results = await t.gateway.audit.recordEvents(operatorViewer(tenant), inputs);
  all = results.map((r) => {
    if (!r.ok) throw r.error;
    return r.event;
  });
  // Another tenant, whose events no token of this one ever sees.
  const other = await t.newTenant('tokens-other');
  await t.gateway.audit.recordEvents(operatorViewer(other), [{ action: 'login', actor: { id: 'actor-1' } }]);
});
afterAll(() => t?.close());

describe('minting', () => {
  it('createViewerToken: read only, 15 minutes and the whole tenant by default', async () => {
    const before = Math.floor(Date.now() / 1000);
    const minted = await mint(tenant.readKey);
    expect(minted.token).toMatch(/^agwv_/);
    expect(minted.scopes).toEqual(['read']);
    expect(minted.restriction).toBeNull();
    const expires = Date.parse(minted.expiresAt) / 1000;
    expect(expires - before).toBeGreaterThanOrEqual(900);
    expect(expires - before).toBeLessThanOrEqual(901);
    const me = await t.gqlRaw(
      { query: '{ viewer { keyId scopes restriction { actorIds } expiresAt } }' },
      minted.token,
    );
    expect(me.data?.viewer).toEqual({
      keyId: parseApiKey(tenant.readKey)?.id,
      scopes: ['read'],
      restriction: null,
      expiresAt: minted.expiresAt,
    });
  });

  it('the restriction is echoed with its lists deduplicated and sorted', async () => {
    const minted = await mint(tenant.readKey, {
      ttlSeconds: 60,
      restriction: { actorIds: ['b', 'a', 'b'], actions: ['login'] },
    });
    expect(minted.restriction).toEqual({
      actorIds: ['a', 'b'],
      targetIds: null,
      groupIds: null,
      actions: ['login'],
    });
  });

  it('POST /v1/viewer-tokens mints the same kind of token', async () => {
    const res = await mintRest(tenant.readKey, { ttlSeconds: 120, restriction: { groupIds: ['group-1'] } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Minted;
    expect(body).toMatchObject({ scopes: ['read'], restriction: { groupIds: ['group-1'] } });
    const count = await t.gqlRaw({ query: '{ auditEvents { totalCount } }' }, body.token);
    expect(count.data?.auditEvents).toEqual({
      totalCount: all.filter((e) => e.groupId === 'group-1').length,
    });
  });

  it('bad values are BAD_USER_INPUT naming the field, in GraphQL and in REST', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ttlSeconds: 0 }, 'ttlSeconds'],
      [{ ttlSeconds: 3601 }, 'ttlSeconds'],
      [{ scopes: [] }, 'scopes'],
      [{ restriction: {} }, 'restriction'],
      [{ restriction: { actorIds: [''] } }, 'restriction.actorIds[0]'],
      [{ restriction: { actions: ['a\u0000b'] } }, 'restriction.actions[0]'],
      [{ restriction: { targetIds: ['x'.repeat(257)] } }, 'restriction.targetIds[0]'],
    ];
    for (const [input, field] of cases) {
      const res = await t.gqlRaw({ query: MINT, variables: { input } }, tenant.readKey);
      expect(res.errors?.[0]?.extensions, JSON.stringify(input)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: `input.${field}`,
      });
      const rest = await mintRest(tenant.readKey, input);
      expect(rest.status, JSON.stringify(input)).toBe(400);
      expect(await rest.json()).toMatchObject({ error: 'invalid_parameter', parameter: field });
    }
  });

  it('a list over its limit is refused before execution, naming it', async () => {
    const many = Array.from({ length: MAX_RESTRICTION_VALUES + 1 }, (_, i) => `a${i}`);
    const res = await t.gqlRaw(
      { query: MINT, variables: { input: { restriction: { actorIds: many } } } },
      tenant.readKey,
    );
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.restriction.actorIds',
    });
    const rest = await mintRest(tenant.readKey, { restriction: { actorIds: many } });
    expect(await rest.json()).toMatchObject({ parameter: 'restriction.actorIds' });
  });

  it('a restriction too large for a header is refused, not minted into a token no proxy passes', async () => {
    const long = (p: string) =>
      Array.from({ length: MAX_RESTRICTION_VALUES }, (_, i) => `${p}${i}`.padEnd(200, 'x'));
    const rest = await mintRest(tenant.readKey, {
      restriction: { actorIds: long('a'), targetIds: long('t') },
    });
    expect(rest.status).toBe(400);
    expect(await rest.json()).toMatchObject({ parameter: 'restriction' });
  });

  it('REST refuses unknown fields and wrong types rather than ignoring them', async () => {
    const unknown = await mintRest(tenant.readKey, { ttl: 60 });
    expect(unknown.status).toBe(400);
    const wrongType = await mintRest(tenant.readKey, { ttlSeconds: '60' });
    expect(await wrongType.json()).toMatchObject({ parameter: 'ttlSeconds' });
  });

  it('scopes are never wider than the minting key: a scope it lacks is FORBIDDEN', async () => {
    const res = await t.gqlRaw({ query: MINT, variables: { input: { scopes: ['write'] } } }, tenant.readKey);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(res.errors?.[0]?.message).toMatch(/input\.scopes\[0\].*"write"/);
    expect((await mintRest(tenant.readKey, { scopes: ['read', 'write'] })).status).toBe(403);
  });
});

describe('a restricted token sees only its slice, on every surface', () => {
  let token: string;
  const inside = () => all.find(isActor1) as AuditEvent;
  const outside = () => all.find((e) => !isActor1(e)) as AuditEvent;
  beforeAll(async () => {
    token = (await mint(tenant.readKey, { restriction: { actorIds: ['actor-1'] } })).token;
  });

  it('GraphQL auditEvents and totalCount, even when the filter asks for other actors', async () => {
    const res = await t.gqlRaw(
      { query: '{ auditEvents(first: 500) { totalCount edges { node { id } } } }' },
      token,
    );
    const page = res.data?.auditEvents as { totalCount: number; edges: { node: { id: string } }[] };
    expect(sorted(page.edges.map((e) => e.node.id))).toEqual(idsWhere(isActor1));
    expect(page.totalCount).toBe(idsWhere(isActor1).length);
    const wider = await t.gqlRaw(
      {
        query:
          '{ auditEvents(filter: { actorIds: ["actor-0", "actor-2"] }) { totalCount edges { cursor } } }',
      },
      token,
    );
    expect(wider.data?.auditEvents).toEqual({ totalCount: 0, edges: [] });
  });

  it('GraphQL event, node and nodes: an event outside the slice is null, like one that does not exist', async () => {
    const res = await t.gqlRaw(
      {
        query: `query ($in: ID!, $out: ID!) {
          in: event(id: $in) { id } out: event(id: $out) { id }
          nodeIn: node(id: $in) { id } nodeOut: node(id: $out) { id }
          nodes(ids: [$in, $out]) { id }
        }`,
        variables: { in: inside().id, out: outside().id },
      },
      token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      in: { id: inside().id },
      out: null,
      nodeIn: { id: inside().id },
      nodeOut: null,
      nodes: [{ id: inside().id }, null],
    });
  });

  it('GraphQL availableFilters names only what the slice holds', async () => {
    const res = await t.gqlRaw({ query: '{ availableFilters { actions targetKinds { name } } }' }, token);
    const slice = all.filter(isActor1);
    expect(res.data?.availableFilters).toEqual({
      actions: [...new Set(slice.map((e) => e.action))].sort(),
      targetKinds: [...new Set(slice.map((e) => e.target?.kind as string))].sort().map((name) => ({ name })),
    });
    expect(slice.every((e) => e.target?.kind === 'doc')).toBe(true);
  });

  it('MadKudu: the list and the event by id', async () => {
    const list = (await (await t.fetch('/v1/audit', { key: token })).json()) as { events: { id: string }[] };
    expect(sorted(list.events.map((e) => e.id))).toEqual(idsWhere(isActor1));
    expect((await t.fetch(`/v1/audit/${inside().id}`, { key: token })).status).toBe(200);
    expect((await t.fetch(`/v1/audit/${outside().id}`, { key: token })).status).toBe(404);
  });

  it('Mural: the audit log', async () => {
    const res = await t.fetch('/enterprise/v1/audit-log', { key: token });
    const body = (await res.json()) as { data: { actor: { id: string } }[] };
    expect(body.data.map((e) => e.actor.id)).toEqual(all.filter(isActor1).map(() => 'actor-1'));
  });

  it('Wasabi: the list with its total, the filters and the record by id', async () => {
    const list = (await (await t.fetch('/api/data/audit?count=100', { key: token })).json()) as {
      audit_events: { id: string }[];
      total: number;
    };
    expect(sorted(list.audit_events.map((e) => e.id))).toEqual(idsWhere(isActor1));
    expect(list.total).toBe(idsWhere(isActor1).length);
    const filters = (await (await t.fetch('/api/data/audit/filters', { key: token })).json()) as {
      target_kinds: { name: string }[];
    };
    expect(filters.target_kinds.map((k) => k.name)).toEqual(['doc']);
    expect((await t.fetch(`/api/data/audit/${inside().id}`, { key: token })).status).toBe(200);
    expect((await t.fetch(`/api/data/audit/${outside().id}`, { key: token })).status).toBe(404);
  });

  it('whole-tenant operations are refused: chain verification and checkpoints', async () => {
    const verify = await t.gqlRaw({ query: '{ verifyChain { intact } }' }, token);
    expect(verify.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const checkpoints = await t.gqlRaw({ query: '{ checkpoints { sequence } }' }, token);
    expect(checkpoints.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('writing', () => {
  const record = (token: string) =>
    t.gqlRaw({ query: 'mutation { recordEvent(input: { action: "token.wrote" }) { id } }' }, token);

  it('a token minted with `read` cannot write, even from a read/write key', async () => {
    const res = await record((await mint(tenant.key)).token);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('a token minted with `write` by a key that has it writes; restricted, it cannot (whole-tenant)', async () => {
    const writer = await t.newTenant('tokens-write');
    const unrestricted = await mint(writer.key, { scopes: ['read', 'write'] });
    expect(unrestricted.scopes).toEqual(['read', 'write']);
    const res = await record(unrestricted.token);
    expect(res.errors).toBeUndefined();
    expect(await t.gateway.audit.countEvents(operatorViewer(writer), {})).toBe(1);
    const restricted = await mint(writer.key, {
      scopes: ['write'],
      restriction: { actions: ['token.wrote'] },
    });
    expect((await record(restricted.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('narrowing: a token minted by a token', () => {
  it('gets the intersection of restrictions, never wider', async () => {
    const parent = await mint(tenant.readKey, { restriction: { actorIds: ['actor-1', 'actor-2'] } });
    const wider = await mint(parent.token, { restriction: { actorIds: ['actor-1', 'actor-3'] } });
    expect(wider.restriction?.actorIds).toEqual(['actor-1']);
    const other = await mint(parent.token, { restriction: { groupIds: ['group-1'] } });
    expect(other.restriction).toMatchObject({ actorIds: ['actor-1', 'actor-2'], groupIds: ['group-1'] });
    const inherited = await mint(parent.token);
    expect(inherited.restriction?.actorIds).toEqual(['actor-1', 'actor-2']);
    const disjoint = await mint(parent.token, { restriction: { actorIds: ['actor-0'] } });
    expect(disjoint.restriction?.actorIds).toEqual([]);
    const count = async (token: string) => {
      const res = await t.gqlRaw({ query: '{ auditEvents { totalCount } }' }, token);
      return (res.data?.auditEvents as { totalCount: number } | undefined)?.totalCount;
    };
    expect(await count(wider.token)).toBe(idsWhere(isActor1).length);
    expect(await count(other.token)).toBe(
      idsWhere((e) => ['actor-1', 'actor-2'].includes(e.actor?.id ?? '') && e.groupId === 'group-1').length,
    );
    expect(await count(disjoint.token)).toBe(0);
  });

  it('cannot outlive its parent, nor take a scope the parent lacks', async () => {
    const parent = await mint(tenant.key, { ttlSeconds: 120 });
    const child = await mint(parent.token);
    expect(Date.parse(child.expiresAt)).toBeLessThanOrEqual(Date.parse(parent.expiresAt));
    const longer = await t.gqlRaw({ query: MINT, variables: { input: { ttlSeconds: 600 } } }, parent.token);
    expect(longer.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.ttlSeconds',
    });
    const write = await t.gqlRaw({ query: MINT, variables: { input: { scopes: ['write'] } } }, parent.token);
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('a token that expires between its authentication and its minting', () => {
  it('mints nothing (a token of no lifetime would be refused at once anyway)', () => {
    const issuer = new ViewerTokens(new TokenSigner(['s'.repeat(32)]), () => 1_000_001_200);
    const parent: Viewer = {
      tenantId: 1,
      tenantSlug: 'x',
      keyId: 'k',
      scopes: new Set(['read']),
      token: { id: 'j', expiresAt: new Date(1_000_001_000) },
    };
    expect(() => issuer.mint(parent, {}, 'input')).toThrow(
      expect.objectContaining({ field: 'input.ttlSeconds' }) as Error,
    );
  });
});

describe('the end of a token', () => {
  const viewerOfKey = (key: string): Viewer => ({
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    keyId: parseApiKey(key)?.id as string,
    scopes: new Set(['read']),
  });
  const asks = (token: string) => t.gqlRaw({ query: '{ viewer { keyId } }' }, token);

  it('an expired token is 401 saying it expired', async () => {
    const twoHoursAgo = Date.now() - 2 * 60 * 60 * 1000;
    const issuer = new ViewerTokens(new TokenSigner(t.config.tokenSecrets ?? []), () => twoHoursAgo);
    const { token } = issuer.mint(viewerOfKey(tenant.readKey), { ttlSeconds: 3600 });
    const res = await asks(token);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0]?.message).toMatch(/expired at/);
    const rest = await t.fetch('/v1/audit', { key: token });
    expect(rest.status).toBe(401);
  });

  it('revoking the minting key ends its tokens at the next request', async () => {
    const { key } = await createApiKey(t.gateway.database, tenant.slug, ['read']);
    const { token } = await mint(key);
    expect((await asks(token)).status).toBe(200);
    await revokeApiKey(t.gateway.database, parseApiKey(key)?.id as string);
    const res = await asks(token);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.message).toMatch(/revoked/);
    expect((await t.fetch('/api/data/audit', { key: token })).status).toBe(401);
  });

  it('a tampered token is 401 before any database work: an edited claim, a flipped signature, a truncation', async () => {
    const { token } = await mint(tenant.readKey, { restriction: { actorIds: ['actor-1'] } });
    const [body, mac] = token.slice('agwv_'.length).split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, r: undefined, s: ['read', 'write'] })).toString(
      'base64url',
    );
    const flipped = `${mac.slice(0, -2)}${mac.at(-2) === 'A' ? 'B' : 'A'}${mac.at(-1)}`;
    for (const forged of [
      `agwv_${widened}.${mac}`,
      `agwv_${body}.${flipped}`,
      token.slice(0, -3),
      'agwv_x',
    ]) {
      const before = t.queries.length;
      const res = await asks(forged);
      expect(res.status, forged).toBe(401);
      expect(res.errors?.[0]?.message).toMatch(/viewer token is not valid/);
      expect(t.queries.slice(before)).toEqual([]);
    }
  });

  it('a token signed with another TOKEN_SECRET is 401', async () => {
    const foreign = new ViewerTokens(new TokenSigner([randomBytes(32).toString('base64url')]));
    const { token } = foreign.mint(viewerOfKey(tenant.readKey), {});
    const res = await asks(token);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.message).toMatch(/signed with another TOKEN_SECRET/);
  });

  it('a token signed with TOKEN_SECRET_PREVIOUS still works after a rotation', async () => {
    const old = randomBytes(32).toString('base64url');
    const rotated = await startTestGateway({
      TOKEN_SECRET: randomBytes(32).toString('base64url'),
      TOKEN_SECRET_PREVIOUS: old,
    });
    try {
      const owner = await rotated.newTenant('rotated');
      const { token } = new ViewerTokens(new TokenSigner([old])).mint(
        {
          tenantId: owner.id,
          tenantSlug: owner.slug,
          keyId: parseApiKey(owner.readKey)?.id as string,
          scopes: new Set(['read']),
        },
        {},
      );
      const res = await rotated.gqlRaw({ query: '{ viewer { tenant { slug } } }' }, token);
      expect(res.data?.viewer).toEqual({ tenant: { slug: owner.slug } });
    } finally {
      await rotated.close();
    }
  });

  it('recheck (for long-lived streams) refuses a viewer once its key is revoked', async () => {
    // A cache that hears no notification and keeps rows for an hour: recheck must not use it.
    const authenticator = new Authenticator(
      t.gateway.database.db,
      100,
      new ViewerTokens(new TokenSigner(t.config.tokenSecrets ?? [])),
      new KeyCache({ maxKeys: 10, maxAgeMs: 3_600_000 }),
    );
    const { key } = await createApiKey(t.gateway.database, tenant.slug, ['read']);
    const { token } = await mint(key);
    const viewer = await authenticator.authenticate(new Headers({ authorization: `Bearer ${token}` }), 'x');
    expect(viewer.token?.expiresAt).toBeInstanceOf(Date);
    await expect(authenticator.recheck(viewer)).resolves.toBeUndefined();
    await revokeApiKey(t.gateway.database, parseApiKey(key)?.id as string);
    await expect(authenticator.recheck(viewer)).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});

describe('cross-origin, from an allowed origin', () => {
  it('a page uses its token cross-origin: preflights (GraphQL, minting, REST), then the query, X-Request-Id exposed', async () => {
    const { token } = await mint(tenant.readKey, { restriction: { actorIds: ['actor-1'] } });
    for (const path of ['/graphql', '/v1/viewer-tokens', '/api/data/audit']) {
      const preflight = await t.fetch(path, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': path === '/api/data/audit' ? 'GET' : 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(preflight.status, path).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(APP);
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    }
    const res = await t.fetch('/graphql', {
      method: 'POST',
      key: token,
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ auditEvents { totalCount } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(await res.json()).toEqual({ data: { auditEvents: { totalCount: idsWhere(isActor1).length } } });
    const rest = await t.fetch('/api/data/audit', { key: token, headers: { origin: APP } });
    expect(rest.status).toBe(200);
    expect(rest.headers.get('access-control-allow-origin')).toBe(APP);
  });
});
