// The service decides what a viewer may see. A restricted viewer (the frontend's short-lived
// tokens will make them; here they are built by hand) sees only its slice of the tenant in every
// read, whatever filter it asks for; what only makes sense on the whole tenant is refused.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../src/audit/model.ts';
import { MAX_IDS } from '../src/audit/service.ts';
import { operatorViewer, type Restriction, type Viewer } from '../src/audit/viewer.ts';
import { ForbiddenError, ValidationError } from '../src/errors.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

let t: TestGateway;
let tenant: TestTenant;
let all: AuditEvent[];

const newest = { field: 'occurredAt', direction: 'desc' } as const;

/** What a short-lived frontend token will carry: read-only, one slice of one tenant. */
function restricted(restriction: Restriction, scopes: ('read' | 'write')[] = ['read']): Viewer {
  return {
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    keyId: 'test-token',
    scopes: new Set(scopes),
    restriction,
  };
}

const ids = (events: readonly (AuditEvent | null)[]) => events.map((e) => e?.id ?? null).sort();
const idsWhere = (keep: (e: AuditEvent) => boolean) => ids(all.filter(keep));

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('slice');
  const inputs = Array.from({ length: 24 }, (_, i) => ({
    action: ['login', 'logout', 'export'][i % 3],
    occurredAt: new Date(Date.UTC(2026, 9, 1, i)).toISOString(),
    ...(i % 4 === 3 ? {} : { actor: { id: `actor-${i % 4}`, type: i % 4 === 0 ? 'SERVICE' : 'USER' } }),
    ...(i % 2 === 0 ? { groupId: `group-${i % 6}` } : {}),
    target: { kind: i % 5 === 0 ? 'secret-kind' : 'doc', id: `target-${i % 3}` },
  }));
  const results = await t.gateway.audit.recordEvents(operatorViewer(tenant), inputs);
  all = results.map((r) => {
    if (!r.ok) throw r.error;
    return r.event;
  });
  // Another tenant's events, which no viewer of this one may ever see.
  const other = await t.newTenant('slice-other');
  await t.gateway.audit.recordEvents(operatorViewer(other), [{ action: 'login', actor: { id: 'actor-1' } }]);
});
afterAll(() => t?.close());

