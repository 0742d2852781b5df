// Time partitions (issue 15 §1, drizzle/0008_time_partitions.sql, docs/scaling.md#time-partitions).
// On Postgres: the events table is partitioned by month of received_at, a range read is pruned to
// its months in EXPLAIN, a partition cannot be changed behind the parent's back, a month every
// tenant is past is dropped whole (anchors, recorded prunes, rollups and verification as for a
// row-by-row prune), a month is kept whole when any tenant in it must keep it, and a table
// written before the migration is converted with every event intact. On PGlite: unpartitioned.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH, sealEvent } from '../src/audit/chain.ts';
import type { PruneInitiator } from '../src/audit/chain-service.ts';
import { type Partition, partitionsEndingBy } from '../src/audit/repository/partitions.ts';
import { operatorViewer, type Viewer } from '../src/audit/viewer.ts';
import { ConflictError } from '../src/errors.ts';
import { createTestDatabase, dbKind, startTestGateway, type TestGateway } from './support/gateway.ts';
import { rows } from './support/superuser.ts';

const alice = { id: 'alice', type: 'OPERATOR' } as const;
const by: PruneInitiator = { actor: alice, via: 'cli' };

/** This month's partition, as `pruneMonth` takes it. */
function thisMonth(): Partition {
  const now = new Date();
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const name = `audit_events_${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
  return { name, from, to };
}

async function owner<T>(t: TestGateway, query: ReturnType<typeof sql>): Promise<T[]> {
  return t.gateway.database.admin((tx) => rows<T>(tx, query));
}

async function partitionNames(t: TestGateway): Promise<string[]> {
  const found = await owner<{ name: string }>(
    t,
    sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'public.audit_events'::regclass order by 1`,
  );
  return found.map((r) => r.name);
}

async function storedActions(t: TestGateway, tenantId: number): Promise<string[]> {
  const found = await owner<{ action: string }>(
    t,
    sql`select action from audit_events where tenant_id = ${tenantId} order by seq`,
  );
  return found.map((r) => r.action);
}

async function record(t: TestGateway, tenant: { id: number; slug: string }, n: number) {
  for (let i = 0; i < n; i++)
    await t.gateway.audit.recordEvent(operatorViewer(tenant), {
      action: i % 2 ? 'doc.read' : 'doc.write',
      actor: { id: `u${i % 3}` },
      idempotencyKey: `k-${i}`,
    });
}

/** The rollups (what eventCounts reads) agree with a count of the stored events, per action. */
async function rollupsAgree(t: TestGateway, tenantId: number): Promise<void> {
  const counted = await owner<{ action: string; n: string }>(
    t,
    sql`select action, count(*) as n from audit_events where tenant_id = ${tenantId} group by 1 order by 1`,
  );
  const rolled = await owner<{ action: string; n: string }>(
    t,
    sql`select action, sum(events) as n from audit_counts_hour_action
         where tenant_id = ${tenantId} group by 1 having sum(events) > 0 order by 1`,
  );
  expect(rolled.map((r) => [r.action, Number(r.n)])).toEqual(counted.map((r) => [r.action, Number(r.n)]));
}

