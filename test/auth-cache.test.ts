// The key cache (src/auth/key-cache.ts): a key used on one instance is served from its cache, and
// a revocation or a read-log switch made through another instance reaches it by NOTIFY, so the
// next request there is refused (GraphQL, a REST dialect, a viewer token the key minted); a lost
// notification is bounded by AUTH_CACHE_MAX_AGE_MS; a LISTEN connection that drops and comes back
// clears the cache. The cases with two instances need Postgres (an embedded data directory has
// one process); the rest run on both drivers.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenSigner } from '../src/audit/tokens.ts';
import { createApiKey, revokeApiKey, setReadLog } from '../src/auth/admin.ts';
import { Authenticator } from '../src/auth/authenticate.ts';
import { KeyCache } from '../src/auth/key-cache.ts';
import { formatApiKey, hashSecret, parseApiKey } from '../src/auth/keys.ts';
import { insertApiKey, KEYS_CHANNEL } from '../src/auth/repository.ts';
import { ViewerTokens } from '../src/auth/viewer-tokens.ts';
import { UnauthenticatedError } from '../src/errors.ts';
import type { Gateway } from '../src/gateway.ts';
import { scrape } from '../src/metrics.ts';
import { graphql } from './gql/index.ts';
import { dbKind, startTestGateway, type TestGateway } from './support/gateway.ts';
import { gql, newTenant, type SharedDatabase, sharedDatabase } from './support/log-stream-gateways.ts';

const WhoAmI = graphql(`
  query CacheWhoAmI { viewer { keyId } }
`);
const MintToken = graphql(`
  mutation CacheMintToken($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }
`);
const ReadsOf = graphql(`
  query CacheReadsOf($first: Int) { auditReads(first: $first) { edges { node { requestId } } } }
`);

/** Long enough that within a test only a notification (or a cleared cache) can explain a refusal. */
const LONG_MAX_AGE = { AUTH_CACHE_MAX_AGE_MS: '600000' };
const quiet = { LOG_STREAMS: 'false', AUTH_FAILURES_PER_MINUTE: '100000' };
const idOf = (key: string) => parseApiKey(key)?.id as string;

const MAX_AGE_MS = 30_000;

/** An authenticator whose cache hears no notification, with a clock the test moves. */
function unheardAuthenticator(t: TestGateway, clock: { now: number }): Authenticator {
  return new Authenticator(
    t.gateway.database.db,
    100,
    new ViewerTokens(new TokenSigner(t.config.tokenSecrets ?? [])),
    new KeyCache({ maxKeys: 100, maxAgeMs: MAX_AGE_MS, now: () => clock.now }),
  );
}