describe('a restriction is ANDed into every read', () => {
  const onlyActor1 = () => restricted({ actorIds: ['actor-1'] });
  const isActor1 = (e: AuditEvent) => e.actor?.id === 'actor-1';

  it('listEvents and countEvents see only the slice', async () => {
    const page = await t.gateway.audit.listEvents(onlyActor1(), {}, newest, { first: 500 });
    expect(ids(page.edges.map((e) => e.node))).toEqual(idsWhere(isActor1));
    expect(await t.gateway.audit.countEvents(onlyActor1(), {})).toBe(idsWhere(isActor1).length);
  });

  it("the caller's filter narrows the slice further and can never widen it", async () => {
    const logins = await t.gateway.audit.listEvents(onlyActor1(), { actions: ['login'] }, newest, {});
    expect(ids(logins.edges.map((e) => e.node))).toEqual(
      idsWhere((e) => isActor1(e) && e.action === 'login'),
    );
    // Asking for another actor's events is a valid question whose answer is empty.
    const others = await t.gateway.audit.listEvents(
      onlyActor1(),
      { actorIds: ['actor-0', 'actor-2'] },
      newest,
      {},
    );
    expect(others.edges).toEqual([]);
    expect(await t.gateway.audit.countEvents(onlyActor1(), { actorIds: ['actor-0'] })).toBe(0);
  });

  it('several restricted fields must all hold', async () => {
    const viewer = restricted({
      actorIds: ['actor-0', 'actor-2'],
      actions: ['login'],
      groupIds: ['group-0'],
    });
    const page = await t.gateway.audit.listEvents(viewer, {}, newest, { first: 500 });
    const expected = idsWhere(
      (e) =>
        ['actor-0', 'actor-2'].includes(e.actor?.id ?? '') && e.action === 'login' && e.groupId === 'group-0',
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(page.edges.map((e) => e.node))).toEqual(expected);
    const byTarget = restricted({ targetIds: ['target-2'] });
    expect(await t.gateway.audit.countEvents(byTarget, {})).toBe(
      idsWhere((e) => e.target?.id === 'target-2').length,
    );
  });

  it('an empty list in a restriction matches nothing (it never means "no condition")', async () => {
    const viewer = restricted({ actorIds: [] });
    expect(await t.gateway.audit.countEvents(viewer, {})).toBe(0);
    expect((await t.gateway.audit.listEvents(viewer, {}, newest, {})).edges).toEqual([]);
    expect(await t.gateway.audit.loadEvents(viewer, [all[0]?.id as string])).toEqual([null]);
    expect((await t.gateway.audit.availableFilters(viewer)).actions).toEqual([]);
  });

  it('by id, an event outside the slice answers exactly like one that does not exist', async () => {
    const everyId = all.map((e) => e.id);
    const loaded = await t.gateway.audit.loadEvents(onlyActor1(), everyId);
    expect(loaded).toHaveLength(everyId.length);
    expect(
      loaded
        .map((e, i) => (e ? everyId[i] : null))
        .filter((x) => x !== null)
        .sort(),
    ).toEqual(idsWhere(isActor1));
    const outside = all.find((e) => !isActor1(e)) as AuditEvent;
    const inside = all.find(isActor1) as AuditEvent;
    expect(await t.gateway.audit.getEvent(onlyActor1(), outside.id)).toBeNull();
    expect((await t.gateway.audit.getEvent(onlyActor1(), inside.id))?.id).toBe(inside.id);
  });

  it('streams and offset pages hold only the slice, and the total counts only the slice', async () => {
    const streamed: AuditEvent[] = [];
    for await (const batch of t.gateway.audit.streamEvents(onlyActor1(), {}, newest, { batchSize: 2 }))
      streamed.push(...batch);
    expect(ids(streamed)).toEqual(idsWhere(isActor1));
    const { events, total } = await t.gateway.audit.pageByOffset(onlyActor1(), {}, newest, 0, 500);
    expect(ids(events)).toEqual(idsWhere(isActor1));
    expect(total).toBe(idsWhere(isActor1).length);
  });

  it('availableFilters names only what the slice holds', async () => {
    const viewer = restricted({ actions: ['logout'], actorIds: ['actor-1', 'actor-2'] });
    const slice = all.filter(
      (e) => e.action === 'logout' && ['actor-1', 'actor-2'].includes(e.actor?.id ?? ''),
    );
    const available = await t.gateway.audit.availableFilters(viewer);
    expect(available.actions).toEqual(['logout']);
    expect(available.targetKinds.map((k) => k.name)).toEqual(
      [...new Set(slice.map((e) => e.target?.kind as string))].sort(),
    );
    expect(available.actorTypes).toEqual(['USER']);
    const times = slice.map((e) => e.occurredAt.getTime()).sort((a, b) => a - b);
    expect(available.earliest?.getTime()).toBe(times[0]);
    expect(available.latest?.getTime()).toBe(times.at(-1));
    // The whole tenant, for comparison, knows more.
    const whole = await t.gateway.audit.availableFilters(operatorViewer(tenant));
    expect(whole.targetKinds.map((k) => k.name)).toContain('secret-kind');
    expect(whole.actions).toEqual(['export', 'login', 'logout']);
  });

  it('a cursor from a wider view does not page a narrower one', async () => {
    const wide = await t.gateway.audit.listEvents(operatorViewer(tenant), {}, newest, { first: 2 });
    await expect(
      t.gateway.audit.listEvents(onlyActor1(), {}, newest, { first: 2, after: wide.pageInfo.endCursor }),
    ).rejects.toMatchObject({ field: 'after' });
  });
});

