// Retention policies, legal hold and the retention job (docs/retention.md), on both stores: the
// period's validation, the job pruning exactly what is past each tenant's period at a given
// instant (no waiting for real time to pass), a hold stopping the job and the explicit prune,
// the policy, hold and prune recorded in the tenant's chain, and the chain verifying afterwards.
// With Postgres: two gateway instances on one database run the job one at a time, and a hold
// placed while a prune is under way is seen by that prune.
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../src/audit/model.ts';
import { changeLegalHold } from '../src/audit/repository/retention.ts';
import { RETENTION_JOB_ACTOR } from '../src/audit/retention.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { ConflictError, ForbiddenError, ValidationError } from '../src/errors.ts';
import { type Gateway, openGateway } from '../src/gateway.ts';
import { parseRetentionPeriod, retentionCutoff } from '../src/retention-period.ts';
import {
  createTestDatabase,
  dbKind,
  startTestGateway,
  type TestGateway,
  testSecrets,
} from './support/gateway.ts';
import { rows, type Superuser, superuser } from './support/superuser.ts';

const DAY = 86_400_000;
const alice = { id: 'alice', type: 'OPERATOR' } as const;
const bob = { id: 'bob', type: 'OPERATOR' } as const;

type StoredRow = {
  seq: string | number;
  action: string;
  actor_id: string | null;
  metadata: unknown;
  received_at: Date | string;
};

let t: TestGateway;
let su: Superuser;
beforeAll(async () => {
  t = await startTestGateway({ RETENTION_DEFAULT: '13 months' });
  su = superuser(t);
});
afterAll(async () => {
  await su.close();
  await t.close();
});

async function stored(tenantId: number) {
  const found = await su.run((tx) =>
    rows<StoredRow>(
      tx,
      sql`select seq, action, actor_id, metadata, received_at from audit_events where tenant_id = ${tenantId} order by seq`,
    ),
  );
  return found.map((r) => ({
    seq: Number(r.seq),
    action: r.action,
    actorId: r.actor_id,
    metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata) as Record<
      string,
      unknown
    >,
    receivedAt: new Date(r.received_at),
  }));
}

/**
 * The whole-tenant totals (Wasabi `total`, GraphQL `totalCount`), which count a tenant's run of
 * sequence numbers instead of its rows (event-reads.ts WHOLE_TENANT_COUNT): after a prune they
 * must still equal the rows stored.
 */
async function totals(tenant: { key: string }): Promise<number[]> {
  const wasabi = await t.fetch('/api/data/audit?count=1&page=0', { key: tenant.key });
  const graphql = await t.gqlRaw({ query: '{ auditEvents(first: 1) { totalCount } }' }, tenant.key);
  const total = ((await wasabi.json()) as { total: number }).total;
  return [total, (graphql.data?.auditEvents as { totalCount: number } | undefined)?.totalCount ?? -1];
}

async function record(tenant: { id: number; slug: string }, n: number, label: string): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for (let i = 0; i < n; i++)
    events.push(
      (
        await t.gateway.audit.recordEvent(operatorViewer(tenant), {
          action: `${label}.event`,
          actor: { id: 'u' },
        })
      ).event,
    );
  return events;
}

/** Until the clock has moved past `instant`: a later event is received strictly after it (a millisecond at most). */
function pastMillisecond(instant: Date) {
  while (Date.now() <= instant.getTime()) {
    // spin
  }
}

