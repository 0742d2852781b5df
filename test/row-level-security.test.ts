// Tenant isolation at the database level: the serving connection acts as `audit_gateway`, which is
// neither owner nor superuser, sees rows only for the tenant set in its transaction, and can
// never change or remove an event.
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertReads } from '../src/audit/repository/read-log.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { type Db, openDatabase } from '../src/db/client.ts';
import {
  createTestDatabase,
  startTestGateway,
  type TestGateway,
  type TestTenant,
} from './support/gateway.ts';
import { rows } from './support/superuser.ts';

let t: TestGateway;
let a: TestTenant;
let b: TestTenant;
let db: Db;

beforeAll(async () => {
  t = await startTestGateway();
  a = await t.newTenant('rls-a');
  b = await t.newTenant('rls-b');
  await t.gateway.audit.recordEvents(operatorViewer(a), [{ action: 'a1' }, { action: 'a2' }]);
  await t.gateway.audit.recordEvents(operatorViewer(b), [{ action: 'b1' }]);
  db = t.gateway.database.db;
});
afterAll(() => t?.close());

const query = <T>(q: ReturnType<typeof sql>) => t.gateway.database.rows<T>(q);

async function sqlError(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    const e = error as { code?: string; cause?: { code?: string; message?: string }; message: string };
    return `${e.code ?? e.cause?.code ?? ''} ${e.cause?.message ?? e.message}`;
  }
  return 'no error';
}