describe('what covers the whole tenant is refused to a restricted viewer', () => {
  const viewer = () => restricted({ actorIds: ['actor-1'] }, ['read', 'write']);

  it('the chain: verification, checkpoints, export', async () => {
    await expect(t.gateway.chain.verify(viewer())).rejects.toBeInstanceOf(ForbiddenError);
    await expect(t.gateway.chain.listCheckpoints(viewer(), undefined, 10)).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(t.gateway.chain.checkpointNow(viewer())).rejects.toBeInstanceOf(ForbiddenError);
    expect(() => t.gateway.chain.export(viewer())).toThrow(ForbiddenError);
  });

  it('recording (a replayed idempotency key would answer with an event outside the slice)', async () => {
    await expect(t.gateway.audit.recordEvent(viewer(), { action: 'x' })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(t.gateway.audit.recordEvents(viewer(), [{ action: 'x' }])).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });
});

describe('scopes are checked by the service', () => {
  const writeOnly = (): Viewer => ({ ...operatorViewer(tenant), scopes: new Set(['write']) });
  const readOnly = (): Viewer => ({ ...operatorViewer(tenant), scopes: new Set(['read']) });

  it('every read refuses a viewer without `read`, before touching the database', async () => {
    const audit = t.gateway.audit;
    const refusals = [
      audit.listEvents(writeOnly(), {}, newest, {}),
      audit.countEvents(writeOnly(), {}),
      audit.loadEvents(writeOnly(), [all[0]?.id as string]),
      audit.getEvent(writeOnly(), all[0]?.id as string),
      audit.pageByOffset(writeOnly(), {}, newest, 0, 1),
      audit.availableFilters(writeOnly()),
      t.gateway.chain.listCheckpoints(writeOnly(), undefined, 1),
      t.gateway.chain.verify(writeOnly()),
      t.gateway.chain.checkpointNow(writeOnly()),
    ];
    for (const refusal of refusals) await expect(refusal).rejects.toBeInstanceOf(ForbiddenError);
    expect(() => audit.streamEvents(writeOnly(), {}, newest)).toThrow(ForbiddenError);
    expect(() => t.gateway.chain.export(writeOnly())).toThrow(ForbiddenError);
  });

  it('recording refuses a viewer without `write`', async () => {
    await expect(t.gateway.audit.recordEvent(readOnly(), { action: 'x' })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(t.gateway.audit.recordEvents(readOnly(), [])).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('pruning is for the operator only: no API key, and no copy of the operator viewer', async () => {
    const copy: Viewer = { ...operatorViewer(tenant) };
    await expect(t.gateway.chain.prune(copy, t.gateway.database, new Date())).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });
});

describe('lookups by id are bounded', () => {
  it(`the service refuses more than ${MAX_IDS} ids, naming the argument`, async () => {
    const many = Array.from({ length: MAX_IDS + 1 }, () => all[0]?.id as string);
    const refusal = t.gateway.audit.loadEvents(operatorViewer(tenant), many, 'ids');
    await expect(refusal).rejects.toBeInstanceOf(ValidationError);
    await expect(refusal).rejects.toMatchObject({ field: 'ids' });
    expect(await t.gateway.audit.loadEvents(operatorViewer(tenant), many.slice(1))).toHaveLength(MAX_IDS);
  });

  it('nodes(ids:) beyond the limit is BAD_USER_INPUT naming ids, however the ids are spread', async () => {
    const uuid = (i: number) => `01890000-0000-7000-8000-${String(i).padStart(12, '0')}`;
    const tooMany = Array.from({ length: MAX_IDS + 1 }, (_, i) => uuid(i));
    const res = await t.gqlRaw(
      { query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: tooMany } },
      tenant.readKey,
    );
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
    // Split over two fields, they still make one lookup of too many ids.
    const half = Math.ceil(tooMany.length / 2);
    const split = await t.gqlRaw(
      {
        query: 'query($a: [ID!]!, $b: [ID!]!) { a: nodes(ids: $a) { id } b: nodes(ids: $b) { id } }',
        variables: { a: tooMany.slice(0, half), b: tooMany.slice(half) },
      },
      tenant.readKey,
    );
    expect(split.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
  });
});

describe('the operator viewer stays on the command line', () => {
  it('no transport module can reach it', () => {
    const transports = ['src/graphql', 'src/rest'].flatMap((dir) =>
      readdirSync(dir).map((f) => path.join(dir, f)),
    );
    for (const file of [
      ...transports,
      'src/http/app.ts',
      'src/http/http-env.ts',
      'src/auth/authenticate.ts',
    ]) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/operatorViewer/);
    }
  });
});