describe('the retention period', () => {
  it.each([
    ['30d', 'P30D'],
    ['30 days', 'P30D'],
    ['1 day', 'P1D'],
    ['6w', 'P42D'],
    ['13mo', 'P13M'],
    ['13 Months', 'P13M'],
    ['7y', 'P7Y'],
    ['7 years', 'P7Y'],
    ['P7Y', 'P7Y'],
    ['p30d', 'P30D'],
    ['forever', 'forever'],
    [' 100y ', 'P100Y'],
  ])('reads %j as %s', (text, period) => {
    expect(parseRetentionPeriod(text, 'period')).toBe(period);
  });

  it.each([
    ['', 'must be a period such as 30d'],
    ['30', 'must be a period such as 30d'],
    ['13m', 'is ambiguous: write 13mo for months'],
    ['3 fortnights', '"fortnights" is not a unit'],
    ['0d', 'at least 1 day'],
    ['101y', 'at most 100 years'],
    ['-5d', 'must be a period such as 30d'],
    ['1.5y', 'must be a period such as 30d'],
    ['P1Y2M', 'must be a period such as 30d'],
  ])('refuses %j, naming the field', (text, reason) => {
    const error = (() => {
      try {
        parseRetentionPeriod(text, 'period');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('period');
    expect((error as ValidationError).message).toContain(reason);
  });

  it('counts months and years on the UTC calendar, never past the day the earlier month lacks', () => {
    const at = (iso: string) => new Date(iso);
    expect(retentionCutoff(parseRetentionPeriod('1mo', 'p'), at('2026-03-31T10:00:00Z'))).toEqual(
      at('2026-02-28T10:00:00Z'),
    );
    expect(retentionCutoff(parseRetentionPeriod('1mo', 'p'), at('2024-03-31T10:00:00Z'))).toEqual(
      at('2024-02-29T10:00:00Z'),
    );
    expect(retentionCutoff(parseRetentionPeriod('13mo', 'p'), at('2026-12-02T06:00:00Z'))).toEqual(
      at('2025-11-02T06:00:00Z'),
    );
    expect(retentionCutoff(parseRetentionPeriod('7y', 'p'), at('2028-02-29T00:00:00Z'))).toEqual(
      at('2021-02-28T00:00:00Z'),
    );
    expect(retentionCutoff(parseRetentionPeriod('30d', 'p'), at('2026-03-31T10:00:00Z'))).toEqual(
      at('2026-03-01T10:00:00Z'),
    );
    expect(retentionCutoff(parseRetentionPeriod('forever', 'p'), new Date())).toBeNull();
  });

  it('RETENTION_DEFAULT is checked at start with the other settings', () => {
    const error = (() => {
      try {
        loadConfig({ RETENTION_DEFAULT: '13m', RETENTION_INTERVAL_SECONDS: '0' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('RETENTION_DEFAULT: "13m" is ambiguous');
    expect(problems).toContain('RETENTION_INTERVAL_SECONDS: must be at least 1');
    expect(loadConfig({}).retention).toEqual({ defaultPeriod: 'forever', intervalSeconds: 3600 });
  });
});

describe('a tenant policy', () => {
  it('is set, shown, changed back to the default, and each change recorded naming who did it', async () => {
    const tenant = await t.newTenant('policy');
    const operator = operatorViewer(tenant);
    expect(await t.gateway.retention.status(operator)).toMatchObject({
      period: null,
      effective: 'P13M',
      hold: null,
    });

    const set = await t.gateway.retention.setPeriod(operator, '30 days', alice);
    expect(set).toMatchObject({ period: 'P30D', effective: 'P30D' });
    // The same period again changes nothing and records nothing.
    await t.gateway.retention.setPeriod(operator, 'P30D', alice);
    await expect(t.gateway.retention.setPeriod(operator, '13m', alice, 'period')).rejects.toThrow(
      'period: "13m" is ambiguous',
    );
    expect(await t.gateway.retention.setPeriod(operator, null, bob)).toMatchObject({
      period: null,
      effective: 'P13M',
    });

    const changes = (await stored(tenant.id)).filter((e) => e.action === 'audit.retention.changed');
    expect(changes.map((e) => [e.actorId, e.metadata.from, e.metadata.to])).toEqual([
      ['alice', null, 'P30D'],
      ['bob', 'P30D', null],
    ]);
  });

  it('is the operator’s alone: a viewer built from an API key cannot read or change it', async () => {
    const tenant = await t.newTenant('policy-key');
    const copy = { ...operatorViewer(tenant) };
    await expect(t.gateway.retention.setPeriod(copy, '1d', alice)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(t.gateway.retention.placeHold(copy, alice, 'x')).rejects.toBeInstanceOf(ForbiddenError);
    await expect(t.gateway.retention.status(copy)).rejects.toBeInstanceOf(ForbiddenError);
  });
});

describe('the retention job and legal hold', () => {
  it('prunes exactly what is past each period, skips a held tenant, and the chains verify', async () => {
    const short = await t.newTenant('short');
    const byDefault = await t.newTenant('default');
    const long = await t.newTenant('long');
    const held = await t.newTenant('held');
    await t.gateway.retention.setPeriod(operatorViewer(short), '30d', alice);
    await t.gateway.retention.setPeriod(operatorViewer(long), '7y', alice);
    await t.gateway.retention.setPeriod(operatorViewer(held), '30d', alice);
    const all = [short, byDefault, long, held];
    const old: AuditEvent[] = [];
    for (const tenant of all) old.push(...(await record(tenant, 4, 'old')));
    pastMillisecond(old.at(-1)?.receivedAt as Date);
    const fresh: AuditEvent[] = [];
    for (const tenant of all) fresh.push(...(await record(tenant, 3, 'new')));
    await t.gateway.retention.placeHold(operatorViewer(held), alice, 'litigation 2026-17');

    // Thirty days after the first new event: everything received before it is past 30 days.
    const boundary = fresh[0]?.receivedAt as Date;
    const now = new Date(boundary.getTime() + 30 * DAY);
    const beforeShort = await stored(short.id);
    const expected = beforeShort.filter((e) => e.receivedAt < boundary);
    expect(expected.map((e) => e.action)).toEqual(['audit.retention.changed', ...Array(4).fill('old.event')]);

    const run = await t.gateway.retention.apply(now);
    expect(run.ran).toBe(true);
    expect(run.failed).toEqual([]);
    expect(run.held).toEqual([held.slug]);
    expect(run.pruned.map((p) => p.tenant)).toEqual([short.slug]);
    const result = run.pruned[0]?.result;
    expect(result).toMatchObject({
      fromSequence: 1,
      throughSequence: expected.length,
      removed: expected.length,
    });
    expect(result?.firstReceivedAt).toEqual(expected[0]?.receivedAt);
    expect(result?.lastReceivedAt).toEqual(expected.at(-1)?.receivedAt);

    const afterShort = await stored(short.id);
    expect(afterShort.map((e) => e.seq)).toEqual(
      beforeShort
        .slice(expected.length)
        .map((e) => e.seq)
        .concat([beforeShort.length + 1]),
    );
    const pruned = afterShort.at(-1);
    expect(pruned).toMatchObject({ action: 'audit.pruned', actorId: RETENTION_JOB_ACTOR.id });
    expect(pruned?.metadata).toEqual({
      via: 'retention-job',
      policy: 'P30D',
      receivedBefore: boundary.toISOString(),
      fromSequence: 1,
      throughSequence: expected.length,
      removedEvents: expected.length,
      firstReceivedAt: expected[0]?.receivedAt.toISOString(),
      lastReceivedAt: expected.at(-1)?.receivedAt.toISOString(),
      anchorHash: result?.anchorHash,
    });
    const report = await t.gateway.chain.verify(operatorViewer(short));
    expect(report).toMatchObject({
      status: 'intact',
      from: expected.length + 1,
      headSequence: beforeShort.length + 1,
    });
    expect(await totals(short)).toEqual([afterShort.length, afterShort.length]);
    expect(await totals(long)).toEqual(Array(2).fill((await stored(long.id)).length));

    // The default (13 months) and 7 years keep everything; the held tenant keeps everything.
    for (const tenant of [byDefault, long, held])
      expect((await stored(tenant.id)).filter((e) => e.action === 'old.event')).toHaveLength(4);

    // Run again at the same instant: nothing more is past retention, nothing is recorded.
    const again = await t.gateway.retention.apply(now);
    expect(again.pruned).toEqual([]);
    expect(await stored(short.id)).toHaveLength(afterShort.length);

    // Fourteen months on, the default has passed too: that tenant's whole chain goes, and the
    // anchor still vouches for the prune event that follows it.
    const later = new Date(boundary.getTime() + 430 * DAY);
    const late = await t.gateway.retention.apply(later);
    const mine = (tenants: string[]) => tenants.filter((slug) => all.some((x) => x.slug === slug)).sort();
    expect(mine(late.pruned.map((p) => p.tenant))).toEqual([byDefault.slug, short.slug].sort());
    expect(late.held).toEqual([held.slug]);
    const left = await stored(byDefault.id);
    expect(left.map((e) => e.action)).toEqual(['audit.pruned']);
    expect(await totals(byDefault)).toEqual([1, 1]);
    expect(await t.gateway.chain.verify(operatorViewer(byDefault))).toMatchObject({
      status: 'intact',
      eventsChecked: 1,
    });
    expect((await stored(long.id)).filter((e) => e.action === 'old.event')).toHaveLength(4);
  });

  it('a hold refuses the explicit prune too; placing and lifting are recorded; once lifted, prunes resume', async () => {
    const tenant = await t.newTenant('hold');
    const operator = operatorViewer(tenant);
    await record(tenant, 3, 'old');
    const placed = await t.gateway.retention.placeHold(operator, alice, 'subpoena 42');
    expect(placed.hold).toMatchObject({ by: 'alice', reason: 'subpoena 42' });
    await expect(t.gateway.retention.placeHold(operator, bob, 'again')).rejects.toThrow(
      'already on legal hold',
    );

    const future = new Date(Date.now() + DAY);
    const refused = t.gateway.chain.prune(operator, t.gateway.database, future, { actor: bob, via: 'cli' });
    await expect(refused).rejects.toBeInstanceOf(ConflictError);
    await expect(refused).rejects.toThrow(
      /is on legal hold since .* \(placed by alice: subpoena 42\); nothing of it is pruned/,
    );
    // Refused even when nothing is old enough to remove.
    await expect(t.gateway.chain.prune(operator, t.gateway.database, new Date(0))).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await stored(tenant.id)).map((e) => e.action)).toEqual([
      'old.event',
      'old.event',
      'old.event',
      'audit.legal_hold.placed',
    ]);

    await t.gateway.retention.liftHold(operator, bob, 'case closed');
    await expect(t.gateway.retention.liftHold(operator, bob, undefined)).rejects.toThrow(
      'is not on legal hold',
    );
    const cutoff = new Date(Date.now() + 1);
    pastMillisecond(cutoff);
    const done = await t.gateway.chain.prune(operator, t.gateway.database, cutoff, {
      actor: bob,
      via: 'cli',
    });
    expect(done).toMatchObject({ fromSequence: 1, throughSequence: 5, removed: 5 });
    const chain = await stored(tenant.id);
    expect(chain.map((e) => [e.seq, e.action, e.actorId])).toEqual([[6, 'audit.pruned', 'bob']]);
    expect(chain[0]?.metadata).toMatchObject({
      via: 'cli',
      fromSequence: 1,
      throughSequence: 5,
      removedEvents: 5,
    });
    expect(await t.gateway.chain.verify(operator)).toMatchObject({
      status: 'intact',
      from: 6,
      eventsChecked: 1,
    });
  });

  it('keeps the hold and lift events as evidence: who, when and why', async () => {
    const tenant = await t.newTenant('hold-record');
    const operator = operatorViewer(tenant);
    await t.gateway.retention.placeHold(operator, alice, 'regulator inquiry');
    await t.gateway.retention.liftHold(operator, bob, 'inquiry closed');
    const [placed, lifted] = await stored(tenant.id);
    expect(placed).toMatchObject({ action: 'audit.legal_hold.placed', actorId: 'alice' });
    expect(placed?.metadata).toMatchObject({ via: 'cli', reason: 'regulator inquiry' });
    expect(lifted).toMatchObject({ action: 'audit.legal_hold.lifted', actorId: 'bob' });
    expect(lifted?.metadata).toMatchObject({
      via: 'cli',
      placedBy: 'alice',
      placedReason: 'regulator inquiry',
      reason: 'inquiry closed',
      placedAt: placed?.metadata.since,
    });
    expect(await t.gateway.chain.verify(operator)).toMatchObject({ intact: true });
  });
});

describe('the scheduled job', () => {
  it('applies the policies every interval until stopped', async () => {
    const tenant = await t.newTenant('scheduled');
    await t.gateway.retention.setPeriod(operatorViewer(tenant), '1d', alice);
    const lastReceived = (await record(tenant, 3, 'old')).at(-1)?.receivedAt.getTime() ?? Number.NaN;
    // The job's clock stands two days on; the timer itself runs in real time, once a second.
    const job = t.gateway.retention.start(1, () => new Date(lastReceived + 2 * DAY));
    try {
      await vi.waitFor(
        async () => expect((await stored(tenant.id)).map((e) => e.action)).toEqual(['audit.pruned']),
        {
          timeout: 15_000,
          interval: 200,
        },
      );
    } finally {
      await job.stop();
    }
    expect((await stored(tenant.id))[0]?.metadata).toMatchObject({
      via: 'retention-job',
      policy: 'P1D',
      removedEvents: 4,
    });
  });
});

describe.runIf(dbKind === 'postgres')('with two gateway instances on one database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const instances: Gateway[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    const secrets = testSecrets();
    for (let i = 0; i < 2; i++)
      instances.push(
        await openGateway({
          config: loadConfig({
            NODE_ENV: 'test',
            DEMO_SEED: 'false',
            LOG_LEVEL: 'silent',
            LOG_STREAMS: 'false',
            DATABASE_URL: database.url,
            RETENTION_DEFAULT: '30d',
            ...secrets,
          }),
          logger: pino({ level: 'silent' }),
        }),
      );
  });
  afterAll(async () => {
    for (const g of instances) await g.close();
    await database?.drop();
  });

  it('runs the job in one instance at a time, and prunes once', async () => {
    const [a, b] = instances as [Gateway, Gateway];
    const { createTenant } = await import('../src/auth/admin.ts');
    const tenant = await createTenant(a.database, 'two-instances');
    const operator = operatorViewer(tenant);
    let lastReceived = 0;
    for (let i = 0; i < 5; i++)
      lastReceived = (
        await a.audit.recordEvent(operator, { action: 'old.event' })
      ).event.receivedAt.getTime();
    const now = new Date(lastReceived + 30 * DAY + 1);

    // While one instance runs it, the other's run does nothing.
    let inner: Awaited<ReturnType<Gateway['retention']['apply']>> | undefined;
    const outer = await a.database.exclusive('retention', async () => {
      inner = await b.retention.apply(now);
    });
    expect(outer).toBe(true);
    expect(inner).toEqual({ ran: false, pruned: [], held: [], failed: [] });

    // Both at once: the events are pruned once, by whichever ran first.
    const runs = await Promise.all([a.retention.apply(now), b.retention.apply(now)]);
    expect(runs.some((r) => r.ran)).toBe(true);
    expect(runs.flatMap((r) => r.pruned).map((p) => p.result.removed)).toEqual([5]);
    const report = await b.chain.verify(operator);
    expect(report).toMatchObject({ status: 'intact', from: 6, headSequence: 6 });
  });

  it('a hold placed while a prune is under way is seen by that prune', async () => {
    const [a, b] = instances as [Gateway, Gateway];
    const { createTenant } = await import('../src/auth/admin.ts');
    const tenant = await createTenant(a.database, 'hold-race');
    const operator = operatorViewer(tenant);
    for (let i = 0; i < 3; i++) await a.audit.recordEvent(operator, { action: 'old.event' });
    const cutoff = new Date(Date.now() + 1);
    pastMillisecond(cutoff);
    // The hold's transaction holds the tenant's row until we let it commit.
    let commit: () => void = () => {};
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const hold = a.database.admin(async (tx) => {
      await changeLegalHold(tx, tenant.id, () => ({ since: new Date(), by: 'alice', reason: 'race' }));
      locked();
      await new Promise<void>((resolve) => {
        commit = resolve;
      });
    });
    await isLocked;
    const prune = b.chain.prune(operatorViewer(tenant), b.database, cutoff).then(
      () => 'pruned',
      (e: unknown) => e,
    );
    // The prune reads no hold yet (uncommitted), then waits on the tenant's row to delete.
    await vi.waitFor(
      async () => {
        const [waiting] = await a.database.admin((tx) =>
          rows<{ n: string }>(tx, sql`select count(*) as n from pg_locks where not granted`),
        );
        expect(Number(waiting?.n)).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 20 },
    );
    commit();
    await hold;
    const outcome = await prune;
    expect(outcome).toBeInstanceOf(ConflictError);
    expect(await a.audit.countEvents(operator, {})).toBe(3);
  });
});