describe.skipIf(dbKind !== 'pglite')('the embedded database', () => {
  it('stays unpartitioned', async () => {
    const t = await startTestGateway();
    try {
      const [kind] = await owner<{ relkind: string }>(
        t,
        sql`select relkind from pg_class where oid = 'public.audit_events'::regclass`,
      );
      expect(kind?.relkind).toBe('r');
      expect(await t.gateway.retention.ensurePartitions()).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(dbKind !== 'postgres')('time partitions', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  it('partition the events by month of receipt, this month through three ahead, plus a default', async () => {
    const names = await partitionNames(t);
    expect(names).toContain(thisMonth().name);
    expect(names).toContain('audit_events_default');
    expect(names.filter((n) => /^audit_events_\d{4}_\d{2}$/.test(n)).length).toBeGreaterThanOrEqual(4);
    // The job's round creates nothing that exists; a month further out is added.
    expect(await t.gateway.retention.ensurePartitions()).toBe(0);
    const later = new Date(Date.now() + 150 * 86_400_000);
    expect(await t.gateway.retention.ensurePartitions(later)).toBeGreaterThan(0);
  });

  it('read their months back as UTC instants, whatever time zone the session prints in', async () => {
    const month = thisMonth();
    const found = await t.gateway.database.admin(async (tx) => {
      await tx.execute(sql`set local timezone = 'Asia/Kolkata'`);
      return partitionsEndingBy(tx, month.to);
    });
    expect(found.at(-1)).toEqual(month);
  });

  it('prune a read on receipt time to the months it names, visibly in EXPLAIN', async () => {
    const month = thisMonth();
    const plan = await owner<{ 'QUERY PLAN': string }>(
      t,
      sql`explain select id from audit_events
           where received_at >= ${month.from.toISOString()}::timestamptz and received_at < ${month.to.toISOString()}::timestamptz`,
    );
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    const scanned = new Set(text.match(/\baudit_events_(\d{4}_\d{2}|default)\b/g));
    expect([...scanned]).toEqual([month.name]);
  });

  it('refuse a change, a removal or a truncation aimed at a partition itself, and the serving role cannot name one', async () => {
    const tenant = await t.newTenant('direct');
    await record(t, tenant, 1);
    const name = thisMonth().name;
    for (const statement of [`update ${name} set action = 'x'`, `delete from ${name}`, `truncate ${name}`]) {
      const refused = await owner(t, sql.raw(statement)).then(
        () => new Error('accepted'),
        (e: Error) => (e.cause as Error | undefined) ?? e,
      );
      expect(refused.message).toMatch(/append-only/);
    }
    const client = postgres(t.adminUrl as string, { max: 1, onnotice: () => {} });
    try {
      await expect(
        client.begin(async (tx) => {
          await tx.unsafe('set local role audit_gateway');
          return tx.unsafe(`select count(*) from ${name}`);
        }),
      ).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
    expect(await storedActions(t, tenant.id)).toEqual(['doc.write']);
  });
});

describe.skipIf(dbKind !== 'postgres')('pruning a whole month', () => {
  // Each case has a database of its own: a month holds every tenant of its database.
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  const plan = (tenants: { id: number; slug: string }[], cutoff: Date) =>
    new Map(tenants.map((x) => [x.id, { viewer: operatorViewer(x) as Viewer, cutoff, by }] as const));

  it('keeps the month whole while one tenant in it must keep its events, or is on hold', async () => {
    const a = await t.newTenant('keep-a');
    const b = await t.newTenant('keep-b');
    await record(t, a, 3);
    await record(t, b, 2);
    const month = thisMonth();
    // b is not being pruned at all.
    expect(await t.gateway.chain.pruneMonth(t.gateway.database, month, plan([a], month.to))).toEqual({
      kept: `tenant ${b.id} is not being pruned`,
    });
    // b's cutoff falls inside the month.
    const early = new Map([...plan([a], month.to), ...plan([b], new Date(month.to.getTime() - 1000))]);
    expect(await t.gateway.chain.pruneMonth(t.gateway.database, month, early)).toMatchObject({
      kept: expect.stringContaining(b.slug),
    });
    // b is on hold: the hold is read under the lock, and the whole drop rolls back.
    await t.gateway.retention.placeHold(operatorViewer(b), alice, 'subpoena 7');
    const everyone = await t.gateway.database.admin((tx) =>
      rows<{ id: number; slug: string }>(tx, sql`select id, slug from tenants`),
    );
    await expect(
      t.gateway.chain.pruneMonth(t.gateway.database, month, plan(everyone, month.to)),
    ).rejects.toThrow(ConflictError);
    expect(await partitionNames(t)).toContain(month.name);
    expect(await storedActions(t, a.id)).toHaveLength(3);
    const anchors = await owner<{ n: string }>(
      t,
      sql`select count(*) as n from chain_checkpoints where kind = 'anchor'`,
    );
    expect(Number(anchors[0]?.n)).toBe(0);
    await t.gateway.retention.liftHold(operatorViewer(b), alice, 'case closed');
  });

  it('drops it when every tenant in it is past it: each tenant anchored, its prune recorded, its chain intact', async () => {
    const everyone = await t.gateway.database.admin((tx) =>
      rows<{ id: number; slug: string }>(tx, sql`select id, slug from tenants order by id`),
    );
    const before = new Map<number, string[]>();
    for (const x of everyone) before.set(x.id, await storedActions(t, x.id));
    const month = thisMonth();
    const outcome = await t.gateway.chain.pruneMonth(t.gateway.database, month, plan(everyone, month.to));
    if (!('pruned' in outcome)) throw new Error(`kept: ${outcome.kept}`);
    expect(await partitionNames(t)).not.toContain(month.name);
    expect(outcome.pruned.map((p) => p.viewer.tenantId).sort()).toEqual(
      everyone
        .filter((x) => (before.get(x.id)?.length ?? 0) > 0)
        .map((x) => x.id)
        .sort(),
    );
    for (const { viewer, result } of outcome.pruned) {
      const had = before.get(viewer.tenantId) ?? [];
      expect(result).toMatchObject({ fromSequence: 1, throughSequence: had.length, removed: had.length });
      // Only the recorded prune is left (received now, so in the default partition).
      expect(await storedActions(t, viewer.tenantId)).toEqual(['audit.pruned']);
      const report = await t.gateway.chain.verify(viewer);
      expect(report).toMatchObject({ status: 'intact', from: had.length + 1, eventsChecked: 1 });
      await rollupsAgree(t, viewer.tenantId);
      const [pruned] = await owner<{ metadata: Record<string, unknown> }>(
        t,
        sql`select metadata from audit_events where tenant_id = ${viewer.tenantId} and action = 'audit.pruned'`,
      );
      expect(pruned?.metadata).toMatchObject({
        fromSequence: 1,
        throughSequence: had.length,
        removedEvents: had.length,
        anchorHash: result.anchorHash,
      });
    }
    // The prune events live in the default partition: the month cannot be made again under them.
    const [inDefault] = await owner<{ n: string }>(t, sql`select count(*) as n from audit_events_default`);
    expect(Number(inDefault?.n)).toBe(outcome.pruned.length);
  });
});

describe.skipIf(dbKind !== 'postgres')('the retention job', () => {
  it('drops the month when every tenant is past it, and prunes the rest row by row', async () => {
    const t = await startTestGateway({ RETENTION_DEFAULT: '30d' });
    try {
      const a = await t.newTenant('job-a');
      const b = await t.newTenant('job-b');
      await record(t, a, 4);
      await record(t, b, 3);
      const month = thisMonth();
      // Thirty days after the month's end, both tenants' cutoffs are past it.
      const now = new Date(month.to.getTime() + 30 * 86_400_000);
      const run = await t.gateway.retention.apply(now);
      expect(run.failed).toEqual([]);
      expect(await partitionNames(t)).not.toContain(month.name);
      for (const [tenant, n] of [
        [a, 4],
        [b, 3],
      ] as const) {
        const mine = run.pruned.filter((p) => p.tenant === tenant.slug);
        // The month (dropped), then the prune event it recorded (received now, before the cutoff
        // the job's clock gives), row by row.
        expect(mine[0]?.result).toMatchObject({ fromSequence: 1, removed: n });
        expect(await t.gateway.chain.verify(operatorViewer(tenant))).toMatchObject({ status: 'intact' });
        expect((await storedActions(t, tenant.id)).at(-1)).toBe('audit.pruned');
      }
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(dbKind !== 'postgres')('converting a table written before partitions', () => {
  it('keeps every event, in a partition of its month, and the chain verifies', async () => {
    const database = await createTestDatabase();
    // The migrations as they stood before 0008.
    const folder = mkdtempSync(path.join(tmpdir(), 'agw-migrations-'));
    cpSync('drizzle', folder, { recursive: true });
    const journal = JSON.parse(readFileSync(path.join(folder, 'meta/_journal.json'), 'utf8')) as {
      entries: { tag: string }[];
    };
    journal.entries = journal.entries.filter((e) => e.tag < '0008');
    writeFileSync(path.join(folder, 'meta/_journal.json'), JSON.stringify(journal));
    const client = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle({ client }), { migrationsFolder: folder });
      const [{ relkind }] =
        (await client`select relkind from pg_class where oid = 'audit_events'::regclass`) as unknown as [
          { relkind: string },
        ];
      expect(relkind).toBe('r');
      // A tenant whose chain spans three months, written as the gateway writes one (canonical
      // text and SHA-256 links), straight into the old table.
      const [tenant] = await client`insert into tenants (slug) values ('before') returning id`;
      const tenantId = Number(tenant?.id);
      await client.unsafe(`alter table audit_events no force row level security`);
      let prev = GENESIS_HASH;
      for (let seq = 1; seq <= 90; seq++) {
        const at = new Date(Date.UTC(2026, 7, 1) + seq * 86_400_000 - 3_600_000);
        const event = {
          id: uuidv7(),
          tenantId,
          sequence: seq,
          action: 'old.event',
          name: null,
          title: null,
          description: null,
          actor: null,
          groupId: null,
          target: null,
          additionalId: null,
          feature: null,
          ipAddress: null,
          occurredAt: at,
          sentAt: null,
          receivedAt: at,
          metadata: {},
        };
        const { canonical, hash } = sealEvent(event, prev);
        await client`insert into audit_events (tenant_id, seq, id, action, occurred_at, received_at, metadata, canonical, hash)
          values (${tenantId}, ${seq}, ${event.id}::uuid, ${event.action}, ${at.toISOString()}::timestamptz, ${at.toISOString()}::timestamptz, '{}'::jsonb, ${canonical}, decode(${hash}, 'hex'))`;
        prev = hash;
      }
      await client`insert into chain_heads (tenant_id, seq, hash) values (${tenantId}, 90, decode(${prev}, 'hex'))`;
      await client.unsafe(`alter table audit_events force row level security`);
      const fingerprint = () =>
        client.begin(async (tx) => {
          await tx.unsafe(`select set_config('app.tenant_id', '${tenantId}', true)`);
          return tx.unsafe(
            `select seq, id, received_at, encode(hash, 'hex') as hash from audit_events order by seq`,
          );
        });
      const before = await fingerprint();
      expect(before).toHaveLength(90);

      const t = await startTestGateway({ DATABASE_URL: database.url });
      try {
        const [after] =
          (await client`select relkind from pg_class where oid = 'audit_events'::regclass`) as unknown as [
            { relkind: string },
          ];
        expect(after.relkind).toBe('p');
        expect(await fingerprint()).toEqual(before);
        const months = await client`
          select c.relname, count(e.*) as n from pg_inherits i join pg_class c on c.oid = i.inhrelid
            left join audit_events e on e.tableoid = c.oid
           where i.inhparent = 'audit_events'::regclass group by 1 order by 1`;
        const counts = Object.fromEntries(months.map((m) => [m.relname, Number(m.n)]));
        // One a day at 23:00 from August 1st: 31 in August, 30 in September, 29 in October.
        expect(counts).toMatchObject({
          audit_events_2026_08: 31,
          audit_events_2026_09: 30,
          audit_events_2026_10: 29,
          audit_events_default: 0,
        });
        const viewer = operatorViewer({ id: tenantId, slug: 'before' });
        expect(await t.gateway.chain.verify(viewer)).toMatchObject({ status: 'unsigned', eventsChecked: 90 });
        // Found by id although their ids (made now) do not carry their receipt time (August to
        // October): the lookup by id falls back to every partition for an id it missed.
        const ids = before.slice(0, 5).map((r) => r.id as string);
        const found = await t.gateway.audit.loadEvents(viewer, [...ids, uuidv7()]);
        expect(found.map((e) => e?.id ?? null)).toEqual([...ids, null]);
        // And it takes new events on the same chain.
        await t.gateway.audit.recordEvent(viewer, { action: 'after.conversion' });
        expect(await t.gateway.chain.verify(viewer)).toMatchObject({ eventsChecked: 91 });
      } finally {
        await t.close();
      }
    } finally {
      await client.end();
      await database.drop();
    }
  });
});