async function lookups(source: 'cache' | 'database'): Promise<number> {
  const { body } = await scrape();
  const line = body.split('\n').find((l) => l.startsWith(`agw_auth_key_lookups_total{source="${source}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Runs `request` and returns how many key lookups of each source it made. */
async function counted(request: () => Promise<unknown>) {
  const [cache, database] = [await lookups('cache'), await lookups('database')];
  await request();
  return { cache: (await lookups('cache')) - cache, database: (await lookups('database')) - database };
}

/** Polls `check` until it holds; fails after `deadlineMs`. Resolves to the milliseconds it took. */
async function within(deadlineMs: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > deadlineMs) throw new Error(`not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function fetchAs(g: Gateway, path: string, key: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return g.app.fetch(new Request(`http://gateway.test${path}`, { ...init, headers }), {
    remoteAddress: '127.0.0.1',
  });
}

/** The statuses of a GraphQL query, a Wasabi REST listing and the viewer token's GraphQL query. */
async function statuses(g: Gateway, key: string, token: string) {
  return {
    graphql: (await gql(g, WhoAmI, {}, key)).status,
    rest: (await fetchAs(g, '/api/data/audit', key)).status,
    token: (await gql(g, WhoAmI, {}, token)).status,
  };
}

async function mint(g: Gateway, key: string): Promise<string> {
  const res = await gql(g, MintToken, { input: { ttlSeconds: 600 } }, key);
  expect(res.errors).toBeUndefined();
  return res.data?.createViewerToken.token as string;
}

describe.runIf(dbKind === 'postgres')('key cache: two instances on one database', () => {
  let shared: SharedDatabase;
  let a: Gateway;
  let b: Gateway;
  let superuser: postgres.Sql;

  beforeAll(async () => {
    shared = await sharedDatabase();
    a = await shared.open({ ...quiet, ...LONG_MAX_AGE });
    b = await shared.open({ ...quiet, ...LONG_MAX_AGE });
    superuser = postgres(shared.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await superuser?.end();
    await a?.close();
    await b?.close();
    await shared?.drop();
  });

  it('serves a key used again on B from its cache', async () => {
    const tenant = await newTenant(a, 'kc-hit');
    expect(await counted(() => gql(b, WhoAmI, {}, tenant.readKey))).toEqual({ cache: 0, database: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await gql(b, WhoAmI, {}, tenant.readKey);
      expect(res.data?.viewer.keyId).toBe(idOf(tenant.readKey));
    }
    expect(await counted(() => gql(b, WhoAmI, {}, tenant.readKey))).toEqual({ cache: 1, database: 0 });
    // The secret is still compared on every request: the cached key's id with another secret
    // (a well-formed key, so it gets as far as the lookup) is refused.
    const wrong = formatApiKey(idOf(tenant.readKey), 'x'.repeat(32));
    expect(await counted(() => gql(b, WhoAmI, {}, wrong))).toEqual({ cache: 1, database: 0 });
    expect((await gql(b, WhoAmI, {}, wrong)).status).toBe(401);
  });

  it('refuses a key cached on B once A revokes it: GraphQL, REST and its viewer token', async () => {
    const tenant = await newTenant(a, 'kc-revoke');
    const token = await mint(b, tenant.readKey);
    expect(await statuses(b, tenant.readKey, token)).toEqual({ graphql: 200, rest: 200, token: 200 });
    // All three are answered from B's cache now.
    expect(await counted(() => statuses(b, tenant.readKey, token))).toEqual({ cache: 3, database: 0 });

    await revokeApiKey(a.database, idOf(tenant.readKey));
    const took = await within(5000, async () => (await gql(b, WhoAmI, {}, tenant.readKey)).status === 401);
    expect(took).toBeLessThan(5000);
    expect(await statuses(b, tenant.readKey, token)).toEqual({ graphql: 401, rest: 401, token: 401 });
    // The tenant's other keys were not touched.
    expect((await gql(b, WhoAmI, {}, tenant.key)).status).toBe(200);
  });

  it('sees a read-log switch made through A on the next request to B', async () => {
    const tenant = await newTenant(a, 'kc-readlog');
    const { key: logKey } = await createApiKey(a.database, tenant.slug, ['read_log']);
    const recorded = async () => {
      const res = await fetchAs(b, '/api/data/audit', tenant.readKey);
      expect(res.status).toBe(200);
      await b.readLog.flush();
      const reads = await gql(a, ReadsOf, { first: 500 }, logKey);
      expect(reads.errors).toBeUndefined();
      const requestId = res.headers.get('x-request-id');
      return reads.data?.auditReads.edges.some((e) => e.node.requestId === requestId) ?? false;
    };
    expect(await recorded()).toBe(true);
    expect(await recorded()).toBe(true); // now from B's cache, still recording
    await setReadLog(a.database, tenant.slug, false);
    await within(5000, async () => !(await recorded()));
  });

  it('clears B’s cache when its LISTEN connection is killed and comes back', async () => {
    const tenant = await newTenant(a, 'kc-relisten');
    expect((await gql(b, WhoAmI, {}, tenant.readKey)).status).toBe(200);
    // Revoked behind the gateways' back: no notification, so B keeps serving its cached row.
    await superuser`update api_keys set revoked_at = now() where id = ${idOf(tenant.readKey)}`;
    expect(await counted(() => gql(b, WhoAmI, {}, tenant.readKey))).toEqual({ cache: 1, database: 0 });
    expect((await gql(b, WhoAmI, {}, tenant.readKey)).status).toBe(200);

    const listening = () => superuser<{ pid: number }[]>`
      select pid from pg_stat_activity
       where datname = current_database() and application_name = 'audit-gateway'
         and query ilike 'listen %' and pid <> pg_backend_pid()`;
    const before = await listening();
    expect(before.length).toBeGreaterThan(0);
    for (const { pid } of before) await superuser`select pg_terminate_backend(${pid})`;
    // On the re-LISTEN B forgets every row, so the next request reads the revoked one.
    await within(5000, async () => (await gql(b, WhoAmI, {}, tenant.readKey)).status === 401);
    const after = await listening();
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((r) => before.some((p) => p.pid === r.pid))).toEqual([]);
  });
});

describe('key cache: one instance', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway(LONG_MAX_AGE);
  });
  afterAll(() => t?.close());

  it('refuses a key revoked through this process at the very next request', async () => {
    const tenant = await t.newTenant('kc-one');
    const token = await mint(t.gateway, tenant.readKey);
    expect(await statuses(t.gateway, tenant.readKey, token)).toEqual({ graphql: 200, rest: 200, token: 200 });
    expect(await counted(() => statuses(t.gateway, tenant.readKey, token))).toEqual({
      cache: 3,
      database: 0,
    });
    // PGlite hands the notification to its own listener as it commits; on Postgres the process
    // hears its own before revokeApiKey resolves. Either way: no waiting.
    await revokeApiKey(t.gateway.database, idOf(tenant.readKey));
    expect(await statuses(t.gateway, tenant.readKey, token)).toEqual({ graphql: 401, rest: 401, token: 401 });
  });

  it('sees a read-log switch made through this process at the very next request', async () => {
    const tenant = await t.newTenant('kc-readlog-one');
    const { key: logKey } = await createApiKey(t.gateway.database, tenant.slug, ['read_log']);
    const recorded = async () => {
      const res = await t.fetch('/api/data/audit', { key: tenant.readKey });
      expect(res.status).toBe(200);
      await t.gateway.readLog.flush();
      const reads = await t.gql(ReadsOf, { first: 500 }, logKey);
      const requestId = res.headers.get('x-request-id');
      return reads.data?.auditReads.edges.some((e) => e.node.requestId === requestId) ?? false;
    };
    expect(await recorded()).toBe(true);
    await setReadLog(t.gateway.database, tenant.slug, false);
    expect(await recorded()).toBe(false);
    await setReadLog(t.gateway.database, tenant.slug, true);
    expect(await recorded()).toBe(true);
  });

  it('does not cache unknown keys: a key created after a miss is served at once', async () => {
    const tenant = await t.newTenant('kc-unknown');
    const id = randomBytes(6).toString('hex');
    const secret = 'S'.repeat(32);
    const key = formatApiKey(id, secret);
    for (let i = 0; i < 2; i++) {
      const answer = await counted(async () => {
        expect((await t.fetch('/api/data/audit', { key })).status).toBe(401);
      });
      expect(answer).toEqual({ cache: 0, database: 1 });
    }
    await insertApiKey(t.gateway.database, {
      id,
      tenantId: tenant.id,
      name: null,
      scopes: ['read'],
      secretHash: hashSecret(secret),
    });
    expect((await t.fetch('/api/data/audit', { key })).status).toBe(200);
  });

  it('does not keep a row whose read began before an eviction', async () => {
    const cache = new KeyCache({ maxKeys: 10, maxAgeMs: 600_000 });
    const row = {
      tenantId: 1,
      tenantSlug: 't',
      scopes: ['read'],
      secretHash: new Uint8Array(32),
      revokedAt: null,
      readLog: true,
    };
    let finish: (r: typeof row) => void = () => {};
    const reading = cache.load('k1', () => new Promise((resolve) => (finish = resolve)));
    cache.applyNotification('key:k1'); // the change committed while the read was on its way
    finish(row);
    expect(await reading).toBe(row); // this request still gets the row it read ...
    expect(cache.get('k1')).toBeUndefined(); // ... but it is not kept
    await cache.load('k1', async () => row);
    expect(cache.get('k1')).toBe(row);
    cache.applyNotification('tenant:1');
    expect(cache.get('k1')).toBeUndefined();
  });

  it('bounds a lost notification by the maximum age', async () => {
    const tenant = await t.newTenant('kc-lost');
    const clock = { now: 1_000_000 };
    const authenticator = unheardAuthenticator(t, clock);
    const headers = new Headers({ authorization: `Bearer ${tenant.readKey}` });
    await expect(authenticator.authenticate(headers, 'x')).resolves.toMatchObject({ tenantId: tenant.id });
    await revokeApiKey(t.gateway.database, idOf(tenant.readKey));
    clock.now += MAX_AGE_MS - 1;
    // The notification never came: the row read before the revocation is still served ...
    await expect(authenticator.authenticate(headers, 'x')).resolves.toMatchObject({ tenantId: tenant.id });
    // ... but a long-lived stream's recheck reads the database and sees the revocation ...
    const viewer = await authenticator.authenticate(headers, 'x');
    await expect(authenticator.recheck(viewer)).rejects.toBeInstanceOf(UnauthenticatedError);
    // ... and dropped the stale row, so the next request is refused too.
    await expect(authenticator.authenticate(headers, 'x')).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('refuses a row older than the maximum age without any notification', async () => {
    const tenant = await t.newTenant('kc-age');
    const clock = { now: 1_000_000 };
    const authenticator = unheardAuthenticator(t, clock);
    const headers = new Headers({ authorization: `Bearer ${tenant.readKey}` });
    await authenticator.authenticate(headers, 'x');
    await revokeApiKey(t.gateway.database, idOf(tenant.readKey));
    clock.now += MAX_AGE_MS - 1;
    await expect(authenticator.authenticate(headers, 'x')).resolves.toMatchObject({ tenantId: tenant.id });
    clock.now += 1;
    await expect(authenticator.authenticate(headers, 'x')).rejects.toThrow('revoked');
  });

  it('keeps at most AUTH_CACHE_KEYS rows, dropping the least recently used', async () => {
    const tenant = await t.newTenant('kc-lru');
    const keys = await Promise.all(
      [1, 2, 3].map(async () => (await createApiKey(t.gateway.database, tenant.slug, ['read'])).key),
    );
    const cache = new KeyCache({ maxKeys: 2, maxAgeMs: 600_000 });
    const authenticator = new Authenticator(
      t.gateway.database.db,
      100,
      new ViewerTokens(new TokenSigner(t.config.tokenSecrets ?? [])),
      cache,
    );
    const use = (key: string) =>
      authenticator.authenticate(new Headers({ authorization: `Bearer ${key}` }), 'x');
    const [k1, k2, k3] = keys as [string, string, string];
    await use(k1);
    await use(k2);
    await use(k1); // k2 is now the least recently used
    await use(k3);
    expect(cache.size).toBe(2);
    expect(cache.get(idOf(k1))).toBeDefined();
    expect(cache.get(idOf(k2))).toBeUndefined();
    expect(cache.get(idOf(k3))).toBeDefined();
  });

  it('AUTH_CACHE_MAX_AGE_MS=0 reads the database for every request', async () => {
    const off = await startTestGateway({ AUTH_CACHE_MAX_AGE_MS: '0' });
    try {
      const tenant = await off.newTenant('kc-off');
      for (let i = 0; i < 3; i++) {
        expect(await counted(() => off.fetch('/api/data/audit', { key: tenant.readKey }))).toEqual({
          cache: 0,
          database: 1,
        });
      }
    } finally {
      await off.close();
    }
  });

  it('a change rolled back announces nothing', async () => {
    const tenant = await t.newTenant('kc-rollback');
    const { database } = t.gateway;
    const announce = (key: string, commit: boolean) =>
      database.admin(async (tx) => {
        await database.notify(tx, KEYS_CHANNEL, `key:${idOf(key)}`);
        if (!commit) throw new Error('rolled back');
      });
    const use = (key: string) => t.fetch('/api/data/audit', { key });
    await use(tenant.readKey);
    await use(tenant.key);
    await expect(announce(tenant.readKey, false)).rejects.toThrow('rolled back');
    // This process hears its own notifications as the transaction commits, so there is nothing
    // to wait for: the committed one has evicted its key, the rolled-back one nothing.
    await announce(tenant.key, true);
    expect(await counted(() => use(tenant.key))).toEqual({ cache: 0, database: 1 });
    expect(await counted(() => use(tenant.readKey))).toEqual({ cache: 1, database: 0 });
  });
});