describe('row-level security', () => {
  it('serves as a role that is neither superuser, owner nor RLS-exempt', async () => {
    const [me] = await query<{
      current_user: string;
      rolsuper: boolean;
      rolbypassrls: boolean;
      owner: string;
    }>(sql`
      select current_user, r.rolsuper, r.rolbypassrls, pg_get_userbyid(c.relowner) as owner
        from pg_roles r, pg_class c where r.rolname = current_user and c.oid = 'audit_events'::regclass`);
    expect(me).toMatchObject({ current_user: 'audit_gateway', rolsuper: false, rolbypassrls: false });
    expect(me?.owner).not.toBe('audit_gateway');
    const forced = await query<{
      relname: string;
      relrowsecurity: boolean;
      relforcerowsecurity: boolean;
    }>(sql`
      select relname, relrowsecurity, relforcerowsecurity from pg_class
       where relname in ('audit_events', 'audit_catalog', 'chain_heads', 'chain_checkpoints', 'audit_reads',
                         'audit_counts_hour_action', 'audit_counts_day_actor', 'audit_counts_month_actor')
       order by relname`);
    expect(forced).toHaveLength(8);
    for (const table of forced)
      expect(table, table.relname).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
  });

  it('without a tenant setting a query sees no rows: not an error, not every row', async () => {
    const [none] = await query<{ n: string | number }>(sql`select count(*) as n from audit_events`);
    expect(Number(none?.n)).toBe(0);
    const emptied = await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', '', true)`);
      return rows<{ n: string }>(tx, sql`select count(*) as n from audit_events`);
    });
    expect(Number(emptied[0]?.n)).toBe(0);
  });

  it("with a tenant setting, only that tenant's rows exist, whatever the WHERE clause says", async () => {
    const seen = await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${String(a.id)}, true)`);
      return rows<{ tenant_id: number; action: string }>(
        tx,
        sql`select tenant_id, action from audit_events where true order by action`,
      );
    });
    expect(seen.map((r) => r.action)).toEqual(['a1', 'a2']);
    // The setting is transaction-local: the next transaction starts without it.
    const [after] = await query<{ n: string | number }>(sql`select count(*) as n from audit_events`);
    expect(Number(after?.n)).toBe(0);
  });

  it('cannot write into another tenant, nor UPDATE, DELETE or TRUNCATE events', async () => {
    const asA = (statement: ReturnType<typeof sql>) =>
      sqlError(() =>
        db.transaction(async (tx) => {
          await tx.execute(sql`select set_config('app.tenant_id', ${String(a.id)}, true)`);
          await tx.execute(statement);
        }),
      );
    expect(await asA(sql`update audit_events set action = 'x'`)).toMatch(/42501|permission denied/);
    expect(await asA(sql`delete from audit_events`)).toMatch(/42501|permission denied/);
    expect(await asA(sql`truncate audit_events`)).toMatch(/42501|permission denied/);
    expect(
      await asA(
        sql`insert into audit_catalog (tenant_id, target_kind, action, actor_type) values (${b.id}, '', 'smuggled', '')`,
      ),
    ).toMatch(/row-level security|42501/);
    // The count rollups: no row for another tenant, and no removing rows (only the owner rebuilds).
    expect(
      await asA(
        sql`insert into audit_counts_hour_action (tenant_id, hour, action, events) values (${b.id}, now(), 'smuggled', 1)`,
      ),
    ).toMatch(/row-level security|42501/);
    expect(await asA(sql`delete from audit_counts_day_actor`)).toMatch(/42501|permission denied/);
  });

  it("a tenant's count rollups hold only its own events", async () => {
    const seen = await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${String(a.id)}, true)`);
      return rows<{ action: string; events: string | number }>(
        tx,
        sql`select action, sum(events) as events from audit_counts_hour_action where true group by action order by action`,
      );
    });
    expect(seen.map((r) => [r.action, Number(r.events)])).toEqual([
      ['a1', 1],
      ['a2', 1],
    ]);
  });

  it("the read log's one-statement insert sets its tenant for that statement alone and cannot write another's", async () => {
    const read = (tenantId: number, id: string) => ({
      tenantId,
      at: new Date(),
      id,
      keyId: 'rls',
      surface: 'graphql',
      operation: 'Rls',
      kind: 'count',
      filter: {},
      clientAddress: '192.0.2.1',
      events: 0,
    });
    await insertReads(db, a.id, [read(a.id, '01900000-0000-7000-8000-00000000000a')]);
    expect(
      await sqlError(() => insertReads(db, a.id, [read(b.id, '01900000-0000-7000-8000-00000000000b')])),
    ).toMatch(/row-level security|42501/);
    // The setting did not outlive the statement.
    const [after] = await query<{ n: string | number }>(sql`select count(*) as n from audit_reads`);
    expect(Number(after?.n)).toBe(0);
    const stored = await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${String(a.id)}, true)`);
      return rows<{ id: string }>(tx, sql`select id from audit_reads where key_id = 'rls'`);
    });
    expect(stored.map((r) => r.id)).toEqual(['01900000-0000-7000-8000-00000000000a']);
  });

  it('even the owner cannot UPDATE or TRUNCATE events, and may DELETE only inside a prune', async () => {
    const asOwner = (statement: ReturnType<typeof sql>) =>
      sqlError(() => t.gateway.database.admin((tx) => tx.execute(statement)));
    expect(await asOwner(sql`update audit_events set action = 'x'`)).toMatch(/append-only/);
    expect(await asOwner(sql`delete from audit_events`)).toMatch(/append-only/);
    expect(await asOwner(sql`truncate audit_events`)).toMatch(/append-only/);
  });
});

describe.skipIf(process.env.TEST_DB !== 'postgres')('start-up checks on Postgres', () => {
  it('refuses to serve as a role that owns the events or may change them', async () => {
    for (const misconfiguration of [
      'alter table audit_events owner to audit_gateway',
      'grant update on audit_events to audit_gateway',
    ]) {
      const database = await createTestDatabase();
      try {
        await (await openDatabase({ url: database.url })).close(); // migrated and accepted
        const su = postgres(database.url, { max: 1, onnotice: () => {} });
        await drizzle({ client: su }).execute(sql.raw(misconfiguration));
        await su.end();
        const error = await sqlError(() => openDatabase({ url: database.url, migrate: false }));
        expect(error, misconfiguration).toMatch(/Refusing to serve/);
        expect(error).toMatch(
          misconfiguration.startsWith('alter') ? /owns the audit_events table/ : /may UPDATE/,
        );
      } finally {
        await database.drop();
      }
    }
  });
});
